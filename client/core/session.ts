/**
 * A session over the session protocol: opens it, keeps it alive, resumes it on the
 * next server after a drop, and carries its requests in order, every request of one
 * tick in one frame, answers matched by xid. Connection states are decided by
 * states.ts; this file does the I/O around them.
 *
 * When the client reports `lost` (and nothing else makes it): the server answered
 * `expired` (or `closed` with reason expired) for the session, or, while suspended,
 * the negotiated timeout has passed since the last frame the client sent for the
 * session (pings and resume attempts included). The host's lease runs from the
 * last frame it received, which is no later, so by then the session is expired
 * there too.
 */
import { type Bookmark, advanceBookmark, emptyBookmark, encodeBookmark } from "../../protocol/bookmark.ts";
import { KeeperError } from "../../protocol/errors.ts";
import { type HopRecord, hopClock } from "../../protocol/hops.ts";
import type { MultiItemResult, WithBase64 } from "../../protocol/operations.ts";
import { type ReadMode, type ReadModeText, formatReadMode, parseReadMode } from "../../protocol/read-modes.ts";
import type { ClientMessage, ServerMessage, SessionOp, SessionResult } from "../../protocol/session-protocol.ts";
import { type BackoffOptions, backoffDelay } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import { SessionSocket, type WebSocketConstructor, defaultWebSocket } from "./socket.ts";
import { type ConnectionState, type Phase, type StateInput, transition } from "./states.ts";
import { probeSocketRoute } from "./upgrade-probe.ts";
import { errorFromBody, socketUrl } from "./wire.ts";

export interface SessionOptions {
  /** Base URLs of servers, tried in turn: `http://127.0.0.1:8787`, `https://keeper.example.com`. */
  servers: readonly string[];
  /** The session timeout to ask for; the server negotiates it (4-40 s by default). */
  sessionTimeoutMs: number;
  /** The tenant (default "default"). */
  namespace?: string;
  /**
   * The region the client is in, on a server simulating regions (`npm start -- --regions`):
   * its session lives there. Default: the server's first region. Ignored by other servers.
   */
  region?: string;
  /** Bearer token of a deployed Worker. */
  token?: string;
  /** A WebSocket constructor where there is no global one (Node < 22: the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** How long connect() tries before it fails with ConnectionLoss. Default 15 s. */
  connectTimeoutMs?: number;
  /** How long one socket may take to open a session before the next server is tried. Default 5 s. */
  attemptTimeoutMs?: number;
  /** How long a request issued while suspended waits for a connection. Default: the session timeout. */
  requestTimeoutMs?: number;
  /** Reconnect delays (jittered, capped). */
  backoff?: BackoffOptions;
  /** For tests: the jitter source. */
  random?: () => number;
  /** Benchmarks: called with each answer's hop timestamps, from a server started with --trace-hops (protocol/hops.ts). */
  onHops?: (record: HopRecord) => void;
  /** The read mode of every read that names none (docs/consistency.md). Default `sequential`. */
  consistency?: ReadModeText;
}

export type SessionEventMessage = Extract<ServerMessage, { t: "event" }>;

interface Pending {
  op: SessionOp;
  /** Its read mode, when not `sequential`. */
  consistency?: string;
  resolve: (value: SessionResult) => void;
  reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** When it was issued, if hops are traced (options.onHops). */
  sentAt?: number;
  /** Told of its answer as it is taken, before any message after it (its error, if it failed). */
  answered?: (error: KeeperError | undefined) => void;
}

/** An error carrying a failed multi's per-op results. */
export type KeeperErrorWithResults = KeeperError & { results?: WithBase64<MultiItemResult>[] };

/** A read mode as a request carries it: left out (undefined) for `sequential`, the servers' default. */
function wireReadMode(mode: ReadMode): string | undefined {
  return mode.kind === "sequential" ? undefined : formatReadMode(mode);
}

function connectionLoss(detail: string): KeeperError {
  return new KeeperError("ConnectionLoss", `connection loss: ${detail}`);
}

/**
 * @example
 * const session = new Session({ servers: ["http://127.0.0.1:8787"], sessionTimeoutMs: 10_000 });
 * await session.start();
 * await session.request({ op: "exists", path: "/" });
 */
export class Session {
  /** State changes, and watch events of this session. */
  readonly events = new Emitter<{ state: [ConnectionState]; event: [SessionEventMessage] }>();
  phase: Phase = "connecting";
  sessionId: number | undefined;
  /** The negotiated timeout (the requested one until the server answers). */
  timeoutMs: number;
  /** The highest zxid seen in an answer or event. */
  lastZxid = 0;
  /** The highest zxid seen per shard, from answers and events: handed to the host on every (re)connect. */
  readonly bookmark: Bookmark;
  /** Requests re-sent first on every new or resumed session (addAuth). */
  readonly replay: SessionOp[] = [];

