/**
 * The socket side of a session host: what each socket carries across hibernation
 * (its attachment), frames checked into messages (within the socket limits,
 * durable/base/settings.ts), and an outbox that sends each socket's messages in
 * order, several per frame.
 *
 * Which sessions a socket carries is not in its attachment (capped at 2,048 bytes,
 * about a hundred ids, while the bridge puts all its sessions of a host on one
 * socket) but in the sessions table (`socket_id`), matched to the socket by a tag
 * given at acceptWebSocket; both survive hibernation.
 */
import type { ClientMessage, ServerMessage } from "../../protocol/session-protocol.ts";
import { PING_FRAME, PONG_FRAME, framesOf } from "../../protocol/session-protocol.ts";
import { type Id, KeeperError, type Scope, parseIpAddress } from "../../protocol/index.ts";
import type { SocketLimits } from "../base/settings.ts";

/**
 * What a socket keeps across hibernation. `lastSeen`: its last message, saved coarsely
 * (noteMessage; pings are timed by the runtime).
 */
export interface SocketAttachment {
  socketId: string;
  /** The namespace and host number the Worker routed the socket to (for new sessions). */
  namespace: string;
  hostNumber: number;
  /** The client's address, its `ip` identity for ACLs (absent: unknown, no ip identity). */
  ip?: string;
  /** The Worker lets it name, per session, the address of a client it relays (the bridge). */
  relay?: boolean;
  /** What the socket's bearer token allows (protocol/scopes.ts): a `read` socket makes no writes. */
  scope: Scope;
  lastSeen: number;
}

/**
 * Attachments as last saved or read while the object is awake, so that a request
 * need not deserialize its socket's. A woken object holds new WebSocket objects,
 * whose attachments are read again.
 */
const attachments = new WeakMap<WebSocket, SocketAttachment>();

/** The socket's attachment (not to be changed: `saveAttachment` a new one). */
export function attachmentOf(ws: WebSocket): SocketAttachment | undefined {
  const known = attachments.get(ws);
  if (known) return known;
  const value = ws.deserializeAttachment() as SocketAttachment | null;
  if (!value || typeof value.socketId !== "string") return undefined;
  attachments.set(ws, value);
  return value;
}

/** Gives the socket its attachment, kept across hibernation. */
export function saveAttachment(ws: WebSocket, attachment: SocketAttachment): void {
  ws.serializeAttachment(attachment);
  attachments.set(ws, attachment);
}

/**
 * The identities a socket's transport gives a session's requests: the address of the
 * client a relaying socket (the bridge) named for that session, else the socket's own.
 */
export function connectionIds(attachment: SocketAttachment, relayedIp?: string | null): Id[] {
  const ip = relayedIp ?? attachment.ip;
  return ip === undefined ? [] : [{ scheme: "ip", id: ip }];
}

/** Each socket's last message while the object is awake, exactly (its attachment's `lastSeen` is coarser). */
const lastMessages = new WeakMap<WebSocket, number>();

/**
 * A message came on `ws` at `now`. It is remembered exactly in memory, and saved in
 * the attachment (serialized, for hibernation) only once the saved time is
 * `granularityMs` old, so that most frames write nothing.
 */
export function noteMessage(ws: WebSocket, attachment: SocketAttachment, now: number, granularityMs: number): void {
  lastMessages.set(ws, now);
  if (now - attachment.lastSeen >= granularityMs) saveAttachment(ws, { ...attachment, lastSeen: now });
}

/**
 * When a socket last showed life: its last message, or its last auto-answered ping.
 * After hibernation only the saved `lastSeen` is left, up to `granularityMs` older
 * than the last message, so it counts as that much later: a socket is never taken
 * for silent before it went silent, and at most that much after (ZooKeeper too
 * expires sessions a tick late at most).
 */
export function lastSignOfLife(ws: WebSocket, state: DurableObjectState, granularityMs: number): number {
  const ping = state.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
  const saved = attachmentOf(ws)?.lastSeen;
  const message = lastMessages.get(ws) ?? (saved === undefined ? 0 : saved + granularityMs);
  return Math.max(ping, message);
}

/** WebSocket close codes (RFC 6455). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_UNSUPPORTED = 1003;
export const CLOSE_POLICY = 1008;

/**
 * A close code we may send back. Echoing 1005/1006 (no code, abnormal) throws
 * `Invalid WebSocket close code` (../shared/STACK.md), so those become 1000.
 */
export function echoCloseCode(code: number): number {
  return code === 1005 || code === 1006 || code < 1000 || code >= 5000 ? CLOSE_NORMAL : code;
}

/** One checked message of a frame; `bad` ones carry the answer, if they can be paired with one. */
export type Incoming =
  | Extract<ClientMessage, { t: "connect" }>
  | { t: "req"; sid: number; xid: number; op: unknown; consistency?: string }
  | { t: "ping" }
  | { t: "bad"; reply?: ServerMessage; problem: string };

/** A frame the socket cannot go on after: it is closed with this code. */
export interface FrameFailure {
  close: number;
  reason: string;
}

const isInt = (value: unknown): value is number => Number.isSafeInteger(value);

