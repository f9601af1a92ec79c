/**
 * One ZooKeeper client connection: a four-letter word, or a ConnectRequest followed
 * by requests. Replies go out in request order (clients match them by xid); a ping
 * is answered at once, never behind slow work; notifications are written as they
 * arrive, which keeps ZooKeeper's order because the host sends a change's events
 * before any answer that shows it, and every earlier answer before them.
 *
 * Bad input closes only this connection: a frame length outside 1..jute.maxbuffer or
 * an unreadable header or ConnectRequest closes it without a reply; a body that does
 * not parse is answered MarshallingError and the connection stays; an unknown op code
 * is answered Unimplemented, then closed. One log line per bad frame, never the frame.
 * A reply that cannot be encoded closes this connection (one log line), never the
 * process: the client reconnects and resumes its session.
 *
 * A connection silent for its session timeout is closed, and its session expires at
 * once: one timeout after the last packet heard, as ZooKeeper's does.
 */
import type { Socket } from "node:net";
import { KeeperError } from "../../protocol/errors.ts";
import { type HostHops, hopClock } from "../../protocol/hops.ts";
import {
  FrameSplitter,
  JuteFatalError,
  JuteMarshallingError,
  JuteUnimplementedError,
  type JuteRequest,
  XIDS,
  decodeConnectRequest,
  decodeRequest,
  encodeNotification,
  encodeReplyHeader,
} from "../../protocol/jute/index.ts";
import type { BridgeContext, ConnectionView } from "./context.ts";
import { isFourLetterWord, runFourLetterWord } from "./four-letter.ts";
import { handshake } from "./handshake.ts";
import { type Answer, type Plan, digestUser, errorAnswer, fitToBuffer, planRequest } from "./request-plans.ts";
import type { BridgeSession, ResMessage, SessionListener } from "./session.ts";
import { ConnectionCounters } from "./stats.ts";
import { EventDedupe, type EventMessage, watcherEventOf } from "./watches.ts";

interface Entry {
  answer: Answer | undefined;
  startedAt: number;
  /**
   * With --trace-hops, a request of one upstream op: when it was read, when it left
   * for the host and its answer came back (HopRecord.bridge), and the host's stamps.
   */
  traced?: { sent: number; in?: number; out?: number; host?: HostHops | undefined };
}

const AUTH_FAILED = -115;
/**
 * A connection must finish its handshake this soon or is closed (ZooKeeper's
 * sessionlessCnxnTimeout): otherwise a trickle of bytes holds a socket forever.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A TCP peer's address as ZooKeeper's ip scheme names it: an IPv4 client of a
 * dual-stack listener is `::ffff:a.b.c.d` to Node and plain `a.b.c.d` to Java.
 */
