/**
 * POST /v1/multi (atomic create/delete/setData/check) and POST /v1/multi-read.
 */
import { Hono } from "hono";
import { type DataEncoding, type MultiItemResult, encodeData, limitsFromEnv } from "../../protocol/index.ts";
import type { AppEnv } from "../app.ts";
import { errorResponse } from "../http-errors.ts";
import { callerOf } from "../identity.ts";
import { multiOpsOf, multiReadOpsOf } from "../../protocol/op-parsing.ts";
import { httpOpParsing, preferredEncoding, readJsonObject } from "../request-body.ts";

/** A per-op result as JSON: values encoded as the caller asked. */
function resultJson(result: MultiItemResult, encoding: DataEncoding): unknown {
  return result.op === "getData" ? { op: result.op, ...encodeData(result.data, encoding), stat: result.stat } : result;
}

export const multiRoutes = new Hono<AppEnv>();

multiRoutes.post("/multi", async (c) => {
  const limits = limitsFromEnv(c.env);
  const body = await readJsonObject(c, limits.maxRequestBytes);
  const ops = multiOpsOf(body, httpOpParsing(limits));
  const caller = await callerOf(c.req, c.env);
  const out = await c.get("router").execute(caller, { op: "multi", ops });
  if (!out.ok) return errorResponse(c, out.error, out.results ? { results: out.results } : {});
  return c.json({ results: out.value.results });
});

multiRoutes.post("/multi-read", async (c) => {
  const limits = limitsFromEnv(c.env);
  const encoding = preferredEncoding(c.req.query("encoding"));
  const body = await readJsonObject(c, limits.maxRequestBytes);
  const ops = multiReadOpsOf(body, httpOpParsing(limits));
  const caller = await callerOf(c.req, c.env);
  const out = await c.get("router").execute(caller, { op: "multiRead", ops });
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ results: out.value.results.map((r) => resultJson(r, encoding)) });
});
