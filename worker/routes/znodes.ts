/**
 * /v1/znodes/<path>: the znode API for callers that keep no session.
 * GET reads (view=data|stat|children|count|acl), POST creates, PUT sets data
 * (or, with view=acl, the ACL), DELETE deletes. ETag = the node's version.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { type ChangeScope, type Stat, ANY_VERSION, KeeperError, encodeData, limitsFromEnv, parseAclList } from "../../protocol/index.ts";
import { errorResponse } from "../http-errors.ts";
import { callerOf } from "../identity.ts";
import { checkedPath, createOpOf, dataOf, optionalInteger } from "../../protocol/op-parsing.ts";
import { httpOpParsing, parseIntegerText, preferredEncoding, readJsonObject } from "../request-body.ts";
import type { AppEnv } from "../app.ts";

const PREFIX = "/v1/znodes";

/** The znode path a URL names: everything after `prefix` (/v1/znodes), percent-decoded. */
export function znodePathOf(url: string, prefix = PREFIX): string {
  const raw = new URL(url).pathname.slice(prefix.length);
  try {
    return raw === "" ? "/" : decodeURIComponent(raw);
  } catch {
    throw new KeeperError("BadArguments", `path ${JSON.stringify(raw)} is not valid percent-encoding`);
  }
}

function etag(stat: Stat): string {
  return `"${stat.version}"`;
}

/**
 * The version a conditional request names: the body's, the query's, or If-Match
 * (an ETag, or `*`: any version, as ZooKeeper's -1).
 */
function versionOf(c: Context, fromBody?: number): number | undefined {
  const ifMatch = c.req.header("If-Match")?.trim();
  return fromBody ?? parseIntegerText(c.req.query("version"), "version") ?? (ifMatch === "*" ? ANY_VERSION : parseIntegerText(ifMatch, "If-Match"));
}

/** Long polls wait at most this long (and 30 s when `wait` is not given). */
export const MAX_WAIT_SECONDS = 60;
const DEFAULT_WAIT_SECONDS = 30;
export const INDEX_HEADER = "X-Edgekeeper-Index";

function waitMsOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_SECONDS * 1000;
  const seconds = Number(text.replace(/s$/, ""));
  if (!Number.isFinite(seconds) || seconds < 0) throw new KeeperError("BadArguments", `wait must be a number of seconds, got ${JSON.stringify(text)}`);
  return Math.min(seconds, MAX_WAIT_SECONDS) * 1000;
}

/** What a long poll on a view waits for. */
const WAIT_SCOPES: Record<string, ChangeScope | undefined> = { data: "node", stat: "node", children: "children" };

export const znodeRoutes = new Hono<AppEnv>();