  private password: string | undefined;
  private readonly WebSocketCtor: WebSocketConstructor;
  private socket: SessionSocket | undefined;
  private socketReady = false;
  private connectRef = 0;
  private nextXid = 1;
  private serverIndex: number;
  private attempt = 0;
  private lastSentAt = 0;
  private readonly inFlight = new Map<number, Pending>();
  private outbox: Pending[] = [];
  private waiting: Pending[] = [];
  private flushQueued = false;
  /** close() has begun: the host's `closed` for our session is expected, not a loss. */
  private closing = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private attemptTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private starting: { resolve: () => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> } | undefined;

  private readonly options: SessionOptions;
  /** The default read mode as requests carry it (formatted once): undefined for `sequential`, which they leave out. */
  private readonly defaultConsistency: string | undefined;

  constructor(options: SessionOptions) {
    this.options = options;
    if (options.servers.length === 0) throw new KeeperError("BadArguments", "connect needs at least one server");
    this.WebSocketCtor = options.WebSocket ?? defaultWebSocket();
    this.timeoutMs = options.sessionTimeoutMs;
    this.bookmark = emptyBookmark(options.namespace ?? "default");
    this.defaultConsistency = wireReadMode(parseReadMode(options.consistency));
    this.serverIndex = Math.floor((options.random ?? Math.random)() * options.servers.length);
  }

  /** Opens the session; resolves once the server has answered `connected`. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const limitMs = this.options.connectTimeoutMs ?? 15_000;
      // Named, so that a wrong or unset server setting shows in the error.
      const tried = this.options.servers.join(", ");
      const timer = setTimeout(() => this.failStart(connectionLoss(`no session from ${tried} within ${limitMs} ms`)), limitMs);
      this.starting = { resolve, reject, timer };
      this.openSocket();
    });
  }

  /**
   * Sends one request; the promise settles with its answer's value (the op's result,
   * as protocol/operations.ts's ResultOf names it) or KeeperError. `answered` is told
   * of the answer as it is taken, before any message after it is (the promise settles later).
   */
  request<O extends SessionOp>(op: O, consistency?: ReadModeText, answered?: (error: KeeperError | undefined) => void): Promise<SessionResult<O>> {
    return new Promise((resolveAs, reject) => {
      if (this.phase === "closed") {
        reject(new KeeperError("SessionExpired", "the client is closed"));
        return;
      }
      // Answers pair with requests by xid, not by type: the host answers each op with its own result.
      const resolve = resolveAs as (value: SessionResult) => void;
      const mode = consistency === undefined ? this.defaultConsistency : wireReadMode(parseReadMode(consistency));
      const pending: Pending = this.options.onHops ? { op, resolve, reject, sentAt: hopClock() } : { op, resolve, reject };
      if (mode !== undefined) pending.consistency = mode;
      if (answered) pending.answered = answered;
      this.enqueue(pending);
    });
  }

  /** Closes the session (its ephemerals go) and the socket. Requests still waiting fail. */
  async close(): Promise<void> {
    if (this.phase === "closed") return;
    this.closing = true;
    if (this.phase === "open") {
      // The host answers after the session's earlier requests, then forgets it.
      const answered = this.request({ op: "close" }).catch(() => undefined);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([answered, new Promise((done) => (timer = setTimeout(done, this.timeoutMs)))]);
      if (timer !== undefined) clearTimeout(timer);
    }
    this.shutdown(new KeeperError("SessionExpired", "the client was closed"));
    this.report("close");
  }

  private enqueue(pending: Pending): void {
    if (this.phase === "open" && this.socketReady) {
      this.outbox.push(pending);
      this.scheduleFlush();
    } else {
      this.wait(pending);
    }
  }

