/**
 * Who may reach /v1: a request carries a bearer token (worker/tokens.ts:
 * EDGEKEEPER_TOKENS' scoped tokens, or the EDGEKEEPER_TOKEN admin token), and its
 * grant is kept for `authorize`. Without a configured token a deployed Worker
 * refuses everything; a local one (EDGEKEEPER_LOCAL=1, set by `npm start` and the
 * tests, which bind to loopback only) grants everything.
 */
import type { MiddlewareHandler } from "hono";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { type Grant, grantOf } from "../tokens.ts";

/** The one route that may carry the token as `?token=` (browsers cannot set headers on a WebSocket). */
export const SOCKET_PATH = "/v1/sessions/socket";

export function bearerAuth(): MiddlewareHandler<{ Bindings: EdgekeeperEnv; Variables: { grant: Grant } }> {
  return async (c, next) => {
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    const match = /^Bearer (.*)$/i.exec(c.req.header("Authorization") ?? "");
    const given = match?.[1] ?? (c.req.path === SOCKET_PATH ? c.req.query("token") : undefined);
    c.set("grant", await grantOf(c.env, given));
    await next();
  };
}
