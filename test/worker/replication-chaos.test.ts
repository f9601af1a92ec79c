/**
 * Chaos under replication. In the workerd-chaos project (vitest.config.ts), where
 * every object sees EDGEKEEPER_REGIONS as under `npm start -- --regions` (the leader
 * in the first region, a replica in each other), session clients on the socket and
 * HTTP callers without a session, carrying bookmarks, write, read and watch two
 * shards in three regions while every object is aborted every ABORT_EVERY_MS,
 * ABORTS times. The clients (test/harness/chaos-clients.ts) retry as real ones do: a
 * socket that breaks is reopened and its session resumed with the client's
 * bookmark; an HTTP request whose connection broke is sent again. Then the history
 * is held to:
 * - the session guarantees, by the simulator's checker (test/sim/checkers/sessions.ts):
 *   monotonic reads and read-your-writes per caller and shard, each one-shot watch
 *   fired once, for the first change after its read, before any read showing it;
 * - persistent watches (checkPersistent, below): every change after the watch was set
 *   seen once, in zxid order, none its earlier read showed, each before any read
 *   showing it;
 * and, once the load has stopped, every replica's rows equal to its leader's.
 * Whichever copy serves a read (leader or replica), all of this must hold.
 */
import { abortAllDurableObjects, env } from "cloudflare:test";
import { expect, it } from "vitest";
import { shardObjectName } from "../../durable/env.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { CONSISTENCY_HEADER } from "../../protocol/index.ts";
import { parseRegions } from "../../protocol/regions.ts";
import { HttpCaller, History, type PersistentWatch, SessionClient, type Workload } from "../harness/chaos-clients.ts";
import { type DataJson, HttpClient, uniqueNamespace } from "../harness/http.ts";
import { caughtUp, stubsOf, znodes } from "../harness/replica.ts";
import { sleep } from "../harness/shard.ts";
import { checkSessions, describeCall } from "../sim/checkers/index.ts";
import type { Call } from "../sim/history.ts";
import { Prng } from "../sim/prng.ts";

/** The load runs through this many aborts of every object, one every ABORT_EVERY_MS (about 20 s). */
const ABORTS = 10;
const ABORT_EVERY_MS = 2_000;

const [LEADER_REGION, ...REPLICA_REGIONS] = env.EDGEKEEPER_REGIONS ? parseRegions(env.EDGEKEEPER_REGIONS) : [];

const MOUNT = "/m";
/** Paths every client writes and reads, on the root shard and on a mounted one; each session keeps a persistent watch on one of each. */
const PATHS = ["/k0", "/k1", "/k2", `${MOUNT}/k0`, `${MOUNT}/k1`, `${MOUNT}/k2`];
const PERSISTENT_PATHS = ["/k0", `${MOUNT}/k0`];

/**
 * A persistent watch's violations: events out of zxid order or twice, for a change at
 * or below addWatch's answer, after a read of the session that showed the change; and,
 * for a session still live, not one event per change after the state its read showed
 * (`final`: the node's state at the end, read at the leader).
 */
function checkPersistent(watch: PersistentWatch, reads: Call[], final: { version: number; mzxid: number } | undefined): string[] {
  const where = `session ${watch.session}'s persistent watch on ${watch.path}`;
  const found: string[] = [];
  const zxids = watch.events.map((e) => e.zxid);
  zxids.forEach((zxid, i) => {
    if (i > 0 && zxid <= zxids[i - 1]!) found.push(`${where}: event for zxid ${zxid} after one for ${zxids[i - 1]}`);
    if (watch.setZxid !== undefined && zxid <= watch.setZxid) found.push(`${where}: event for zxid ${zxid}, not after addWatch's zxid ${watch.setZxid}`);
  });
  // A copy of an event already heard is reported above; "before the data" is asked of first copies.
  const firsts = watch.events.filter((e, i) => watch.events.findIndex((f) => f.zxid === e.zxid) === i);
  for (const event of firsts) {
    const showing = reads.find((r) => r.session === watch.session && r.shard === watch.shard && r.result!.zxid >= event.zxid && r.returnedAt! < event.at);
    if (showing) found.push(`${where}: event for zxid ${event.zxid} came after ${describeCall(showing)}`);
  }
  if (final && watch.base) {
    const after = zxids.filter((z) => z > watch.base!.mzxid);
    if (after.length !== final.version - watch.base.version || (after.length > 0 && after.at(-1) !== final.mzxid)) {
      found.push(`${where}: ${after.length} events (last ${after.at(-1)}) after its read of version ${watch.base.version}, but the node went to version ${final.version} (mzxid ${final.mzxid})`);
    }
  }
  return found;
}