export function peerAddress(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.toLowerCase().startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

export class ZkConnection implements SessionListener, ConnectionView {
  readonly remote: string;
  /** The client's address: its ip identity for ACLs, at the host and in whoAmI. */
  private readonly address: string | undefined;
  readonly counters = new ConnectionCounters();
  session: BridgeSession | undefined;
  private state: "new" | "handshaking" | "open" | "closed" = "new";
  private readonly splitter: FrameSplitter;
  /** The first bytes, until 4 have come: a four-letter word, or a frame length. */
  private prefix: Buffer | undefined = Buffer.alloc(0);
  /** closeSession was answered: the host's `closed` that follows is expected. */
  private closingSession = false;
  /** Requests received during the handshake, run once it is done. */
  private early: Uint8Array[] = [];
  private readonly entries: Entry[] = [];
  private readonly dedupe = new EventDedupe();
  private lastHeardAt = Date.now();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** A reply failed to encode: the connection is closing, and said why once. */
  private unencodable = false;
  /** Writes wait for the end of this tick (write()). */
  private corked = false;
  /** Until the handshake is done (then dropped: an idle connection keeps one timer, idleTimer). */
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly socket: Socket;
  private readonly context: BridgeContext;

  constructor(socket: Socket, context: BridgeContext) {
    this.socket = socket;
    this.context = context;
    this.address = peerAddress(socket);
    this.remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.splitter = new FrameSplitter(context.maxBufferBytes);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => this.close());
    socket.on("close", () => this.close());
    context.connections.add(this);
    this.handshakeTimer = setTimeout(() => {
      if (this.state === "new" || this.state === "handshaking") {
        this.context.handshakeTimeouts.note(`bridge: closed ${this.remote}: no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`);
        this.socket.destroy();
        this.close();
      }
    }, HANDSHAKE_TIMEOUT_MS);
  }

  get queued(): number {
    return this.entries.length;
  }

  // ---- input ----

  private receive(chunk: Buffer): void {
    if (this.state === "closed") return;
    this.lastHeardAt = Date.now();
    if (this.state === "new" && this.prefix !== undefined) {
      // The first 4 bytes may be a four-letter word rather than a frame length.
      const head = Buffer.concat([this.prefix, chunk]);
      if (head.length < 4) {
        this.prefix = head;
        return;
      }
      const word = head.subarray(0, 4).toString("latin1");
      if (isFourLetterWord(word, this.context)) {
        this.fourLetterWord(word);
        return;
      }
      chunk = head;
      this.prefix = undefined;
    }
    let frames: Uint8Array[];
    try {
      frames = this.splitter.push(chunk);
    } catch (error) {
      this.bad(error);
      return;
    }
    for (const frame of frames) {
      if ((this.state as string) === "closed") return; // a frame before may have closed it
      this.context.counters.received++;
      this.counters.received++;
      if (this.state === "new") this.connect(frame);
      else if (this.state === "handshaking") this.early.push(frame);
      else this.request(frame);
    }
  }

  private fourLetterWord(word: string): void {
    this.state = "closed";
    this.context.connections.delete(this);
    runFourLetterWord(this.context, word, this).then(
      (text) => this.socket.end(text),
      () => this.socket.destroy(),
    );
  }

  private connect(frame: Uint8Array): void {
    let request;
    try {
      request = decodeConnectRequest(frame);
    } catch (error) {
      this.bad(error);
      return;
    }
    this.state = "handshaking";
    handshake(this.context, request, this.address).then(
      (result) => {
        if (this.state === "closed") {
          if (result.ok) result.session.detach(undefined);
          return;
        }
        if (!result.ok) {
          if (result.response) this.socket.end(result.response);
          this.close();
          return;
        }
        this.session = result.session;
        this.context.noteZxid(result.session.zxid);
        result.session.attach(this);
        this.write([result.response]);
        this.state = "open";
        clearTimeout(this.handshakeTimer);
        this.handshakeTimer = undefined;
        this.closeWhenSilent(result.session.timeoutMs);
        const early = this.early;
        this.early = [];
        for (const frame of early) this.request(frame);
      },
      (error: unknown) => {
        this.context.log(`bridge: ${this.remote}: connect failed: ${(error as Error).message}`);
        this.close();
      },
    );
  }

  /** Closes the connection once nothing was heard for `timeoutMs`; the session then expires (detach). */
  private closeWhenSilent(timeoutMs: number): void {
    this.idleTimer = setTimeout(() => {
      if (Date.now() - this.lastHeardAt < timeoutMs) this.closeWhenSilent(timeoutMs);
      else this.close();
    }, Math.max(0, this.lastHeardAt + timeoutMs - Date.now()));
  }

  private request(frame: Uint8Array): void {
    const session = this.session!;
    let request: JuteRequest;
    try {
      request = decodeRequest(frame);
    } catch (error) {
      if (error instanceof JuteMarshallingError) {
        this.context.log(`bridge: ${this.remote}: ${error.message}`);
        this.enqueue({ kind: "local", answer: (s) => errorAnswer(error.xid ?? 0, s.zxid, error.code) });
      } else if (error instanceof JuteUnimplementedError) {
        this.context.log(`bridge: ${this.remote}: unknown op code ${error.opCode}`);
        this.enqueue({ kind: "local", answer: (s) => errorAnswer(error.xid, s.zxid, error.code, true) });
      } else {
        this.bad(error);
      }
      return;
    }
    this.counters.lastOp = opLabel(request.op);
    if (request.xid > 0) this.counters.lastCxid = request.xid;
    switch (request.op) {
      case "ping":
        this.write([encodeReplyHeader({ xid: XIDS.ping, zxid: BigInt(session.zxid), err: 0 })]);
        return;
      case "auth":
        this.enqueue(this.authPlan(request.xid, request.body.scheme, request.body.auth));
        return;
      case "closeSession":
        this.enqueue({
          kind: "upstream",
          ops: [{ op: "close" }],
          answer: ([res], s) => {
            this.closingSession = true;
            return { frames: [encodeReplyHeader({ xid: request.xid, zxid: BigInt(s.zxid), err: res!.ok ? 0 : res!.error.code })], close: true };
          },
        });
        return;
    }
    let plan: Plan;
    try {
      plan = planRequest(request, this.address ?? "");
    } catch (error) {
      const code = error instanceof KeeperError ? error.code : -1;
      plan = { kind: "local", answer: (s) => errorAnswer(request.xid, s.zxid, code) };
    }
    this.enqueue(plan);
  }

  /** auth (xid -4): digest goes to the host (addAuth); any other scheme is AuthFailed, then close. */
  private authPlan(xid: number, scheme: string, auth: Uint8Array): Plan {
    const failed = (): Answer => {
      this.context.counters.authFailed++;
      return { frames: [encodeReplyHeader({ xid, zxid: 0n, err: AUTH_FAILED })], close: true };
    };
    if (scheme !== "digest") return { kind: "local", answer: failed };
    const credentials = new TextDecoder().decode(auth);
    return {
      kind: "upstream",
      ops: [{ op: "addAuth", scheme, credentials }],
      answer: ([res], s) => {
        if (!res!.ok) return failed();
        s.digestUsers.push(digestUser(auth));
        return { frames: [encodeReplyHeader({ xid, zxid: 0n, err: 0 })] };
      },
    };
  }

  private enqueue(plan: Plan): void {
    const entry: Entry = { answer: undefined, startedAt: Date.now() };
    this.entries.push(entry);
    const session = this.session!;
    if (plan.kind === "local" || plan.ops.length === 0) {
      entry.answer = this.encoded(() => (plan.kind === "local" ? plan.answer(session) : plan.answer([], session)));
      this.flush();
      return;
    }
    const answers: ResMessage[] = new Array(plan.ops.length);
    let left = plan.ops.length;
    const traced: Entry["traced"] = this.context.hops && plan.ops.length === 1 ? (entry.traced = { sent: hopClock() }) : undefined;
    const sent = traced && ((at: number) => (traced.in = at));
    plan.ops.forEach((op, i) => {
      session.call(op, (res) => {
        answers[i] = res;
        if (traced) {
          traced.out = hopClock();
          traced.host = res.hops;
        }
        if (--left > 0) return;
        entry.answer = this.encoded(() => plan.answer(answers, session));
        this.flush();
      }, sent);
    });
  }

  /**
   * An answer, or, when its reply cannot be encoded (a value the wire cannot carry),
   * a close in its place: the replies before it still go out, in order.
   */
  private encoded(answer: () => Answer): Answer {
    try {
      return answer();
    } catch (error) {
      this.cannotEncode(error);
      return { frames: [], close: true };
    }
  }

  private cannotEncode(error: unknown): void {
    if (!this.unencodable) this.context.log(`bridge: closed ${this.remote}: a reply could not be encoded: ${(error as Error)?.message ?? error}`);
    this.unencodable = true;
  }

  // ---- output ----

  private flush(): void {
    while (this.entries.length > 0 && this.entries[0]!.answer !== undefined) {
      const entry = this.entries.shift()!;
      const answer = entry.answer!;
      const { traced } = entry;
      if (traced?.host) {
        const bridge = traced.in !== undefined && traced.out !== undefined ? { bridge: { in: traced.in, out: traced.out } } : {};
        this.context.hops?.add({ sent: traced.sent, received: hopClock(), ...bridge, host: traced.host });
      }
      const latency = Date.now() - entry.startedAt;
      this.counters.latency.add(latency);
      this.counters.lastLatency = latency;
      this.counters.lastResponseAt = Date.now();
      this.context.counters.latency.add(latency);
      if (this.session) {
        this.counters.lastZxid = this.session.zxid;
        this.context.noteZxid(this.session.zxid);
      }
      this.write(answer.frames.map((frame) => fitToBuffer(frame, this.context.maxBufferBytes)));
      if (answer.close) {
        this.socket.end();
        this.close();
        return;
      }
    }
  }

  private write(frames: Uint8Array[]): void {
    if (this.state === "closed" || frames.length === 0) return;
    this.context.counters.sent += frames.length;
    this.counters.sent += frames.length;
    if (!this.corked) {
      // The replies written in this tick (the answers of one upstream frame) leave in
      // one write, so that the client reads them, and sends what they release, together.
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  onEvent(event: EventMessage): void {
    if (this.state !== "open" || !this.dedupe.first(event)) return;
    let frame: Uint8Array;
    try {
      frame = encodeNotification(watcherEventOf(event));
    } catch (error) {
      this.cannotEncode(error);
      this.close();
      return;
    }
    this.write([frame]);
  }

  onEnded(why: string): void {
    if (this.state === "closed" || this.closingSession) return;
    this.context.log(`bridge: ${this.remote}: ${why}`);
    this.session = undefined;
    this.socket.end();
    this.close();
  }

  // ---- closing ----

  private bad(error: unknown): void {
    const what = error instanceof JuteFatalError ? error.message : `unexpected error: ${(error as Error)?.message ?? error}`;
    this.context.log(`bridge: closed ${this.remote}: ${what}`);
    this.socket.destroy();
    this.close();
  }

  close(): void {
    if (this.state === "closed" && !this.context.connections.has(this)) return;
    this.state = "closed";
    this.context.connections.delete(this);
    clearTimeout(this.idleTimer);
    clearTimeout(this.handshakeTimer);
    this.session?.detach(this, this.lastHeardAt);
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.end();
  }
}

/** ZooKeeper's short names for the last op, as `cons` prints them. */
function opLabel(op: JuteRequest["op"]): string {
  switch (op) {
    case "ping":
      return "PING";
    case "closeSession":
      return "CLOSE";
    case "getChildren2":
      return "GETC";
    default:
      return op.toUpperCase().slice(0, 4);
  }
}
