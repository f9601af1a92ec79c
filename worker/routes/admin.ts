/**
 * /v1/admin/mounts: the namespace's mount table, and mounting a subtree on a shard of its own.
 */
import { Hono } from "hono";
import { limitsFromEnv } from "../../protocol/index.ts";
import type { AppEnv } from "../app.ts";
import { errorResponse } from "../http-errors.ts";
import { readJsonObject, requiredString } from "../request-body.ts";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.get("/mounts", async (c) => c.json(await c.get("router").table(true)));

adminRoutes.post("/mounts", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const out = await c.get("router").mount(requiredString(body, "prefix"));
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ mount: out.mount, table: out.table }, 201);
});
