/**
 * GET /v1/admin/shards lists a shard's read replicas once reads have started them:
 * each one's region, applied zxid, lag behind its leader, time since contact and its
 * pulls, pushes, entries applied and rows written since it started.
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { RegionLink } from "../../durable/base/region-link.ts";
import { shardPlacements } from "../../durable/directory/shard-placement.ts";
import { shardObjectName } from "../../durable/env.ts";
import { ANON, bytes, lastZxid, ok } from "../harness/shard.ts";
import { readAt } from "../harness/replica.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { uniqueNamespace } from "../harness/http.ts";

// As npm start --regions runs the Worker, with no delay drawn (the route's answer is what is checked).
const regions = { ...env, EDGEKEEPER_REGIONS: "enam,weur,apac" };
const link = RegionLink.at(regions, undefined, { wait: async () => undefined, random: () => 0 });

it("lists the replicas reads have started, with their applied zxid, lag, time since contact and counters", async () => {
  const namespace = uniqueNamespace();
  const leaderName = shardObjectName(namespace, "root");
  const leader = env.SHARD.get(env.SHARD.idFromName(leaderName));
  await ok(leader, ANON, { op: "create", path: "/a", data: bytes("x") });
  expect((await shardPlacements(regions, link, namespace)).shards[0]!.replicas).toEqual([]);

  const zxid = await lastZxid(leader);
  const answer = await readAt(env.SHARD.get(env.SHARD.idFromName(replicaObjectName(leaderName, "apac"))), zxid);
  expect(answer.ready).toBe(true);
  const [root] = (await shardPlacements(regions, link, namespace)).shards;
  const counters = { pulls: expect.any(Number), pushes: expect.any(Number), entriesApplied: expect.any(Number), rowsWritten: expect.any(Number) };
  expect(root!.replicas).toEqual([{ region: "apac", appliedZxid: zxid, lagZxids: 0, msSinceContact: expect.any(Number), ...counters }]);
  const { pulls, rowsWritten } = root!.replicas[0]!;
  // Its first read started it: it has pulled its leader's log and written its rows.
  expect(pulls).toBeGreaterThan(0);
  expect(rowsWritten).toBeGreaterThan(0);
});
