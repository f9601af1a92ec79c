/**
 * A minimal driver of the session protocol (protocol/session-protocol.ts) that
 * carries many sessions on one WebSocket, as the protocol allows and the wire bridge
 * will: `connect` messages on one socket, each later message naming its session.
 * The TypeScript client has no option for sharing a socket (one session, one
 * socket), so W6 uses this for "sessions sharing a few sockets".
 *
 * Only what the benchmark needs: open, requests in order with answers by xid, data
 * watch events, pings every third of the timeout, close. No resume: a socket that
 * fails fails its sessions (and says why on stderr, for the report).
 */
import { socketUrl } from "../../client/core/wire.ts";
import { base64ToBytes, bytesToBase64 } from "../../protocol/encoding.ts";
import { PING_FRAME, PONG_FRAME, type ClientMessage, type ServerMessage, type SessionOp } from "../../protocol/session-protocol.ts";
import { type OpenOptions, type SessionDriver, type SessionTarget, within } from "../session-workloads.ts";
import { SESSION_TIMEOUT_MS } from "./edgekeeper-client.ts";

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** Most messages one frame may carry (the host's default maxMessagesPerFrame is 1,000). */
const MAX_MESSAGES_PER_FRAME = 500;

class MuxSocket {
  private readonly ws: WebSocket;
  readonly opened: Promise<void>;
  private readonly connects = new Map<number, Waiter>();
  private readonly sessions = new Map<number, MuxSession>();
  private outbox: ClientMessage[] = [];
  private flushQueued = false;
  private nextRef = 1;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private failure: Error | undefined;
  /** Sessions not yet closed; the socket closes with the last. */
  private live = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => resolve());
      this.ws.addEventListener("error", () => reject(new Error(`shared socket to ${url} failed to open`)));
    });
    this.opened.catch(() => undefined);
    this.ws.addEventListener("message", (event) => this.receive(event.data));
    this.ws.addEventListener("close", (event) => this.fail(`shared socket closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`));
  }

  /** Opens a session on this socket. */
  async connect(timeoutMs: number): Promise<MuxSession> {
    const ref = this.nextRef++;
    const answer = new Promise<unknown>((resolve, reject) => this.connects.set(ref, { resolve, reject }));
    this.send({ t: "connect", ref, timeoutMs });
    const connected = (await answer) as Extract<ServerMessage, { t: "connected" }>;
    if (this.pinger === undefined) this.pinger = setInterval(() => this.ws.readyState === WebSocket.OPEN && this.ws.send(PING_FRAME), connected.timeoutMs / 3);
    const session = new MuxSession(this, connected.sessionId);
    this.sessions.set(connected.sessionId, session);
    this.live++;
    return session;
  }

  send(message: ClientMessage): void {
    if (this.failure) throw this.failure;
    this.outbox.push(message);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const batch = this.outbox;
      this.outbox = [];
      for (let i = 0; i < batch.length; i += MAX_MESSAGES_PER_FRAME) {
        this.ws.send(JSON.stringify(batch.slice(i, i + MAX_MESSAGES_PER_FRAME)));
      }
    });
  }

  /** A session was closed: the socket closes with its last one. */
  released(sid: number): void {
    this.sessions.delete(sid);
    if (--this.live === 0) this.close();
  }

  close(): void {
    if (this.pinger !== undefined) clearInterval(this.pinger);
    this.pinger = undefined;
    this.failure ??= new Error("shared socket closed by the driver");
    try {
      this.ws.close(1000, "bench done");
    } catch {
      // already closing
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== "string" || data === PONG_FRAME) return;
    const parsed = JSON.parse(data) as ServerMessage | ServerMessage[];
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      switch (message.t) {
        case "connected":
        case "expired":
        case "refused": {
          const waiter = this.connects.get(message.ref);
          this.connects.delete(message.ref);
          if (message.t === "connected") waiter?.resolve(message);
          else waiter?.reject(new Error(`connect ${message.t}${message.t === "refused" ? `: ${message.error.name} ${message.error.message ?? ""}` : ""}`));
          break;
        }
        case "res":
        case "event":
        case "closed":
          this.sessions.get(message.sid)?.receive(message);
          break;
      }
    }
  }

  private fail(why: string): void {
    if (this.pinger !== undefined) clearInterval(this.pinger);
    this.pinger = undefined;
    const expected = this.failure !== undefined;
    this.failure ??= new Error(why);
    if (!expected) console.error(`bench: ${why}, carrying ${this.sessions.size} sessions`);
    for (const waiter of this.connects.values()) waiter.reject(this.failure);
    this.connects.clear();
    for (const session of this.sessions.values()) session.fail(this.failure);
  }
}

