/**
 * /v1/admin/snapshot and /v1/admin/restore: backup and restore of a namespace, in
 * pages, for `npx edgekeeper snapshot` (the admin right is checked before these
 * run: middleware/authorize.ts). The file format is protocol/snapshot.ts; how a
 * save stays consistent and a failed restore leaves nothing is in
 * docs/architecture.md, "Backup and restore".
 */
import { Hono } from "hono";
import { settingsFromEnv } from "../../durable/base/settings.ts";
import type { RestoreOutcome, RestoreShard } from "../../durable/directory/directory-do.ts";
import { SnapshotRouter } from "../../durable/directory/snapshot-router.ts";
import { KeeperError, limitsFromEnv, parseAclList, parseSnapshotHeader } from "../../protocol/index.ts";
import type { AppEnv } from "../app.ts";
import { errorResponse } from "../http-errors.ts";
import { callerOf } from "../identity.ts";
import type { JsonObject } from "../../protocol/op-parsing.ts";
import { readJsonObject } from "../request-body.ts";

export const snapshotRoutes = new Hono<AppEnv>();

const snapshots = (c: { env: AppEnv["Bindings"]; get(key: "namespace"): string }) => new SnapshotRouter(c.env, c.get("namespace"));

/** POST /v1/admin/snapshot: copies every shard at its last zxid; answers {id, namespace, created, shards}. */
snapshotRoutes.post("/snapshot", async (c) => c.json(await snapshots(c).beginSave(), 201));

/**
 * GET /v1/admin/snapshot/<id>/page?prefix=/&after=: the next nodes of one shard's copy,
 * in path order; NoAuth if one of them refuses the caller READ (X-Edgekeeper-Auth: super reads all).
 */
snapshotRoutes.get("/snapshot/:id/page", async (c) => {
  const prefix = c.req.query("prefix") ?? "/";
  const after = c.req.query("after") ?? "";
  const maxBytes = settingsFromEnv(c.env).snapshotPageBytes;
  return c.json(await snapshots(c).savePage(await callerOf(c.req, c.env), c.req.param("id"), prefix, after, maxBytes));
});

/** POST /v1/admin/restore {header, mountAcls}: begins a restore into this (empty) namespace. */
snapshotRoutes.post("/restore", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const header = parseSnapshotHeader(body.header);
  const acls = (body.mountAcls ?? {}) as JsonObject;
  if (typeof acls !== "object" || Array.isArray(acls)) throw new KeeperError("BadArguments", "mountAcls must map each mount point to its ACL");
  const shards = header.shards.map(({ prefix, zxid }): RestoreShard => (prefix === "/" || acls[prefix] === undefined ? { prefix, zxid } : { prefix, zxid, acl: parseAclList(acls[prefix]) }));
  return answer(c, await snapshots(c).beginRestore(shards));
});

/** POST /v1/admin/restore/nodes {nodes}: writes saved nodes as given; a refused one undoes the restore. */
snapshotRoutes.post("/restore/nodes", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  if (!Array.isArray(body.nodes)) throw new KeeperError("BadArguments", "nodes must be a list of snapshot node lines");
  const nodes = body.nodes.map((n: unknown) => (typeof n === "object" && n !== null ? (n as JsonObject) : {}));
  return answer(c, await snapshots(c).restoreNodes(nodes));
});

/** POST /v1/admin/restore/finish: checks the restored tree and ends the restore (a failed check undoes it). */
snapshotRoutes.post("/restore/finish", async (c) => answer(c, await snapshots(c).finishRestore()));

/** POST /v1/admin/restore/abort: undoes a restore in progress; the namespace is left empty. */
snapshotRoutes.post("/restore/abort", async (c) => answer(c, await snapshots(c).abortRestore()));

function answer(c: Parameters<typeof errorResponse>[0], outcome: RestoreOutcome): Response {
  return outcome.ok ? c.json({ table: outcome.table }) : errorResponse(c, outcome.error);
}