znodeRoutes.get("/*", async (c) => {
  const path = checkedPath(znodePathOf(c.req.url), limitsFromEnv(c.env));
  const caller = await callerOf(c.req, c.env);
  const router = c.get("router");
  const view = c.req.query("view") ?? "data";
  // A blocking read, as Consul's: with ?index=<zxid from X-Edgekeeper-Index>, answer
  // once the node (or its children) changed after that zxid, or when `wait` runs out.
  const index = parseIntegerText(c.req.query("index"), "index");
  if (index !== undefined) {
    const scope = WAIT_SCOPES[view];
    if (!scope) throw new KeeperError("BadArguments", "index (a blocking read) works with view=data, stat or children");
    // Without READ on the node it is NoAuth at once, as a getData: a wait must not
    // tell when a node the caller may not read changed.
    const waited = await router.waitForChange(caller, path, scope, index, waitMsOf(c.req.query("wait")));
    if (!waited.ok) return errorResponse(c, waited.error);
  }
  const indexed = <T extends { zxid: number }>(out: T): T => {
    c.header(INDEX_HEADER, String(out.zxid));
    return out;
  };
  switch (view) {
    case "data": {
      const encoding = preferredEncoding(c.req.query("encoding"));
      const out = indexed(await router.execute(caller, { op: "getData", path }));
      if (!out.ok) return errorResponse(c, out.error);
      c.header("ETag", etag(out.value.stat));
      return c.json({ path, ...encodeData(out.value.data, encoding), stat: out.value.stat });
    }
    case "stat": {
      const out = indexed(await router.execute(caller, { op: "exists", path }));
      if (!out.ok) return errorResponse(c, out.error);
      if (!out.value.stat) return errorResponse(c, new KeeperError("NoNode", undefined, path).toBody());
      c.header("ETag", etag(out.value.stat));
      return c.json({ path, stat: out.value.stat });
    }
    case "children": {
      const out = indexed(await router.execute(caller, { op: "getChildren", path }));
      if (!out.ok) return errorResponse(c, out.error);
      return c.json({ path, children: out.value.children, stat: out.value.stat });
    }
    case "count": {
      const out = await router.countDescendants(caller, path);
      if (!out.ok) return errorResponse(c, out.error);
      return c.json({ path, count: out.value.count });
    }
    case "acl": {
      const out = await router.execute(caller, { op: "getACL", path });
      if (!out.ok) return errorResponse(c, out.error);
      return c.json({ path, acl: out.value.acl, stat: out.value.stat });
    }
    default:
      throw new KeeperError("BadArguments", `unknown view ${JSON.stringify(view)}; use data, stat, children, count or acl`);
  }
});

znodeRoutes.post("/*", async (c) => {
  const limits = limitsFromEnv(c.env);
  const path = znodePathOf(c.req.url);
  const body = await readJsonObject(c, limits.maxRequestBytes);
  const caller = await callerOf(c.req, c.env);
  const out = await c.get("router").execute(caller, createOpOf(path, body, httpOpParsing(limits)));
  if (!out.ok) return errorResponse(c, out.error);
  c.header("Location", `${PREFIX}${out.value.path.split("/").map(encodeURIComponent).join("/")}`);
  c.header("ETag", etag(out.value.stat));
  return c.json({ path: out.value.path, stat: out.value.stat }, 201);
});

znodeRoutes.put("/*", async (c) => {
  const limits = limitsFromEnv(c.env);
  const path = checkedPath(znodePathOf(c.req.url), limits);
  const body = await readJsonObject(c, limits.maxRequestBytes);
  const caller = await callerOf(c.req, c.env);
  const router = c.get("router");
  const view = c.req.query("view") ?? "data";
  if (view !== "data" && view !== "acl") throw new KeeperError("BadArguments", `unknown view ${JSON.stringify(view)} for PUT; use data or acl`);
  if (view === "acl" && c.req.header("If-Match") !== undefined) {
    // The ETag is the data version; setACL compares the ACL version (aversion).
    throw new KeeperError("BadArguments", "If-Match names the data version; give the ACL version as version (body or ?version=)");
  }
  const version = versionOf(c, optionalInteger(body, "version"));
  if (view === "acl") {
    const acl = parseAclList(body.acl);
    const out = await router.execute(caller, version === undefined ? { op: "setACL", path, acl } : { op: "setACL", path, acl, version });
    if (!out.ok) return errorResponse(c, out.error);
    return c.json({ path, stat: out.value.stat });
  }
  const data = dataOf(body, "per-op");
  const out = await router.execute(caller, version === undefined ? { op: "setData", path, data } : { op: "setData", path, data, version });
  if (!out.ok) return errorResponse(c, out.error);
  c.header("ETag", etag(out.value.stat));
  return c.json({ path, stat: out.value.stat });
});

znodeRoutes.delete("/*", async (c) => {
  const path = checkedPath(znodePathOf(c.req.url), limitsFromEnv(c.env));
  const caller = await callerOf(c.req, c.env);
  const version = versionOf(c);
  const out = await c.get("router").execute(caller, version === undefined ? { op: "delete", path } : { op: "delete", path, version });
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ path });
});