class MuxSession implements SessionTarget {
  readonly name = "edgekeeper shared socket";
  private readonly socket: MuxSocket;
  private readonly sid: number;
  private nextXid = 1;
  private readonly inFlight = new Map<number, Waiter>();
  private readonly dataWatches = new Map<string, () => void>();
  private closed = false;

  constructor(socket: MuxSocket, sid: number) {
    this.socket = socket;
    this.sid = sid;
  }

  private request(op: SessionOp): Promise<unknown> {
    const xid = this.nextXid++;
    const answer = new Promise<unknown>((resolve, reject) => this.inFlight.set(xid, { resolve, reject }));
    this.socket.send({ t: "req", sid: this.sid, xid, op });
    return answer;
  }

  receive(message: Extract<ServerMessage, { t: "res" | "event" | "closed" }>): void {
    if (message.t === "res") {
      const waiter = this.inFlight.get(message.xid);
      this.inFlight.delete(message.xid);
      if (message.ok) waiter?.resolve(message.value);
      else waiter?.reject(new Error(`${message.error.name}: ${message.error.message ?? ""}`));
    } else if (message.t === "event") {
      if (message.kind !== "data") return;
      const listener = this.dataWatches.get(message.watchPath);
      this.dataWatches.delete(message.watchPath);
      listener?.();
    } else if (!this.closed) {
      this.fail(new Error(`session ${this.sid} ${message.reason} by the server`));
    }
  }

  fail(error: Error): void {
    for (const waiter of this.inFlight.values()) waiter.reject(error);
    this.inFlight.clear();
  }

  async create(path: string, data: Uint8Array): Promise<void> {
    await this.request({ op: "create", path, data: bytesToBase64(data) });
  }
  async remove(path: string): Promise<void> {
    await this.request({ op: "delete", path });
  }
  async setData(path: string, data: Uint8Array): Promise<void> {
    await this.request({ op: "setData", path, data: bytesToBase64(data) });
  }
  async getData(path: string): Promise<number> {
    const value = (await this.request({ op: "getData", path })) as { data?: string };
    return base64ToBytes(value.data ?? "").length;
  }
  async watchData(path: string, onEvent: () => void): Promise<void> {
    this.dataWatches.set(path, onEvent);
    await this.request({ op: "getData", path, watch: true });
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await within(this.request({ op: "close" }), 10_000, `closing session ${this.sid}`);
    } finally {
      this.socket.released(this.sid);
    }
  }
}

/**
 * Sessions `perSocket` to a socket: `ceil(count / perSocket)` sockets, each routed by
 * the Worker to a host as a client's socket is (so several may share a host).
 * `where`: the namespace, and the simulated region the sessions live in (--regions).
 */
export function sharedSocketDriver(base: string, where: { namespace?: string; region?: string } = {}): SessionDriver {
  const url = socketUrl(base, where);
  return {
    id: "shared",
    label: (options) => `protocol driver, ${options.perSocket} sessions per WebSocket`,
    async open(count: number, options: OpenOptions): Promise<SessionTarget[]> {
      const sockets: MuxSocket[] = [];
      const sessions: MuxSession[] = [];
      try {
        const work = (async () => {
          for (let first = 0; first < count; first += options.perSocket) {
            const socket = new MuxSocket(url);
            sockets.push(socket);
            await socket.opened;
            const n = Math.min(options.perSocket, count - first);
            // All of one socket's connects go out in one frame.
            const opened = await Promise.allSettled(Array.from({ length: n }, () => socket.connect(SESSION_TIMEOUT_MS)));
            for (const result of opened) if (result.status === "fulfilled") sessions.push(result.value);
            const failed = opened.find((result) => result.status === "rejected");
            if (failed) throw (failed as PromiseRejectedResult).reason;
          }
        })();
        await within(work, options.timeLimitMs, `opening ${count} sessions on shared sockets`);
        return sessions;
      } catch (error) {
        await Promise.all(sessions.map((session) => session.close().catch(() => undefined)));
        for (const socket of sockets) socket.close();
        throw error;
      }
    },
  };
}