function checkMessage(raw: unknown): Incoming {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { t: "bad", problem: "a message must be an object" };
  const m = raw as Record<string, unknown>;
  const problem = (text: string): Incoming => {
    const error = new KeeperError("MarshallingError", text).toBody();
    if (isInt(m.sid) && isInt(m.xid)) return { t: "bad", problem: text, reply: { t: "res", sid: m.sid, xid: m.xid, zxid: 0, ok: false, error } };
    if (isInt(m.ref)) return { t: "bad", problem: text, reply: { t: "refused", ref: m.ref, error } };
    return { t: "bad", problem: text };
  };
  switch (m.t) {
    case "connect": {
      if (!isInt(m.ref)) return problem("connect needs a numeric ref");
      if (typeof m.timeoutMs !== "number") return problem("connect needs timeoutMs");
      if (m.sessionId !== undefined && !isInt(m.sessionId)) return problem("connect: sessionId must be an integer");
      if (m.sessionId !== undefined && typeof m.password !== "string") return problem("connect: resuming a session needs its password");
      if (m.clientAddress !== undefined && !(typeof m.clientAddress === "string" && parseIpAddress(m.clientAddress))) {
        return problem("connect: clientAddress must be an IPv4 or IPv6 address");
      }
      if (m.bookmark !== undefined && typeof m.bookmark !== "string") return problem("connect: bookmark must be a string");
      if (m.seenZxid !== undefined && !(isInt(m.seenZxid) && (m.seenZxid as number) >= 0)) return problem("connect: seenZxid must be a whole number, 0 or more");
      return {
        t: "connect",
        ref: m.ref,
        timeoutMs: m.timeoutMs,
        ...(m.sessionId === undefined ? {} : { sessionId: m.sessionId, password: m.password as string }),
        ...(m.clientAddress === undefined ? {} : { clientAddress: m.clientAddress as string }),
        ...(m.bookmark === undefined ? {} : { bookmark: m.bookmark as string }),
        ...(m.seenZxid === undefined ? {} : { seenZxid: m.seenZxid as number }),
      };
    }
    case "req":
      if (!isInt(m.sid) || !isInt(m.xid)) return problem("req needs numeric sid and xid");
      if (m.consistency !== undefined && typeof m.consistency !== "string") return problem("req: consistency must be a string");
      return { t: "req", sid: m.sid, xid: m.xid, op: m.op, ...(m.consistency === undefined ? {} : { consistency: m.consistency as string }) };
    default:
      return problem(`unknown message type ${JSON.stringify(m.t)}; expected connect or req`);
  }
}

/**
 * Whether `text` is over `max` bytes as UTF-8, encoding it only when its length
 * cannot tell: a UTF-16 code unit is 1 to 3 UTF-8 bytes.
 */
function utf8LengthOver(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return new TextEncoder().encode(text).length > max;
}

/**
 * Checks a frame into messages: a text frame holding a JSON array of at most
 * `maxMessagesPerFrame` messages, within `maxFrameBytes`. A frame that is none of
 * these fails as a whole (the socket is closed); a bad message inside a good frame
 * is answered on its own.
 */
export function parseFrame(frame: string | ArrayBuffer, limits: SocketLimits): Incoming[] | FrameFailure {
  if (typeof frame !== "string") return { close: CLOSE_UNSUPPORTED, reason: "frames are JSON text, not binary" };
  if (frame === PING_FRAME) return [{ t: "ping" }];
  if (utf8LengthOver(frame, limits.maxFrameBytes)) return { close: CLOSE_POLICY, reason: `frame over ${limits.maxFrameBytes} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame);
  } catch {
    return { close: CLOSE_UNSUPPORTED, reason: "a frame must be JSON" };
  }
  if (!Array.isArray(parsed)) return { close: CLOSE_POLICY, reason: "a frame must be a JSON array of messages" };
  if (parsed.length > limits.maxMessagesPerFrame) return { close: CLOSE_POLICY, reason: `more than ${limits.maxMessagesPerFrame} messages in a frame` };
  return parsed.map(checkMessage);
}

/**
 * Sends each socket's messages in the order they were given, gathered into one
 * frame per turn of the event loop (a frame of many requests gets few frames back),
 * each frame at most `maxFrameBytes` of JSON (Limits.maxAnswerBytes); a single
 * message larger than that (a value at the limit, as base64) goes in a frame alone.
 */
export class SocketOutbox {
  private readonly pending = new Map<WebSocket, ServerMessage[]>();
  private readonly maxFrameBytes: number;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  send(ws: WebSocket, message: ServerMessage): void {
    const queue = this.pending.get(ws);
    if (queue) {
      queue.push(message);
      return;
    }
    this.pending.set(ws, [message]);
    queueMicrotask(() => this.flush(ws));
  }

  /** Sends what is queued for `ws` now (before closing it, say). */
  flush(ws: WebSocket): void {
    const queue = this.pending.get(ws);
    this.pending.delete(ws);
    if (!queue || queue.length === 0) return;
    try {
      for (const frame of framesOf(queue, this.maxFrameBytes)) ws.send(frame);
    } catch {
      // The socket closed meanwhile: its sessions hear of it when they resume.
    }
  }
}

export { PONG_FRAME };
