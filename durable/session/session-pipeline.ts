/**
 * The one path of a session's requests through its host, whether they come in a
 * socket frame (`fromSocket`) or in an RPC (`fromRpc`, the HTTP API's sessions):
 *
 * 1. Accepted as they arrive. From a socket: the session must be open on this
 *    socket and have room for another outstanding request, or the request is
 *    answered at once; its op is parsed and its scope checked (a bad one is
 *    answered in its turn). From an RPC the ops come parsed.
 * 2. Queued behind the session's earlier requests (SessionRunner): one after
 *    another, also across shards. A socket's requests that arrive while the
 *    session's turn is busy join those already waiting.
 * 3. In their turn: the session is checked live and renewed (SessionLiveness) before
 *    each run of requests; an RPC's caller also proves it holds the session.
 * 4. Run: consecutive plain shard requests (`batchable`) go to their shard in one
 *    RPC; the others one by one; each numbered (cxid) by the runner.
 * 5. Answered in order, each as soon as its outcome is known. Watch events riding on
 *    a shard's answer reach the session before that answer (ShardRouter's `receive`).
 */
import { type HostHops, type Id, KeeperError, type Limits, type Outcome, SEQUENTIAL, parseReadMode, scopeAllows } from "../../protocol/index.ts";
import { shardThatAnswered } from "../directory/read-routing.ts";
import { type ServerMessage, type SessionResult, withBase64 } from "../../protocol/session-protocol.ts";
import type { SocketLimits } from "../base/settings.ts";
import type { SessionLiveness } from "./session-liveness.ts";
import { type HostOp, parseSessionOp, scopeNeededByHostOp } from "./host-op.ts";
import { type SessionRunner, batchable, failed } from "./session-runner.ts";
import { type Incoming, type SocketAttachment, connectionIds } from "./session-sockets.ts";
import type { SessionStore } from "./session-store.ts";
import type { SessionViews } from "./session-views.ts";

export type RequestMessage = Extract<Incoming, { t: "req" }>;

/** A request in a session's turn: what it asks (or why it cannot run), with its connection's identities. */
interface PipelineRequest {
  op: HostOp | KeeperError;
  connectionIds: Id[];
}

/** A request of a socket: answered `res` with its xid; `tracedIn` when its frame's event began, if hops are traced. */
interface SocketRequest extends PipelineRequest {
  xid: number;
  tracedIn?: number;
}

/** Answers one request of a turn; `ranAt`: when its run began (absent when it failed before running). */
type Answer<R> = (request: R, outcome: Outcome, ranAt?: number) => void;

/** What the pipeline needs of its host. */
export interface PipelineParts {
  store: Pick<SessionStore, "row">;
  liveness: Pick<SessionLiveness, "keepLive" | "keepLiveAs">;
  runner: SessionRunner;
  limits: Limits;
  socketLimits: Pick<SocketLimits, "maxOutstandingPerSession">;
  /** Session answers carry hop timestamps (benchmarks only). */
  traceHops: boolean;
  /** Closes an open session (its ephemerals, watches, row); answers the socket that carried it. */
  closeSession(sessionId: number): Promise<WebSocket | undefined>;
  /** Sends to the socket carrying a session now, or else to `fallback`. */
  sendToSession(sessionId: number, message: ServerMessage, fallback: WebSocket): void;
  /** Sends to one socket, in order (the outbox). */
  send(ws: WebSocket, message: ServerMessage): void;
  /** A request of the session was answered: the events held for the watches it set may follow (SessionHost.answered). */
  answered(sessionId: number): void;
  /** What relayed sessions' clients were shown, per shard, by their answers' highest zxid (session-views.ts). */
  views: Pick<SessionViews, "answered">;
}

function resOf(sid: number, xid: number, outcome: Outcome, hops?: HostHops): Extract<ServerMessage, { t: "res" }> {
  let res: Extract<ServerMessage, { t: "res" }>;
  if (outcome.ok) {
    // Shard RPCs answer Outcome<unknown> (Rpc's inference); each value is ResultOf its op.
    res = { t: "res", sid, xid, zxid: outcome.zxid, ok: true, value: withBase64(outcome.value) as SessionResult };
  } else {
    res = { t: "res", sid, xid, zxid: outcome.zxid, ok: false, error: outcome.error };
    if (outcome.results) res.results = withBase64(outcome.results);
  }
  const shard = shardThatAnswered(outcome);
  if (shard !== undefined) res.shard = shard;
  if (hops) res.hops = hops;
  return res;
}

