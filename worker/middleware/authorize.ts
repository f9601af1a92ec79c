/**
 * Holds a request to its token's grant (worker/tokens.ts), once its namespace is
 * known: the namespace must be one the token names, and the route must be within
 * the token's scope; both refusals are NoAuth (403). Then the namespace is admitted
 * under EDGEKEEPER_MAX_NAMESPACES (durable/directory/namespace-registry.ts).
 *
 * The scope a route needs is decided here, in one table, so a new route is a write
 * unless listed: reads, streams and sessions need `read`; `/v1/admin` and `/metrics` need `admin`,
 * or `write` with the super identity (X-Edgekeeper-Auth), as ZooKeeper's super.
 */
import type { Context, MiddlewareHandler } from "hono";
import { admitNamespace } from "../../durable/directory/namespace-registry.ts";
import { KeeperError, SUPER_ID, type Scope, scopeAllows } from "../../protocol/index.ts";
import type { AppEnv } from "../app.ts";
import { callerOf } from "../identity.ts";
import { grantCovers } from "../tokens.ts";

/** POST routes that change no znode. */
const READING_POSTS = [/^\/v1\/multi-read$/, /^\/v1\/sessions$/, /^\/v1\/sessions\/[^/]+\/keepalive$/];

/** The scope a request needs, by method and route. */
function scopeNeededByRoute(method: string, path: string): Scope {
  if (path === "/v1/admin" || path.startsWith("/v1/admin/") || path === "/metrics") return "admin";
  if (method === "GET" || method === "HEAD") return "read";
  if (method === "POST" && READING_POSTS.some((route) => route.test(path))) return "read";
  // Closing one's own session changes nothing but the session's ephemerals, as its expiry would.
  if (method === "DELETE" && /^\/v1\/sessions\/[^/]+$/.test(path)) return "read";
  return "write";
}

/** Whether the caller holds the admin right: an admin token, or a write token used as super. */
async function holdsAdmin(c: Context<AppEnv>): Promise<boolean> {
  const scope = c.get("grant").scope;
  if (scope === "admin") return true;
  if (scope !== "write") return false;
  const caller = await callerOf(c.req, c.env);
  return caller.ids.some((id) => id.scheme === SUPER_ID.scheme);
}

export function authorize(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const grant = c.get("grant");
    const namespace = c.get("namespace");
    if (!grantCovers(grant, namespace)) throw new KeeperError("NoAuth", `this token does not grant namespace ${namespace}`);
    const needed = scopeNeededByRoute(c.req.method, c.req.path);
    const allowed = needed === "admin" ? await holdsAdmin(c) : scopeAllows(grant.scope, needed);
    if (!allowed) throw new KeeperError("NoAuth", `this needs the ${needed} right; the token's scope is ${grant.scope}`);
    await admitNamespace(c.env, namespace);
    await next();
  };
}
