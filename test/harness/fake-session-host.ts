/**
 * A session host that speaks protocol/session-protocol.ts over a real WebSocket on
 * loopback: connect and resume (with `expired`, `refused`, `moved`), requests
 * answered in order in one frame per received frame, "ping"/"pong", expiry by
 * timeout. A test double of the network and the host's session rules, not of
 * storage: each request is answered by `answer` (by default `{}`), so tests say what
 * the server returns. It can drop sockets, go silent, and hold answers.
 *
 * @example
 * const host = await FakeSessionHost.start();
 * const zk = await connect({ servers: [host.base], sessionTimeoutMs: 900 });
 * host.dropAll(); // the client goes suspended, then reconnected
 */
import type { KeeperErrorBody } from "../../protocol/errors.ts";
import { sessionPasswordText } from "../../protocol/session-password.ts";
import type { MultiItemResult, WithBase64 } from "../../protocol/operations.ts";
import type { ClientMessage, ServerMessage, SessionOp, SessionResult } from "../../protocol/session-protocol.ts";
import { type WsConnection, type WsServer, startWsServer } from "./ws-server.ts";

export interface FakeSession {
  id: number;
  password: string;
  timeoutMs: number;
  deadline: number;
  conn: WsConnection | undefined;
}

export type Answer = { ok: true; value: SessionResult } | { ok: false; error: KeeperErrorBody; results?: WithBase64<MultiItemResult>[] };

/** One frame as the host received it. */
export interface ReceivedFrame {
  conn: WsConnection;
  messages: ClientMessage[];
}

export class FakeSessionHost {
  readonly sessions = new Map<number, FakeSession>();
  readonly frames: ReceivedFrame[] = [];
  readonly connections = new Set<WsConnection>();
  /** Every connect request's socket URL, in order. */
  readonly urls: URL[] = [];
  /** Every upgrade's Authorization header (undefined: none), in order. */
  readonly authorizations: (string | undefined)[] = [];
  /** Answers a request; the default answers every op with an empty object. */
  answer: (op: SessionOp, session: FakeSession) => Answer = () => ({ ok: true, value: {} });
  /** When true, requests are recorded but never answered. */
  hold = false;
  /** When true, nothing is answered at all: no pong, no connected, no res. */
  silent = false;
  /** Connections muted by mute(): they hear everything and answer nothing. */
  private readonly muted = new Set<WsConnection>();
  /** Refuse the next connects with this error. */
  refuseWith: KeeperErrorBody | undefined;
  minTimeoutMs = 300;
  maxTimeoutMs = 4_000;
  zxid = 0;
  /** The shard answers name (none when undefined), as a host names the shard whose zxid an answer carries. */
  shard: string | undefined;
  private nextId = 0x1000;
  private server!: WsServer;
  private readonly reaper: ReturnType<typeof setInterval>;

  private constructor() {
    this.reaper = setInterval(() => this.reap(), 20);
  }

  static async start(): Promise<FakeSessionHost> {
    const host = new FakeSessionHost();
    host.server = await startWsServer((conn, request) => {
      host.authorizations.push(request.headers.authorization);
      host.accept(conn);
    });
    return host;
  }

  get base(): string {
    return this.server.base;
  }

  /** Every request message received, in order. */
  get requests(): Extract<ClientMessage, { t: "req" }>[] {
    return this.frames.flatMap((f) => f.messages.filter((m): m is Extract<ClientMessage, { t: "req" }> => m.t === "req"));
  }

  /** Drops every socket as a network failure does (no close frame). */
  dropAll(): void {
    for (const conn of this.connections) conn.destroy();
  }

  /** The sockets open now go quiet (no pong, no answers); new ones are answered. */
  mute(): void {
    for (const conn of this.connections) this.muted.add(conn);
  }