it("keeps the session guarantees and every replica equal to its leader while every object is aborted every 2 s under a mixed load", async () => {
  expect(REPLICA_REGIONS.length, "replicas in two regions at least (run in the workerd-chaos project)").toBeGreaterThanOrEqual(2);
  const setup = new HttpClient({ namespace: uniqueNamespace("chaos") });
  const mounted = await setup.mount(MOUNT);
  expect(mounted.status).toBe(201);
  const mountShard = (await mounted.json<{ mount: { shard: string } }>()).mount.shard;
  for (const path of PATHS) await setup.mustCreate(path, { data: "initial" });
  const workload: Workload = { mount: MOUNT, mountShard, paths: PATHS, persistentPaths: PERSISTENT_PATHS };
  const history = new History(workload);
  const namespace = setup.namespace;

  const [near, far] = REPLICA_REGIONS as [string, string];
  const sessions = [near, far, LEADER_REGION!, far].map((region, i) => new SessionClient(`s${i}-${region}`, namespace, region, history));
  const callers = [near, far, LEADER_REGION!].map((region, i) => new HttpCaller(`h${i}-${region}`, -(i + 1), namespace, region, history));
  for (const s of sessions) await s.start();

  let running = true;
  const loop = async (client: { step(prng: Prng): Promise<void> }, seed: number) => {
    const prng = new Prng(seed);
    while (running) await client.step(prng);
  };
  const loads = [...sessions, ...callers].map((client, i) => loop(client, 1000 + i));
  for (let aborts = 0; aborts < ABORTS; aborts++) {
    await sleep(ABORT_EVERY_MS);
    await abortAllDurableObjects();
  }
  running = false;
  await Promise.all(loads);
  for (const s of sessions) await s.settle();

  const leaderState = async (path: string) => {
    const res = await setup.get(path, {}, { [CONSISTENCY_HEADER]: "linearizable" });
    return (await res.json<DataJson>()).stat;
  };
  const calls = history.calls();
  const reads = calls.filter((c) => c.op.type === "read" && c.result !== undefined);
  const found = checkSessions(history.entries);
  const violations = found.map((v) => `${v.checker}: ${v.message}`);
  // The sessions a violation involves, whose traces are printed (a run does not replay).
  const involved = new Set(found.flatMap((v) => v.calls.map((id) => calls.find((c) => c.id === id)!.session)));
  for (const s of sessions) {
    const live = new Set(s.livePersistent());
    for (const watch of s.persistent) {
      const wrong = checkPersistent(watch, reads, live.has(watch) ? await leaderState(watch.path) : undefined);
      if (wrong.length > 0) involved.add(watch.session);
      violations.push(...wrong);
    }
  }
  const summary = {
    calls: calls.length,
    answered: calls.filter((c) => c.result !== undefined).length,
    oneShotFired: history.entries.filter((e) => e.kind === "watch-fired").length,
    persistentEvents: sessions.reduce((n, s) => n + s.persistent.reduce((m, w) => m + w.events.length, 0), 0),
    reconnects: sessions.reduce((n, s) => n + s.reconnects, 0),
    expirations: sessions.reduce((n, s) => n + s.expirations, 0),
    httpReadsByReplicas: callers.reduce((n, c) => n + c.servedByReplica, 0),
  };
  console.log(`replication chaos: ${JSON.stringify(summary)}`);
  for (const s of sessions) if (s.trace.some((line) => [...involved].some((id) => line.includes(`"sid":${id},`)))) console.log(`${s.label}:\n${s.trace.join("\n")}`);
  // Soft: the replicas' rows are compared whatever the history shows.
  expect.soft(violations).toEqual([]);
  // The load reached the replicas, and the sessions lived through the aborts.
  expect(summary.httpReadsByReplicas).toBeGreaterThan(0);
  expect(summary.reconnects).toBeGreaterThan(0);

  for (const shard of ["root", mountShard]) {
    const leaderName = shardObjectName(namespace, shard);
    for (const region of REPLICA_REGIONS) {
      const pair = { leaderName, leader: stubsOf(leaderName).leader, replica: env.SHARD.get(env.SHARD.idFromName(replicaObjectName(leaderName, region))) };
      await caughtUp(pair);
      expect(await znodes(pair.replica), `${shard}@${region}`).toEqual(await znodes(pair.leader));
    }
  }
}, 120_000);
