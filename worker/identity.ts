/**
 * Who an HTTP caller is to ZooKeeper's ACLs: an ip identity from the connection,
 * and a digest identity (plus super, when it matches the configured super digest)
 * from `X-Edgekeeper-Auth: digest user:password`.
 *
 * The address comes from the transport, never from the caller. Deployed, that is
 * `CF-Connecting-IP`, which Cloudflare's edge sets on every request from the
 * Internet, overwriting any the caller sent; a request without it (from another
 * Worker through a service binding) has no ip identity. Locally (`npm start`, the
 * tests) the header proves nothing: Miniflare passes a caller's own header through
 * and fills it in only when absent. There the server listens on loopback only, so
 * every caller is a loopback caller, and that is the address it gets.
 */
import type { Context } from "hono";
import type { EdgekeeperEnv } from "../durable/env.ts";
import { type Caller, type Id, KeeperError, authenticate, scopeAllows } from "../protocol/index.ts";
import type { AppEnv } from "./app.ts";

export const AUTH_HEADER = "X-Edgekeeper-Auth";

/** Where Cloudflare's edge puts the address of the client it accepted. */
const EDGE_CLIENT_ADDRESS_HEADER = "CF-Connecting-IP";
/** Every local caller's address (`npm start` binds 127.0.0.1 only). */
export const LOOPBACK_ADDRESS = "127.0.0.1";

/** What callerOf reads of a request. */
export interface RequestHeaders {
  header(name: string): string | undefined;
}

/**
 * The address of the client on the other end of the connection, if known.
 *
 * @example
 * clientAddressOf(c.req, c.env); // "203.0.113.9" deployed, "127.0.0.1" locally
 */
export function clientAddressOf(req: RequestHeaders, env: EdgekeeperEnv): string | undefined {
  if (env.EDGEKEEPER_LOCAL === "1") return LOOPBACK_ADDRESS;
  return req.header(EDGE_CLIENT_ADDRESS_HEADER) || undefined;
}

/**
 * Whether a session socket may name, per session, the address of a client it
 * relays (the wire bridge's TCP clients): only a caller the Worker trusts to
 * speak for others, one holding the admin right (an admin token, or any local
 * caller without tokens). A lesser token naming another address could pass ip ACLs.
 *
 * @example
 * if (mayRelayClientAddress(c)) target.searchParams.set("relay", "1");
 */
export function mayRelayClientAddress(c: Context<AppEnv>): boolean {
  return scopeAllows(c.get("grant").scope, "admin");
}

export async function callerOf(req: RequestHeaders, env: EdgekeeperEnv): Promise<Caller> {
  const address = clientAddressOf(req, env);
  const ids: Id[] = address === undefined ? [] : [{ scheme: "ip", id: address }];
  const auth = req.header(AUTH_HEADER);
  if (auth !== undefined) {
    const space = auth.indexOf(" ");
    if (space <= 0) throw new KeeperError("AuthFailed", `${AUTH_HEADER} must be "<scheme> <credentials>", e.g. "digest alice:secret"`);
    ids.push(...(await authenticate(auth.slice(0, space), auth.slice(space + 1), env.EDGEKEEPER_SUPER_DIGEST)));
  }
  return { sessionId: 0, ids };
}
