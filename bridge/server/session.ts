/**
 * A ZooKeeper session as the bridge keeps it: an edgekeeper session on a host link,
 * the ZooKeeper connection currently attached to it (at most one), its request
 * numbering upstream, its zxid view and its watches. It outlives its TCP connection
 * (a client reconnects and resumes by id and password), and ends when the host says
 * `closed`, or when no connection has resumed it within its timeout of the last
 * packet heard (the bridge then closes it upstream, which is what an expiry does:
 * ephemerals go, watches fire).
 *
 * zxid view: the reply headers of a session carry the highest zxid its host has
 * reported to it, so they never go backwards (a session resumed from another bridge
 * goes on from the host's highest). zxids are per shard; in a namespace of one shard
 * (the default) this is exactly the shard's zxid order. A session resumed here from
 * another bridge keeps what its client had been shown of each shard at the zxid it
 * resumed with (`shownAt`), for its setWatches (set-watches.ts).
 */
import type { SessionOp, SessionResult } from "../../protocol/session-protocol.ts";
import type { HostLink, SessionMessage, SessionSink } from "../upstream/host-link.ts";
import { WatchTable, type EventMessage } from "./watches.ts";

export type ResMessage = Extract<SessionMessage, { t: "res" }>;
/** The answer to `O`: its result (SessionResult of its name), or its error. */
export type ResultFor<O extends SessionOp> = Exclude<ResMessage, { ok: true }> | (Extract<ResMessage, { ok: true }> & { value: SessionResult<O> });

/**
 * `res` as the answer to `op`, typed by it: answers pair with requests by xid (see
 * BridgeSession.call), and the host answers each op with its own result.
 *
 * @example
 * const answer = resultFor({ op: "getData", path: "/a" }, res);
 * if (answer.ok) answer.value.stat;
 */
export function resultFor<O extends SessionOp>(_op: O, res: ResMessage): ResultFor<O> {
  return res as ResultFor<O>;
}

/** What the attached ZooKeeper connection hears from its session. */
export interface SessionListener {
  onEvent(event: EventMessage): void;
  /** The session ended (closed, expired or moved away) or its link failed: drop the connection. */
  onEnded(why: string): void;
}

export class BridgeSession implements SessionSink {
  readonly id: number;
  readonly password: string;
  readonly timeoutMs: number;
  readonly link: HostLink;
  readonly watches: WatchTable;
  /** The address of the ZooKeeper client it serves: its ip identity at the host. */
  clientAddress: string | undefined;
  /** Identities added by auth packets (digest user names), for whoAmI. */
  readonly digestUsers: string[] = [];
  zxid = 0;
  /** Resumed here from another bridge: the client's last zxid then, and what it had been shown of each shard at it (the host's word). */
  resumedAt: { zxid: bigint; shards: Record<string, number> } | undefined;
  lastCxid = 0;
  ended = false;
  private nextXid = 1;
  private readonly waiting = new Map<number, (res: ResMessage) => void>();
  private listener: SessionListener | undefined;
  private orphanTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onEnd: (session: BridgeSession) => void;

  constructor(link: HostLink, id: number, password: string, timeoutMs: number, clientAddress: string | undefined, onEnd: (session: BridgeSession) => void) {
    this.link = link;
    this.clientAddress = clientAddress;
    this.id = id;
    this.password = password;
    this.timeoutMs = timeoutMs;
    this.watches = new WatchTable(timeoutMs);
    this.onEnd = onEnd;
    link.attach(id, this);
  }

  /** Attaches a ZooKeeper connection; the one attached before (if any) is told to go. */
  attach(listener: SessionListener): void {
    const previous = this.listener;
    this.listener = listener;
    if (this.orphanTimer !== undefined) clearTimeout(this.orphanTimer);
    this.orphanTimer = undefined;
    if (previous && previous !== listener) previous.onEnded("session moved to another connection");
  }

  /**
   * The connection went away without closing the session: it may resume until one
   * timeout after `lastHeardAt`, the last packet heard from its client (ZooKeeper's
   * one clock: a silent client expires one timeout after it went quiet, not two);
   * after that the bridge closes it upstream, as an expiry would.
   */
  detach(listener: SessionListener | undefined, lastHeardAt = Date.now()): void {
    if (this.listener !== listener || this.orphanTimer !== undefined) return;
    this.listener = undefined;
    if (this.ended) return;
    this.orphanTimer = setTimeout(() => {
      if (this.listener || this.ended) return;
      this.call({ op: "close" }, () => this.end());
    }, Math.max(0, lastHeardAt + this.timeoutMs - Date.now()));
  }

  /** What the client had been shown of each shard when its last zxid was `zxid`, if known (it resumed here with that zxid). */
  shownAt(zxid: bigint): Record<string, number> | undefined {
    return this.resumedAt?.zxid === zxid ? this.resumedAt.shards : undefined;
  }

  get attached(): boolean {
    return this.listener !== undefined;
  }

  /**
   * Sends one op upstream; `done` gets its answer (synchronously, in the session's
   * order). `sent` (tracing hops only) is told when it leaves for the host.
   */
  call(op: SessionOp, done: (res: ResMessage) => void, sent?: (at: number) => void): void {
    const xid = this.nextXid++;
    this.waiting.set(xid, done);
    this.lastCxid = xid;
    if (!this.link.request(this.id, xid, op, sent)) {
      this.waiting.delete(xid);
      done({ t: "res", sid: this.id, xid, zxid: this.zxid, ok: false, error: { name: "ConnectionLoss", code: -4, message: "session host link lost" } });
    }
  }

  onMessage(message: SessionMessage): void {
    if (message.t === "res") {
      if (message.zxid > this.zxid) this.zxid = message.zxid;
      const done = this.waiting.get(message.xid);
      this.waiting.delete(message.xid);
      done?.(message);
    } else if (message.t === "event") {
      if (this.watches.repeated(message)) return;
      this.watches.fired(message);
      this.listener?.onEvent(message);
    } else {
      this.end(`session ${message.reason}`);
    }
  }

  onLinkGone(why: string): void {
    // The session lives on at the host for its timeout; a reconnecting client resumes it.
    this.end(`session host link lost: ${why}`, false);
  }

  /** Forgets the session here; `closedUpstream` false when only the link failed. */
  end(why = "session closed", closedUpstream = true): void {
    if (this.ended) return;
    this.ended = true;
    if (this.orphanTimer !== undefined) clearTimeout(this.orphanTimer);
    if (closedUpstream) this.link.detach(this.id);
    const pending = [...this.waiting.entries()];
    this.waiting.clear();
    for (const [xid, done] of pending) {
      done({ t: "res", sid: this.id, xid, zxid: this.zxid, ok: false, error: { name: "ConnectionLoss", code: -4, message: why } });
    }
    this.onEnd(this);
    const listener = this.listener;
    this.listener = undefined;
    listener?.onEnded(why);
  }
}
