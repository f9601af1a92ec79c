/**
 * Who an HTTP caller is to ZooKeeper's ACLs: an ip identity from the connection,
 * and a digest identity (plus super, when it matches the configured super digest)
 * from `X-Edgekeeper-Auth: digest user:password`.
 */
import type { EdgekeeperEnv } from "../durable/env.ts";
import { type Caller, type Id, KeeperError, authenticate } from "../protocol/index.ts";

export const AUTH_HEADER = "X-Edgekeeper-Auth";

/** What callerOf reads of a request. */
export interface RequestHeaders {
  header(name: string): string | undefined;
}

export async function callerOf(req: RequestHeaders, env: EdgekeeperEnv): Promise<Caller> {
  const ids: Id[] = [{ scheme: "ip", id: req.header("CF-Connecting-IP") ?? "127.0.0.1" }];
  const auth = req.header(AUTH_HEADER);
  if (auth !== undefined) {
    const space = auth.indexOf(" ");
    if (space <= 0) throw new KeeperError("AuthFailed", `${AUTH_HEADER} must be "<scheme> <credentials>", e.g. "digest alice:secret"`);
    ids.push(...(await authenticate(auth.slice(0, space), auth.slice(space + 1), env.EDGEKEEPER_SUPER_DIGEST)));
  }
  return { sessionId: 0, ids };
}
