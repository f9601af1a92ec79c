/**
 * /v1/admin/mounts: the namespace's mount table, mounting a subtree on a shard of
 * its own, and unmounting an empty one. /v1/admin/shards: where the shards live. The admin right is checked before these
 * routes run (middleware/authorize.ts); the ACL of the mount point's parent holds
 * besides (CREATE to mount, DELETE to unmount), as for a create or delete.
 */
import { Hono } from "hono";
import { shardPlacements } from "../../durable/directory/shard-placement.ts";
import { limitsFromEnv } from "../../protocol/index.ts";
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
  return c.json({ namespace: c.get("namespace"), regions: c.get("link").regions ?? [], ...page });
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
