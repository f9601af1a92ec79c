/**
 * Who may reach the API from a browser. A web page the developer has open while
 * `npm start` runs must not be able to use it: not by opening the session socket
 * (cross-site WebSocket hijacking; browsers send no preflight for an upgrade), not
 * through a DNS name rebound to 127.0.0.1, not with a form or a no-preflight POST.
 *
 * - Host, locally (EDGEKEEPER_LOCAL=1) only: a loopback name (localhost, 127.0.0.1,
 *   [::1], any port) or one of EDGEKEEPER_ALLOWED_HOSTS; a rebound DNS name is
 *   refused. A deployed Worker is reached only through its own routes, so its Host
 *   is not checked.
 * - Origin, everywhere: absent (curl, servers, the clients and the bridge send
 *   none), the API's own (the page at /ui/), one of EDGEKEEPER_ALLOWED_ORIGINS, or,
 *   locally, a loopback origin.
 * - CORS: answered (preflight and headers) for EDGEKEEPER_ALLOWED_ORIGINS only.
 *
 * A refusal is NoAuth (403), before the bearer token or anything else is looked at.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { KeeperError } from "../../protocol/index.ts";

const LOOPBACK_HOSTNAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The response headers a page on an allowed origin may read. */
const EXPOSED_HEADERS = ["ETag", "Location", "X-Edgekeeper-Index", "X-Edgekeeper-Bookmark", "X-Edgekeeper-Served-By"];
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** A comma-separated setting as a set of lowercased entries. */
function listSetting(value: unknown): Set<string> {
  if (typeof value !== "string") return new Set();
  return new Set(value.split(",").map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== ""));
}

/** An origin as browsers send it (`scheme://host[:port]`), or undefined if it is not one (`null`, garbage). */
function parsedOrigin(origin: string): URL | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** EDGEKEEPER_ALLOWED_ORIGINS, each written as browsers send it (`https://app.example.com/` reads as `https://app.example.com`). */
function configuredOrigins(env: EdgekeeperEnv): Set<string> {
  return new Set([...listSetting(env.EDGEKEEPER_ALLOWED_ORIGINS)].map((entry) => parsedOrigin(entry)?.origin ?? entry));
}

function hostAllowed(requestUrl: URL, env: EdgekeeperEnv): boolean {
  return LOOPBACK_HOSTNAMES.has(requestUrl.hostname) || listSetting(env.EDGEKEEPER_ALLOWED_HOSTS).has(requestUrl.hostname);
}

/** Whether a page of `origin` may use the API (a configured origin is checked by the caller). */
function unconfiguredOriginAllowed(origin: URL, requestUrl: URL, env: EdgekeeperEnv): boolean {
  // Same host as the request (gorilla/websocket's default check): the API's own page at /ui/.
  if (origin.host === requestUrl.host) return true;
  return env.EDGEKEEPER_LOCAL === "1" && LOOPBACK_HOSTNAMES.has(origin.hostname);
}

/**
 * Refuses requests from hosts and origins that may not use the API; answers CORS
 * for the configured origins.
 *
 * @example
 * app.use("/v1/*", originGuard());
 */
export function originGuard(): MiddlewareHandler<{ Bindings: EdgekeeperEnv }> {
  const corsForConfiguredOrigin = cors({ origin: (origin) => origin, exposeHeaders: EXPOSED_HEADERS, maxAge: PREFLIGHT_MAX_AGE_SECONDS });
  return async (c, next) => {
    const requestUrl = new URL(c.req.url);
    if (c.env.EDGEKEEPER_LOCAL === "1" && !hostAllowed(requestUrl, c.env)) {
      throw new KeeperError("NoAuth", `host ${JSON.stringify(requestUrl.hostname)} may not use the local API: use 127.0.0.1 or localhost, or list it in EDGEKEEPER_ALLOWED_HOSTS`);
    }
    const origin = c.req.header("Origin");
    if (origin === undefined) return next();
    const url = parsedOrigin(origin);
    if (url && configuredOrigins(c.env).has(url.origin)) return corsForConfiguredOrigin(c, next);
    if (url && unconfiguredOriginAllowed(url, requestUrl, c.env)) return next();
    throw new KeeperError("NoAuth", `origin ${JSON.stringify(origin)} may not use this API: list it in EDGEKEEPER_ALLOWED_ORIGINS`);
  };
}
