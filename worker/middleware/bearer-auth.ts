/**
 * A deployed Worker refuses every request without the bearer token set as the
 * EDGEKEEPER_TOKEN secret (`npx wrangler secret put EDGEKEEPER_TOKEN`). Without a
 * secret it refuses everything, unless it runs locally (EDGEKEEPER_LOCAL=1, set by
 * `npm start` and the tests, which bind to loopback only).
 */
import type { MiddlewareHandler } from "hono";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { KeeperError } from "../../protocol/index.ts";

/** Compares in time independent of where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The one route that may carry the token as `?token=` (browsers cannot set headers on a WebSocket). */
export const SOCKET_PATH = "/v1/sessions/socket";

export function bearerAuth(): MiddlewareHandler<{ Bindings: EdgekeeperEnv }> {
  return async (c, next) => {
    const token = c.env.EDGEKEEPER_TOKEN;
    if (token) {
      // The scheme name is case-insensitive (RFC 9110 §11.1).
      const match = /^Bearer (.*)$/i.exec(c.req.header("Authorization") ?? "");
      const given = match?.[1] ?? (c.req.path === SOCKET_PATH ? c.req.query("token") : undefined) ?? "";
      if (!sameSecret(given, token)) throw new KeeperError("AuthFailed", "missing or wrong bearer token (Authorization: Bearer <EDGEKEEPER_TOKEN>)");
    } else if (c.env.EDGEKEEPER_LOCAL !== "1") {
      throw new KeeperError("AuthFailed", "this deployment has no EDGEKEEPER_TOKEN secret: set one with `npx wrangler secret put EDGEKEEPER_TOKEN`");
    }
    await next();
  };
}
