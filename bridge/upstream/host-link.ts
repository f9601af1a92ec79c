/**
 * One WebSocket from the bridge to one session host, carrying every bridge session
 * of that host (the session protocol allows many per socket: a `connect` per
 * session, then `sid` on every message). Requests of one tick go out as one frame
 * (at most MAX_MESSAGES_PER_FRAME messages each). Framing and liveness (a "ping"
 * every third of LIVENESS_TIMEOUT_MS, a quiet socket counted dead) are the client's
 * SessionSocket, reused as is; what this adds is the multiplexing by `sid`.
 *
 * A link that fails fails all its sessions (`onGone`); their ZooKeeper clients then
 * reconnect, and the bridge resumes each session on a new link by id and password.
 */
import type { ClientMessage, ServerMessage, SessionOp } from "../../protocol/session-protocol.ts";
import { SessionSocket, type WebSocketConstructor, defaultWebSocket } from "../../client/core/socket.ts";
import { socketUrl } from "../../client/core/wire.ts";
import { hopClock } from "../../protocol/hops.ts";

/** Where the bridge's sessions live: a Worker's base URL, its namespace and token. */
export interface UpstreamOptions {
  /** The Worker's base URL (http, https, ws or wss). */
  url: string;
  namespace: string;
  token?: string;
  /** The region the bridge stands in, on a Worker simulating regions; default its first. */
  region?: string;
  WebSocket?: WebSocketConstructor;
}

export type ConnectAnswer = Extract<ServerMessage, { t: "connected" | "expired" | "refused" }>;
export type SessionMessage = Extract<ServerMessage, { t: "res" | "event" | "closed" }>;

/** What a session on a link hears. */
export interface SessionSink {
  onMessage(message: SessionMessage): void;
  /** The link failed: the session is no longer carried here (it lives on at the host for its timeout). */
  onLinkGone(why: string): void;
}

/** The host's liveness is a sign of life within the session timeout (at least 4 s): ping every 2 s. */
const LIVENESS_TIMEOUT_MS = 6_000;
const MAX_MESSAGES_PER_FRAME = 500;

/**
 * @example
 * const link = new HostLink(options, 0, () => links.delete(0));
 * const answer = await link.connect({ timeoutMs: 10_000 });
 */
export class HostLink {
  readonly hostNumber: number;
  private readonly socket: SessionSocket;
  private open = false;
  private dead: string | undefined;
  private outbox: ClientMessage[] = [];
  /** With --trace-hops: told when the outbox's traced requests leave, in outbox order. */
  private onSent: { message: ClientMessage; sent: (at: number) => void }[] = [];
  private flushQueued = false;
  private nextRef = 1;
  private readonly connects = new Map<number, (answer: ConnectAnswer | Error) => void>();
  private readonly sinks = new Map<number, SessionSink>();
  private readonly onDead: () => void;

  constructor(options: UpstreamOptions, hostNumber: number, onDead: () => void) {
    this.hostNumber = hostNumber;
    this.onDead = onDead;
    const url = new URL(socketUrl(options.url, { namespace: options.namespace, region: options.region }));
    url.searchParams.set("host", String(hostNumber));
    this.socket = new SessionSocket(options.WebSocket ?? defaultWebSocket(), url.toString(), {
      onOpen: () => {
        this.open = true;
        this.socket.startLiveness(LIVENESS_TIMEOUT_MS);
        this.flush();
      },
      onMessages: (messages) => this.receive(messages),
      onGone: (why) => this.fail(why),
      onSent: () => {},
    }, options.token);
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  get sessionCount(): number {
    return this.sinks.size;
  }

  /**
   * Opens (no sessionId) or resumes a session on this link; `clientAddress`, the
   * ZooKeeper client's, becomes the session's ip identity at the host; `seenZxid`, the
   * client's last zxid, asks what it had been shown of each shard then (`shownAt`).
   */
  connect(request: { timeoutMs: number; sessionId?: number; password?: string; clientAddress?: string; seenZxid?: number }): Promise<ConnectAnswer> {
    if (this.dead) return Promise.reject(new Error(this.dead));
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      this.connects.set(ref, (answer) => (answer instanceof Error ? reject(answer) : resolve(answer)));
      this.queue({ t: "connect", ref, ...request });
    });
  }

  /** Routes the session's messages to `sink` from now on. */
  attach(sessionId: number, sink: SessionSink): void {
    this.sinks.set(sessionId, sink);
  }

  detach(sessionId: number): void {
    this.sinks.delete(sessionId);
  }

  /**
   * Sends one request of a session; its answer comes to the session's sink. `sent`
   * (tracing hops only) is told when its frame leaves.
   */
  request(sid: number, xid: number, op: SessionOp, sent?: (at: number) => void): boolean {
    if (this.dead) return false;
    const message: ClientMessage = { t: "req", sid, xid, op };
    if (sent) this.onSent.push({ message, sent });
    this.queue(message);
    return true;
  }

  close(): void {
    this.socket.close(1000, "bridge stopping");
    this.fail("bridge stopping");
  }

  private queue(message: ClientMessage): void {
    this.outbox.push(message);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After this turn of the event loop, not this task: requests of a pipelining
      // client arrive in many socket reads, and go out together in one frame.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (!this.open || this.dead) return;
    while (this.outbox.length > 0) {
      const frame = this.outbox.splice(0, MAX_MESSAGES_PER_FRAME);
      if (!this.socket.send(frame)) return; // the socket's close reaches fail()
      if (this.onSent.length > 0) this.stampSent(frame);
    }
  }

  /** Tells the traced requests of a frame just sent that they left now. */
  private stampSent(frame: ClientMessage[]): void {
    const at = hopClock();
    const sent = new Set(frame);
    this.onSent = this.onSent.filter((traced) => {
      if (!sent.has(traced.message)) return true;
      traced.sent(at);
      return false;
    });
  }

  private receive(messages: ServerMessage[]): void {
    for (const message of messages) {
      if (message.t === "connected" || message.t === "expired" || message.t === "refused") {
        const settle = this.connects.get(message.ref);
        this.connects.delete(message.ref);
        settle?.(message);
        continue;
      }
      const sink = this.sinks.get(message.sid);
      if (message.t === "closed") this.sinks.delete(message.sid);
      sink?.onMessage(message);
    }
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = why;
    this.onDead();
    for (const settle of this.connects.values()) settle(new Error(`session host link: ${why}`));
    this.connects.clear();
    const sinks = [...this.sinks.values()];
    this.sinks.clear();
    for (const sink of sinks) sink.onLinkGone(why);
  }
}

/** The bridge's links, one per host, made on first use and replaced after a failure. */
export class HostLinks {
  private readonly links = new Map<number, HostLink>();
  private readonly options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.options = options;
  }

  get(hostNumber: number): HostLink {
    let link = this.links.get(hostNumber);
    if (!link || !link.alive) {
      const made: HostLink = new HostLink(this.options, hostNumber, () => {
        if (this.links.get(hostNumber) === made) this.links.delete(hostNumber);
      });
      link = made;
      this.links.set(hostNumber, link);
    }
    return link;
  }

  get count(): number {
    return this.links.size;
  }

  closeAll(): void {
    for (const link of [...this.links.values()]) link.close();
    this.links.clear();
  }
}
