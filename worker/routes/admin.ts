/**
 * /v1/admin/mounts: the namespace's mount table, mounting a subtree on a shard of
 * its own, and unmounting an empty one. /v1/admin/shards: where the shards live, and
 * moving a shard's leader to another region. The admin right is checked before these
 * routes run (middleware/authorize.ts); the ACL of the mount point's parent holds
 * besides (CREATE to mount, DELETE to unmount), as for a create or delete.
 */
import { Hono } from "hono";
import { shardPlacements } from "../../durable/directory/shard-placement.ts";
import { KeeperError, limitsFromEnv } from "../../protocol/index.ts";
import { copyRegion } from "../../durable/replication/replica-name.ts";
import { regionsDown, setRegionDown } from "../../durable/base/region-link.ts";
import type { AppEnv } from "../app.ts";
import { errorResponse } from "../http-errors.ts";
import { callerOf } from "../identity.ts";
import { aclOf, checkedPath, requiredString } from "../../protocol/op-parsing.ts";
import { readJsonObject } from "../request-body.ts";
import { snapshotRoutes } from "./snapshot.ts";
import { znodePathOf } from "./znodes.ts";

const MOUNTS = "/v1/admin/mounts";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.route("/", snapshotRoutes);

adminRoutes.get("/mounts", async (c) => c.json(await c.get("router").table(true)));

/** Each shard's leader (region, epoch) and replicas, a page at a time (`?after=<prefix>`; durable/directory/shard-placement.ts). */
adminRoutes.get("/shards", async (c) => {
  const page = await shardPlacements(c.env, c.get("link"), c.get("namespace"), c.req.query("after"));
  return c.json({ namespace: c.get("namespace"), regions: c.get("link").regions ?? [], regionsDown: regionsDown(), ...page });
});

/**
 * Moves a shard's leader to its copy in another region, answering once the move has
 * ended (durable/directory/leader-moves.ts): 200 with the new leader, or, abandoned
 * with nothing lost (its target did not catch up, or its old leader did not seal),
 * NewConfigNoQuorum saying why and where the leader stays.
 */
adminRoutes.post("/shards/:shard/leader", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const region = requiredString(body, "region");
  const shard = c.req.param("shard");
  const namespace = c.get("namespace");
  const link = c.get("link");
  const out = await link.directory(namespace).moveLeader(namespace, shard, region);
  if (!out.ok) return errorResponse(c, out.error);
  const { outcome } = out;
  const leader = { region: copyRegion(outcome.leader, link.regions) ?? null, epoch: outcome.epoch };
  if (outcome.kind === "abandoned") return errorResponse(c, new KeeperError("NewConfigNoQuorum", `the move was abandoned, nothing lost: ${outcome.reason}; the leader stays in ${leader.region}`).toBody());
  return c.json({ shard, leader });
});

/**
 * Forces the shard's copy in `region` to lead without its leader (durable/directory/
 * geo-tier.ts): the writes the leader acknowledged that this copy had not applied are
 * lost, so `acceptDataLoss: true` must say so. 200 with the new leader and the zxid it
 * kept through; NewConfigNoQuorum while the copy cannot lead yet (the directory goes on).
 */
adminRoutes.post("/shards/:shard/promote", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const region = requiredString(body, "region");
  const shard = c.req.param("shard");
  const namespace = c.get("namespace");
  const link = c.get("link");
  const out = await link.directory(namespace).forcePromote(namespace, shard, region, body.acceptDataLoss);
  if (!out.ok) return errorResponse(c, out.error);
  const { outcome, failover } = out;
  if (outcome.kind === "waiting") return errorResponse(c, new KeeperError("NewConfigNoQuorum", `the promotion is under way, not done: ${outcome.reason}`).toBody());
  const leader = { region: copyRegion(outcome.leader, link.regions) ?? null, epoch: outcome.epoch };
  const warning = `forced: writes the old leader acknowledged after zxid ${failover?.keptThroughZxid ?? "?"} are lost; GET /v1/admin/shards shows them as failover.dropped once it is reached`;
  return c.json({ shard, leader, keptThroughZxid: failover?.keptThroughZxid ?? null, pending: outcome.pending.map((name) => copyRegion(name, link.regions) ?? name), warning });
});

/**
 * How a shard's leader is placed: `autoMove` (the directory moves it where its writes
 * come from), `preferredRegion` (where it belongs whatever the load; null: none) and
 * `tier` ("regional", or "geo": acknowledged once a second region holds each write,
 * and failed over when its region goes dark; durable/directory/geo-tier.ts).
 * Fields not given keep their value.
 */
adminRoutes.put("/shards/:shard", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const changes: { autoMove?: boolean; preferredRegion?: string | null; tier?: "regional" | "geo" } = {};
  if (body.tier !== undefined) {
    if (body.tier !== "regional" && body.tier !== "geo") throw new KeeperError("BadArguments", `tier must be "regional" or "geo", not ${JSON.stringify(body.tier)}`);
    changes.tier = body.tier;
  }
  if (body.autoMove !== undefined) {
    if (typeof body.autoMove !== "boolean") throw new KeeperError("MarshallingError", "autoMove must be true or false");
    changes.autoMove = body.autoMove;
  }
  if (body.preferredRegion !== undefined) changes.preferredRegion = body.preferredRegion === null ? null : requiredString(body, "preferredRegion");
  const shard = c.req.param("shard");
  const namespace = c.get("namespace");
  const out = await c.get("link").directory(namespace).configureLeader(namespace, shard, changes);
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ shard, tier: out.tier, syncReplicas: out.syncReplicas, ...out.settings });
});

/**
 * Simulated regions only (`npm start -- --regions ...`; 404 otherwise): cuts a region
 * off from the others (`down`) or restores it (`up`), as an outage would
 * (durable/base/region-link.ts), so that anyone can watch a geo-tier shard fail over.
 */
adminRoutes.post("/sim/regions/:region/:state{down|up}", async (c) => {
  const regions = c.get("link").regions;
  if (!regions) return c.notFound();
  const region = regions.find((r) => r === c.req.param("region"));
  if (!region) throw new KeeperError("BadArguments", `unknown region ${JSON.stringify(c.req.param("region"))}: the regions are ${regions.join(", ")}`);
  setRegionDown(region, c.req.param("state") === "down");
  return c.json({ regions, down: regionsDown() });
});

adminRoutes.post("/mounts", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const prefix = requiredString(body, "prefix");
  const acl = aclOf(body);
  const out = await c.get("router").mount(await callerOf(c.req, c.env), prefix, acl);
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ mount: out.mount, table: out.table }, 201);
});

/** DELETE /v1/admin/mounts/<prefix>: the prefix as a znode path, percent-encoded per component. */
adminRoutes.delete("/mounts/:prefix{.+}", async (c) => {
  const prefix = checkedPath(znodePathOf(c.req.url, MOUNTS), limitsFromEnv(c.env));
  const out = await c.get("router").unmount(await callerOf(c.req, c.env), prefix);
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ unmounted: out.mount, table: out.table });
});