  /** Expires a session now, telling its socket if it has one. */
  expire(id: number): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    session.conn?.sendText(JSON.stringify([{ t: "closed", sid: id, reason: "expired" } satisfies ServerMessage]));
  }

  /** Sends messages to a session's socket, as the host would (events, answers). */
  send(id: number, messages: ServerMessage[]): void {
    this.sessions.get(id)?.conn?.sendText(JSON.stringify(messages));
  }

  /** Answers held requests now, in order, in one frame. */
  release(): void {
    this.hold = false;
    const held = this.heldRequests.splice(0);
    const byConn = new Map<WsConnection, ServerMessage[]>();
    for (const { conn, message } of held) {
      const out = byConn.get(conn) ?? [];
      out.push(...this.respond(message, conn));
      byConn.set(conn, out);
    }
    for (const [conn, out] of byConn) if (out.length) conn.sendText(JSON.stringify(out));
  }

  async stop(): Promise<void> {
    clearInterval(this.reaper);
    await this.server.close();
  }

  private readonly heldRequests: { conn: WsConnection; message: Extract<ClientMessage, { t: "req" }> }[] = [];

  private accept(conn: WsConnection): void {
    this.connections.add(conn);
    conn.onClose = () => {
      this.connections.delete(conn);
      for (const session of this.sessions.values()) if (session.conn === conn) session.conn = undefined;
    };
    conn.onText = (text) => this.receive(conn, text);
  }

  private receive(conn: WsConnection, text: string): void {
    if (this.silent || this.muted.has(conn)) return;
    // Any frame is a sign of life of every session on the socket.
    for (const session of this.sessions.values()) if (session.conn === conn) session.deadline = Date.now() + session.timeoutMs;
    if (text === "ping") {
      conn.sendText("pong");
      return;
    }
    const messages = JSON.parse(text) as ClientMessage[];
    this.frames.push({ conn, messages });
    const out: ServerMessage[] = [];
    for (const message of messages) {
      if (message.t === "connect") out.push(this.connect(conn, message));
      else if (this.hold) this.heldRequests.push({ conn, message });
      else out.push(...this.respond(message, conn));
    }
    if (out.length) conn.sendText(JSON.stringify(out));
  }

  private connect(conn: WsConnection, message: Extract<ClientMessage, { t: "connect" }>): ServerMessage {
    this.urls.push(conn.url);
    if (this.refuseWith) return { t: "refused", ref: message.ref, error: this.refuseWith };
    const timeoutMs = Math.min(this.maxTimeoutMs, Math.max(this.minTimeoutMs, message.timeoutMs));
    if (message.sessionId !== undefined) {
      const session = this.sessions.get(message.sessionId);
      if (!session) return { t: "expired", ref: message.ref };
      if (session.password !== message.password) {
        return { t: "refused", ref: message.ref, error: { name: "AuthFailed", code: -115, message: "wrong session password" } };
      }
      if (session.conn && session.conn !== conn) {
        session.conn.sendText(JSON.stringify([{ t: "closed", sid: session.id, reason: "moved" } satisfies ServerMessage]));
      }
      session.conn = conn;
      session.deadline = Date.now() + session.timeoutMs;
      return { t: "connected", ref: message.ref, sessionId: session.id, password: session.password, timeoutMs: session.timeoutMs, resumed: true };
    }
    const session: FakeSession = { id: this.nextId++, password: sessionPasswordText(crypto.getRandomValues(new Uint8Array(16))), timeoutMs, deadline: Date.now() + timeoutMs, conn };
    this.sessions.set(session.id, session);
    return { t: "connected", ref: message.ref, sessionId: session.id, password: session.password, timeoutMs, resumed: false };
  }

  private respond(message: Extract<ClientMessage, { t: "req" }>, conn: WsConnection): ServerMessage[] {
    const session = this.sessions.get(message.sid);
    const base = { sid: message.sid, xid: message.xid, zxid: this.zxid, ...(this.shard === undefined ? {} : { shard: this.shard }) };
    if (!session || session.conn !== conn) {
      return [{ t: "res", ...base, ok: false, error: { name: "SessionExpired", code: -112, message: "session expired" } }];
    }
    if (message.op.op === "close") {
      this.sessions.delete(session.id);
      return [
        { t: "res", ...base, ok: true, value: {} },
        { t: "closed", sid: session.id, reason: "closed" },
      ];
    }
    const answer = this.answer(message.op, session);
    return [answer.ok ? { t: "res", ...base, ok: true, value: answer.value } : { t: "res", ...base, ok: false, error: answer.error, results: answer.results }];
  }

  private reap(): void {
    const now = Date.now();
    for (const session of [...this.sessions.values()]) if (session.deadline < now) this.expire(session.id);
  }
}