const isBatchable = (request: PipelineRequest): boolean => !(request.op instanceof KeeperError) && batchable(request.op);

export class SessionPipeline {
  private readonly parts: PipelineParts;
  /** Requests of each session from sockets waiting for their answer (kept in memory: they keep the object awake). */
  private readonly outstanding = new Map<number, number>();

  constructor(parts: PipelineParts) {
    this.parts = parts;
  }

  /**
   * A socket's consecutive `req` messages (of one frame), received at `receivedAt`:
   * accepted, and queued per session, several in one RPC where they allow it.
   */
  fromSocket(ws: WebSocket, attachment: SocketAttachment, messages: RequestMessage[], receivedAt: number): void {
    const bySession = new Map<number, SocketRequest[]>();
    for (const message of messages) {
      const request = this.accept(ws, attachment, message);
      if (!request) continue;
      if (this.parts.traceHops) request.tracedIn = receivedAt;
      const queued = bySession.get(message.sid);
      if (queued) queued.push(request);
      else bySession.set(message.sid, [request]);
    }
    // Requests that arrive while the session's turn is busy join those already waiting (from this socket).
    for (const [sid, requests] of bySession) {
      this.parts.runner.enqueueJoining(sid, ws, requests, (all) => this.runTurn(sid, all, (request, outcome, ranAt) => this.answerSocket(ws, attachment.relay === true, sid, request, outcome, ranAt)));
    }
  }

  /**
   * An RPC's requests of a session, as the caller with `ids` who holds it by its
   * password: run in its turn, their outcomes in order. Throws SessionExpired or
   * AuthFailed, for the whole call, when its turn finds the session gone or the
   * password wrong.
   */
  fromRpc(sessionId: number, password: string, ids: Id[], ops: HostOp[]): Promise<Outcome[]> {
    return this.parts.runner.enqueue(
      sessionId,
      async () => {
        this.parts.liveness.keepLiveAs(sessionId, password);
        const outcomes: Outcome[] = [];
        const turn = ops.map((op): PipelineRequest => ({ op, connectionIds: ids }));
        await this.runTurn(sessionId, turn, (_, outcome) => outcomes.push(outcome));
        return outcomes;
      },
      ops.length,
    );
  }

  /**
   * Checks a socket's request as it arrives: one that cannot run (no such session,
   * on another socket, too many outstanding) is answered at once; the rest wait
   * their turn, a bad op to be answered in it.
   */
  private accept(ws: WebSocket, attachment: SocketAttachment, m: RequestMessage): SocketRequest | undefined {
    const { sid, xid } = m;
    const answerNow = (err: KeeperError): undefined => {
      this.parts.send(ws, resOf(sid, xid, failed(err)));
      return undefined;
    };
    const row = this.parts.store.row(sid);
    if (!row || row.state !== "open") return answerNow(new KeeperError("SessionExpired", "no such session is open"));
    if (row.socket_id !== attachment.socketId) {
      return answerNow(new KeeperError("SessionMoved", "the session is not on this socket: resume it here with connect first"));
    }
    const waiting = this.outstanding.get(sid) ?? 0;
    const max = this.parts.socketLimits.maxOutstandingPerSession;
    if (waiting >= max) return answerNow(new KeeperError("Throttled", `a session may have at most ${max} requests outstanding`));
    this.outstanding.set(sid, waiting + 1);
    let op: HostOp | KeeperError;
    try {
      op = parseSessionOp(m.op, this.parts.limits);
      const mode = parseReadMode(m.consistency);
      if (op.op === "shard" && mode !== SEQUENTIAL) op.request.consistency = mode;
      const needed = scopeNeededByHostOp(op);
      if (!scopeAllows(attachment.scope, needed)) throw new KeeperError("NoAuth", `this needs the ${needed} right; the socket's token has scope ${attachment.scope}`);
    } catch (err) {
      op = err instanceof KeeperError ? err : new KeeperError("MarshallingError", "unreadable operation");
    }
    return { xid, op, connectionIds: connectionIds(attachment, row.client_ip) };
  }

