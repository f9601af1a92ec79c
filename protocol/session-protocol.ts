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
import type { ChangeEventType, WatchKind } from "./changes.ts";
import { bytesToBase64 } from "./encoding.ts";
import type { KeeperErrorBody } from "./errors.ts";
import type { HostHops } from "./hops.ts";
import type { MultiItemResult, OpName, ResultOf, SessionOperation, WithBase64 } from "./operations.ts";

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

/**
 * An operation of a session as JSON: protocol/operations.ts's vocabulary, with values
 * as base64 (or null). The host answers it with `SessionResult` of its name.
 */
export type SessionOp = WithBase64<SessionOperation>;

/**
 * What an op answers on the socket (a `res` message's `value`): ResultOf its name,
 * values as base64.
 *
 * @example
 * const answer: SessionResult<{ op: "getData"; path: string }> = { data: "aGk=", stat };
 */
export type SessionResult<O extends { op: OpName } = SessionOp> = WithBase64<ResultOf[O["op"]]>;

export type ClientMessage =
  /**
   * Opens a session (no sessionId) or resumes one (sessionId and password). `ref`
   * pairs the answer with the request. `clientAddress`: a relaying client (the wire
   * bridge) names the address of the client it opens or resumes the session for,
   * which becomes the session's `ip` identity; only a socket the Worker trusts to
   * relay may send it (others are refused NoAuth).
   */
  | {
      t: "connect";
      ref: number;
      timeoutMs: number;
      sessionId?: number;
      password?: string;
      clientAddress?: string;
      /** What the client has seen (an encoded bookmark, read-modes.ts): the session's reads start from it. */
      bookmark?: string;
      /**
       * A relaying client's (the wire bridge's) resume: the highest answer zxid its own
       * client saw (ZooKeeper's lastZxidSeen), for `shownAt` in the answer.
       */
      seenZxid?: number;
    }
  /**
   * One request of a session; `xid` increases per session and pairs the answer.
   * `consistency`: its read mode (protocol/read-modes.ts), sent when not `sequential`.
   */
  | { t: "req"; sid: number; xid: number; op: SessionOp; consistency?: string };

export type ServerMessage =
  /**
   * The session is open on this socket (new or resumed); timeoutMs is the negotiated one.
   * To a relaying socket's resume: `zxid`, the highest zxid of the session's answers so
   * far (where a relay's running highest zxid goes on from), and, given `seenZxid`,
   * `shownAt`: the highest zxid of each shard its answers had shown when they first
   * reached it (absent when the host cannot say: restarted since, or too old).
   */
  | { t: "connected"; ref: number; sessionId: number; password: string; timeoutMs: number; resumed: boolean; zxid?: number; shownAt?: Record<string, number> }
  /** Resume of a session that expired or never existed (ZooKeeper answers timeout 0, id 0). */
  | { t: "expired"; ref: number }
  /** Connect refused, e.g. a wrong password (the session itself is unharmed). */
  | { t: "refused"; ref: number; error: KeeperErrorBody }
  /**
   * The answer to one request, in the order the session sent them; `shard`: the
   * shard that answered, whose zxid `zxid` is (zxids of different shards are not
   * comparable); `hops` only when the server traces hops (protocol/hops.ts).
   */
  | { t: "res"; sid: number; xid: number; zxid: number; shard?: string; ok: true; value: SessionResult; hops?: HostHops }
  /** A failed multi carries one result per op: each op's error (Ok before the one that failed, RuntimeInconsistency after it). */
  | { t: "res"; sid: number; xid: number; zxid: number; shard?: string; ok: false; error: KeeperErrorBody; results?: WithBase64<MultiItemResult>[]; hops?: HostHops }
  /**
   * A watch fired. Sent before any answer that shows the change. `kind` is the
   * watch's: a one-shot data or child watch is gone once fired; persistent and
   * recursive ones stay. `shard`: the shard whose zxid `zxid` is.
   */
  | { t: "event"; sid: number; event: Exclude<ChangeEventType, "ACLChanged">; path: string; zxid: number; shard?: string; kind: WatchKind; watchPath: string }
  /** The session ended (closed, expired, or moved to another socket); no more messages for it here. */
  | { t: "closed"; sid: number; reason: "closed" | "expired" | "moved" };

/**
 * A result as the session protocol carries it: every byte value (Uint8Array)
 * becomes a base64 string.
 *
 * @example
 * withBase64({ data: new Uint8Array([104, 105]) }); // { data: "aGk=" }
 */
export function withBase64<T>(value: T): WithBase64<T> {
  return encodeBytes(value) as WithBase64<T>;
}

function encodeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return bytesToBase64(value);
  if (Array.isArray(value)) return value.map(encodeBytes);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = encodeBytes(item);
    return out;
  }
  return value;
}