  /** A request waits for a connection, for requestTimeoutMs at most. */
  private wait(pending: Pending, atFront = false): void {
    if (pending.timer === undefined) {
      const limitMs = this.options.requestTimeoutMs ?? this.timeoutMs;
      pending.timer = setTimeout(() => {
        const i = this.waiting.indexOf(pending);
        if (i >= 0) this.waiting.splice(i, 1);
        pending.reject(connectionLoss(`no connection for ${limitMs} ms`));
      }, limitMs);
    }
    if (atFront) this.waiting.unshift(pending);
    else this.waiting.push(pending);
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** Sends every request of this tick in one frame; xids are given here, in order. */
  private flush(): void {
    this.flushQueued = false;
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    if (!(this.phase === "open" && this.socketReady && this.socket && this.sessionId !== undefined)) {
      for (const pending of batch.reverse()) this.wait(pending, true);
      return;
    }
    const sid = this.sessionId;
    const messages: ClientMessage[] = batch.map((pending) => {
      const xid = this.nextXid++;
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.timer = undefined;
      this.inFlight.set(xid, pending);
      return pending.consistency === undefined ? { t: "req", sid, xid, op: pending.op } : { t: "req", sid, xid, op: pending.op, consistency: pending.consistency };
    });
    if (!this.socket.send(messages)) {
      // Not sent at all: safe to send again after the resume.
      for (const message of messages) if (message.t === "req") this.inFlight.delete(message.xid);
      for (const pending of batch.reverse()) this.wait(pending, true);
    }
  }

  private openSocket(): void {
    this.reconnectTimer = undefined;
    if (this.phase === "closed") return;
    const server = this.options.servers[this.serverIndex++ % this.options.servers.length]!;
    const resuming = this.sessionId !== undefined;
    const url = socketUrl(server, {
      namespace: this.options.namespace,
      session: resuming ? this.sessionId : undefined,
      region: this.options.region,
    });
    const ref = ++this.connectRef;
    let socket: SessionSocket;
    let opened = false;
    try {
      socket = new SessionSocket(this.WebSocketCtor, url, {
        onOpen: () => {
          opened = true;
          const hello: ClientMessage = { t: "connect", ref, timeoutMs: this.options.sessionTimeoutMs };
          if (this.sessionId !== undefined) Object.assign(hello, { sessionId: this.sessionId, password: this.password });
          if (this.bookmark.shards.size > 0) Object.assign(hello, { bookmark: encodeBookmark(this.bookmark) });
          socket.send([hello]);
        },
        onMessages: (messages) => {
          if (this.socket === socket) for (const message of messages) this.receive(message);
        },
        onGone: (why) => {
          if (this.socket !== socket) return;
          this.socketLost(why);
          if (!opened) this.askWhyRefused(url);
        },
        onSent: () => {
          if (this.sessionId !== undefined) this.lastSentAt = Date.now();
        },
      }, this.options.token);
    } catch (error) {
      // A malformed URL or a constructor that throws: a failed attempt like any other.
      this.socket = undefined;
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.socketReady = false;
    const attemptMs = this.options.attemptTimeoutMs ?? 5_000;
    this.attemptTimer = setTimeout(() => {
      if (this.socket === socket && !this.socketReady) {
        socket.close(4003, "connect timed out");
        this.socketLost(`no session within ${attemptMs} ms`);
      }
    }, attemptMs);
  }

  /**
   * A socket of the first connect failed before it opened: if the server refuses
   * the token (its 401 is invisible to the WebSocket API), connect() fails at once
   * with that error rather than with ConnectionLoss at its timeout. Meanwhile the
   * retries go on, as for any failed attempt.
   */
  private askWhyRefused(url: string): void {
    if (!this.starting || this.sessionId !== undefined) return;
    void probeSocketRoute(url, this.options.token, this.options.attemptTimeoutMs).then((answer) => {
      if (answer.kind === "refused" && this.sessionId === undefined) this.failStart(answer.error);
    });
  }

  private receive(message: ServerMessage): void {
    switch (message.t) {
      case "connected":
        if (message.ref === this.connectRef) this.connected(message);
        return;
      case "expired":
        if (message.ref === this.connectRef) this.expire();
        return;
      case "refused":
        if (message.ref !== this.connectRef) return;
        if (this.starting && this.sessionId === undefined) {
          this.failStart(errorFromBody(message.error));
        } else {
          // A resume refused (say, a password the host does not take): try again
          // later; if it never works the session times out and is reported lost.
          this.socket?.close(1000, "refused");
          this.socketLost("connect refused");
        }
        return;
      case "res":
        if (message.sid === this.sessionId) this.answer(message);
        return;
      case "event":
        if (message.sid !== this.sessionId) return;
        this.lastZxid = Math.max(this.lastZxid, message.zxid);
        if (message.shard !== undefined) advanceBookmark(this.bookmark, message.shard, message.zxid);
        this.events.emit("event", message);
        return;
      case "closed":
        if (message.sid !== this.sessionId) return;
        if (message.reason === "moved") {
          this.socket?.close(1000, "session moved");
          this.socketLost("the session moved to another socket");
        } else if (!this.closing) {
          // Closed by someone else (or expired): the session and its ephemerals are gone.
          this.expire();
        }
        return;
    }
  }

  private connected(message: Extract<ServerMessage, { t: "connected" }>): void {
    if (this.attemptTimer !== undefined) clearTimeout(this.attemptTimer);
    const wanted = this.sessionId;
    if (wanted !== undefined && (message.sessionId !== wanted || !message.resumed)) {
      // We asked to resume and got another session: the old one is gone.
      this.expire(false);
    }
    const resumed = wanted !== undefined && this.sessionId === wanted;
    this.sessionId = message.sessionId;
    this.password = message.password;
    this.timeoutMs = message.timeoutMs;
    this.socketReady = true;
    this.attempt = 0;
    this.lastSentAt = Date.now();
    this.clearExpiry();
    this.socket!.startLiveness(message.timeoutMs);
    // Replayed requests (addAuth) go first; their answers are nobody's business.
    const replays: Pending[] = (this.starting ? [] : this.replay).map((op) => ({ op, resolve: () => {}, reject: () => {} }));
    const queued = this.waiting;
    this.waiting = [];
    this.outbox.unshift(...replays, ...queued);
    this.report(resumed ? "resumed" : "opened");
    if (this.starting) {
      clearTimeout(this.starting.timer);
      this.starting.resolve();
      this.starting = undefined;
    }
    this.scheduleFlush();
  }

  private answer(message: Extract<ServerMessage, { t: "res" }>): void {
    const pending = this.inFlight.get(message.xid);
    if (!pending) return;
    this.inFlight.delete(message.xid);
    if (message.hops && pending.sentAt !== undefined) this.options.onHops?.({ sent: pending.sentAt, received: hopClock(), host: message.hops });
    this.lastZxid = Math.max(this.lastZxid, message.zxid ?? 0);
    if (message.shard !== undefined) advanceBookmark(this.bookmark, message.shard, message.zxid);
    if (message.ok) {
      pending.answered?.(undefined);
      pending.resolve(message.value);
    } else {
      const error: KeeperErrorWithResults = errorFromBody(message.error);
      if (message.results !== undefined) error.results = message.results;
      pending.answered?.(error);
      pending.reject(error);
    }
  }

  /** The socket is gone: fail what was in flight, keep what was not sent, try again. */
  private socketLost(why: string): void {
    if (this.attemptTimer !== undefined) clearTimeout(this.attemptTimer);
    this.socket = undefined;
    this.socketReady = false;
    if (this.phase === "closed") return;
    for (const pending of this.outbox.reverse()) this.wait(pending, true);
    this.outbox = [];
    this.failInFlight(connectionLoss(why));
    if (this.phase === "open") {
      this.report("socketLost");
      this.armExpiry();
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.phase === "closed" || this.reconnectTimer !== undefined) return;
    const delayMs = backoffDelay(this.attempt++, this.options.backoff, this.options.random);
    this.reconnectTimer = setTimeout(() => this.openSocket(), delayMs);
  }

  /** While suspended: the session is certainly expired at the host once its timeout passes after our last frame. */
  private armExpiry(): void {
    this.clearExpiry();
    if (this.sessionId === undefined || this.phase !== "suspended") return;
    const remainingMs = this.lastSentAt + this.timeoutMs - Date.now();
    if (remainingMs <= 0) this.expire();
    else this.expiryTimer = setTimeout(() => this.armExpiry(), remainingMs);
  }

  private clearExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  /**
   * The session expired: report `lost`, fail every request of it, and (unless the
   * server already gave us the new session) open a new one on a fresh socket.
   */
  private expire(reconnect = true): void {
    if (this.sessionId === undefined || this.phase === "closed") return;
    this.clearExpiry();
    this.sessionId = undefined;
    this.password = undefined;
    const expired = new KeeperError("SessionExpired", "the session expired");
    this.failInFlight(expired);
    for (const pending of [...this.outbox, ...this.waiting]) {
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(expired);
    }
    this.outbox = [];
    this.waiting = [];
    this.report("expired");
    if (!reconnect) return;
    const socket = this.socket;
    this.socket = undefined;
    this.socketReady = false;
    socket?.close(1000, "session expired");
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.attempt = 0;
    this.scheduleReconnect();
  }

  private failInFlight(error: KeeperError): void {
    const pending = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const p of pending) p.reject(error);
  }

  private failStart(error: unknown): void {
    const starting = this.starting;
    if (!starting) return;
    this.starting = undefined;
    clearTimeout(starting.timer);
    this.shutdown(error instanceof KeeperError ? error : connectionLoss(String(error)));
    this.phase = "closed";
    starting.reject(error);
  }

  private shutdown(error: KeeperError): void {
    for (const timer of [this.reconnectTimer, this.attemptTimer, this.expiryTimer]) if (timer !== undefined) clearTimeout(timer);
    this.reconnectTimer = this.attemptTimer = this.expiryTimer = undefined;
    this.socket?.close(1000, "client closed");
    this.socket = undefined;
    this.socketReady = false;
    this.failInFlight(error);
    for (const pending of [...this.outbox, ...this.waiting]) {
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.outbox = [];
    this.waiting = [];
  }

  private report(input: StateInput): void {
    const next = transition(this.phase, input);
    this.phase = next.phase;
    if (next.report) this.events.emit("state", next.report);
  }
}