  /** Answers a socket's request with `res`, releasing its outstanding slot; a relaying socket's is noted in the session's views. */
  private answerSocket(ws: WebSocket, relay: boolean, sid: number, request: SocketRequest, outcome: Outcome, ranAt?: number): void {
    const left = (this.outstanding.get(sid) ?? 1) - 1;
    if (left > 0) this.outstanding.set(sid, left);
    else this.outstanding.delete(sid);
    // The host's stamps of a traced request, answered now (Date.now() has moved: an await returned).
    const hops = request.tracedIn === undefined || ranAt === undefined ? undefined : { in: request.tracedIn, run: ranAt, out: Date.now() };
    const res = resOf(sid, request.xid, outcome, hops);
    if (relay) this.parts.views.answered(sid, res.shard, res.zxid);
    this.parts.sendToSession(sid, res, ws);
  }

  /**
   * Runs a session's waiting requests in order (inside its turn): runs of
   * consecutive batchable shard requests go to their shard together, the others one
   * by one. Each is answered in order.
   */
  private async runTurn<R extends PipelineRequest>(sid: number, requests: R[], answer: Answer<R>): Promise<void> {
    for (let i = 0; i < requests.length; ) {
      let end = i + 1;
      if (isBatchable(requests[i]!)) while (end < requests.length && isBatchable(requests[end]!)) end++;
      if (end - i > 1) await this.runGroup(sid, requests.slice(i, end), answer);
      else await this.runOne(sid, requests[i]!, answer);
      i = end;
    }
  }

  /**
   * Runs a group of batchable requests and answers each as its RPC answers (not
   * after the last): a large batch is answered in several frames, each bounded
   * (Limits.maxAnswerBytes), never held whole.
   */
  private async runGroup<R extends PipelineRequest>(sid: number, group: R[], answer: Answer<R>): Promise<void> {
    let answered = 0;
    const ranAt = Date.now();
    const answerNext = (outcome: Outcome): void => {
      const request = group[answered++];
      if (request) answer(request, outcome, ranAt);
    };
    try {
      this.parts.liveness.keepLive(sid);
      const caller = { sessionId: sid, ids: this.parts.runner.idsOf(sid, group[0]!.connectionIds) };
      const shardRequests = group.map((request) => (request.op as Extract<HostOp, { op: "shard" }>).request);
      for await (const outcomes of this.parts.runner.executeMany(caller, shardRequests)) outcomes.forEach(answerNext);
    } catch (err) {
      if (!(err instanceof KeeperError)) console.error(`requests of session ${sid} failed`, err);
      const outcome = failed(err instanceof KeeperError ? err : new KeeperError("SystemError", "request failed"));
      while (answered < group.length) answerNext(outcome);
    }
    while (answered < group.length) answerNext(failed(new KeeperError("SystemError", "no outcome")));
  }

  /**
   * Runs one request of a session and answers it. A close is answered, and then the
   * socket that carried the session is told (`closed`).
   */
  private async runOne<R extends PipelineRequest>(sid: number, request: R, answer: Answer<R>): Promise<void> {
    const ranAt = Date.now();
    try {
      const { op } = request;
      if (op instanceof KeeperError) throw op;
      this.parts.liveness.keepLive(sid);
      if (op.op === "close") {
        const carrier = await this.parts.closeSession(sid);
        answer(request, { ok: true, zxid: 0, value: { closed: true } });
        if (carrier) this.parts.send(carrier, { t: "closed", sid, reason: "closed" });
        return;
      }
      answer(request, await this.parts.runner.run(sid, request.connectionIds, op), ranAt);
    } catch (err) {
      if (!(err instanceof KeeperError)) console.error(`request of session ${sid} failed`, err);
      answer(request, failed(err instanceof KeeperError ? err : new KeeperError("SystemError", "request failed")));
    } finally {
      this.parts.answered(sid);
    }
  }
}
