/**
 * The session protocol over WebSocket, between a client (the TypeScript client,
 * the wire bridge, a browser) and a session host. Text frames of JSON; each frame
 * is an array of messages, so a client sends every request of one tick in one
 * frame and the host answers in as few (STACK.md: batching per frame gave 13-25x).
 *
 * The socket: GET /v1/sessions/socket (WebSocket upgrade), query parameters
 * (browsers cannot set headers on a WebSocket):
 *   namespace=<name>   as X-Edgekeeper-Namespace (default "default")
 *   token=<token>      as the bearer token, when deployed, from browsers only: where
 *                     headers can be set (Node), send Authorization: Bearer <token>
 *   session=<id>       to resume: the socket goes to the host that id names
 *   host=<hostNumber>  to open sessions on a given host (the bridge's one socket per host)
 * With neither session nor host, the Worker picks a host by location and hash.
 *
 * One socket may carry several sessions of its host; every message after connect
 * names its session (`sid`). Liveness: the client sends the text frame "ping" at
 * least every third of its timeout; the host answers "pong" without waking
 * (setWebSocketAutoResponse), and counts a socket's last ping as a sign of life of
 * every session on it.
 *
 * Values in messages (`data`) are base64 strings, or null for ZooKeeper's null value
 * (a node created with null data reads back null; omitted is empty). Paths, Stats, ACLs and errors are
 * as on the HTTP API (docs/api.md); error bodies carry ZooKeeper's names and codes.
 */
import type { Acl } from "./acl.ts";
import type { ChangeEventType, WatchKind } from "./changes.ts";
import type { KeeperErrorBody } from "./errors.ts";
import type { HostHops } from "./hops.ts";
import type { CreateMode } from "./modes.ts";

export const PING_FRAME = "ping";
export const PONG_FRAME = "pong";

/**
 * How much JSON a client puts in one frame (one message larger than this goes
 * alone): well within what a host takes (EDGEKEEPER_MAX_FRAME_BYTES, 4 MiB by
 * default, room for one value at the limit as base64), however many requests of
 * large values one tick sends.
 */
export const CLIENT_FRAME_BYTES = 1024 * 1024;

/**
 * Messages as JSON array frames of at most `maxBytes`, in order; an oversized message
 * alone in its frame. Sizes are JSON lengths in UTF-16 units: the bytes of base64
 * values and ASCII names, which is what makes a frame large.
 *
 * @example
 * framesOf([{ t: "closed", sid: 1, reason: "closed" }], 1024); // ['[{"t":"closed","sid":1,"reason":"closed"}]']
 */
export function framesOf(messages: readonly unknown[], maxBytes: number): string[] {
  const frames: string[] = [];
  let parts: string[] = [];
  let size = 2;
  for (const message of messages) {
    const json = JSON.stringify(message);
    if (parts.length > 0 && size + 1 + json.length > maxBytes) {
      frames.push(`[${parts.join(",")}]`);
      parts = [];
      size = 2;
    }
    parts.push(json);
    size += json.length + (parts.length > 1 ? 1 : 0);
  }
  if (parts.length > 0) frames.push(`[${parts.join(",")}]`);
  return frames;
}

/** A znode operation in a session, as JSON (values as base64). */
export type SessionOp =
  | { op: "create"; path: string; data?: string | null; acl?: Acl[]; mode?: CreateMode; ttlMs?: number }
  | { op: "delete"; path: string; version?: number }
  | { op: "setData"; path: string; data: string | null; version?: number }
  | { op: "check"; path: string; version?: number }
  | { op: "setACL"; path: string; acl: Acl[]; version?: number }
  | { op: "multi"; ops: Extract<SessionOp, { op: "create" | "delete" | "setData" | "check" }>[] }
  | { op: "getData"; path: string; watch?: boolean }
  | { op: "exists"; path: string; watch?: boolean }
  | { op: "getChildren"; path: string; watch?: boolean }
  | { op: "getAllChildrenNumber"; path: string }
  | { op: "getEphemerals"; prefix: string }
  | { op: "getACL"; path: string }
  | { op: "multiRead"; ops: { op: "getData" | "getChildren"; path: string }[] }
  /** Every write committed before it (on the path's shard) is visible to the session's next read. */
  | { op: "sync"; path: string }
  /** A persistent watch; `recursive` also sees every descendant (no child events). */
  | { op: "addWatch"; path: string; mode: "persistent" | "recursive" }
  /** Removes the session's watches on a path: one kind, or all ("any"); NoWatcher if none. */
  | { op: "removeWatches"; path: string; kind: WatchKind | "any" }
  /** addauth: adds an identity to the session (digest user:password). */
  | { op: "addAuth"; scheme: string; credentials: string }
  /** Closes the session: its ephemerals go; the host answers, then sends `closed`. */
  | { op: "close" };

export type ClientMessage =
  /**
   * Opens a session (no sessionId) or resumes one (sessionId and password). `ref`
   * pairs the answer with the request. `clientAddress`: a relaying client (the wire
   * bridge) names the address of the client it opens or resumes the session for,
   * which becomes the session's `ip` identity; only a socket the Worker trusts to
   * relay may send it (others are refused NoAuth).
   */
  | { t: "connect"; ref: number; timeoutMs: number; sessionId?: number; password?: string; clientAddress?: string }
  /** One request of a session; `xid` increases per session and pairs the answer. */
  | { t: "req"; sid: number; xid: number; op: SessionOp };

export type ServerMessage =
  /** The session is open on this socket (new or resumed); timeoutMs is the negotiated one. */
  | { t: "connected"; ref: number; sessionId: number; password: string; timeoutMs: number; resumed: boolean }
  /** Resume of a session that expired or never existed (ZooKeeper answers timeout 0, id 0). */
  | { t: "expired"; ref: number }
  /** Connect refused, e.g. a wrong password (the session itself is unharmed). */
  | { t: "refused"; ref: number; error: KeeperErrorBody }
  /** The answer to one request, in the order the session sent them; `hops` only when the server traces hops (protocol/hops.ts). */
  | { t: "res"; sid: number; xid: number; zxid: number; ok: true; value: unknown; hops?: HostHops }
  | { t: "res"; sid: number; xid: number; zxid: number; ok: false; error: KeeperErrorBody; results?: unknown[]; hops?: HostHops }
  /**
   * A watch fired. Sent before any answer that shows the change. `kind` is the
   * watch's: a one-shot data or child watch is gone once fired; persistent and
   * recursive ones stay.
   */
  | { t: "event"; sid: number; event: Exclude<ChangeEventType, "ACLChanged">; path: string; zxid: number; kind: WatchKind; watchPath: string }
  /** The session ended (closed, expired, or moved to another socket); no more messages for it here. */
  | { t: "closed"; sid: number; reason: "closed" | "expired" | "moved" };

