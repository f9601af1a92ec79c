/**
 * The edgekeeper TypeScript client: `import { connect } from "edgekeeper/client"`.
 * Web-standard APIs only (WebSocket, TextEncoder, timers), so the same code runs in
 * Node 20+ (Node < 22: pass `WebSocket`), browsers and Workers. See docs/client.md.
 */
import { KeeperClient } from "./core/client.ts";
import { Session, type SessionOptions } from "./core/session.ts";

export { KeeperClient, type ClientEvents, type ClientState, type CreateOptions, type MultiReadResult, type ReadOptions, type WatchIterator, type WatchOption, type WatchReadOptions } from "./core/client.ts";
export type { ReadModeText } from "../protocol/read-modes.ts";
export type { ConnectionState } from "./core/states.ts";
export type { WatchEvent, WatchListener } from "./core/watches.ts";
export { Transaction, type TransactionOp, type TransactionResult } from "./core/transaction.ts";
export type { WebSocketConstructor, WebSocketLike } from "./core/socket.ts";
export type { BackoffOptions } from "./core/backoff.ts";
export type { Data } from "./core/wire.ts";
export type { KeeperErrorWithResults } from "./core/session.ts";
export type { HopRecord, HostHops } from "../protocol/hops.ts";
export { KeeperError, isKeeperError, type KeeperErrorName } from "../protocol/errors.ts";
export { OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, CREATOR_ALL_ACL, Perms, digestId, type Acl, type Id } from "../protocol/acl.ts";
export { ANY_VERSION } from "../protocol/operations.ts";
export type { CreateMode } from "../protocol/modes.ts";
export type { Stat } from "../protocol/stat.ts";
export type { WatchKind } from "../protocol/changes.ts";

export interface ConnectOptions extends SessionOptions {
  /** Identities to add right after connecting (and again on every resume), as `addauth` does. */
  auth?: { scheme: string; credentials: string }[];
}

/**
 * Opens a session on one of `servers` and resolves once it is open. Fails with
 * ConnectionLoss if no server answers within `connectTimeoutMs` (15 s), or with the
 * server's error (say, AuthFailed for a bad token or credentials).
 *
 * @example
 * import { connect } from "edgekeeper/client";
 *
 * const zk = await connect({ servers: ["http://127.0.0.1:8787"], sessionTimeoutMs: 10_000 });
 * zk.on("lost", () => console.warn("session expired: ephemerals are gone"));
 * await zk.create("/hello", "world", { mode: "EPHEMERAL" });
 * await zk.close();
 */
export async function connect(options: ConnectOptions): Promise<KeeperClient> {
  const session = new Session(options);
  const client = new KeeperClient(session);
  await session.start();
  try {
    await Promise.all((options.auth ?? []).map(({ scheme, credentials }) => client.addAuth(scheme, credentials)));
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
