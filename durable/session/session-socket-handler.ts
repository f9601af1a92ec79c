/**
 * A session host's WebSockets (protocol/session-protocol.ts): the upgrade, and each
 * frame's messages. `connect` opens a session on the socket or resumes one (moving
 * it from the socket that held it, which is told `closed` {reason: "moved"}, and
 * sending the events queued while it had no socket); `req` runs in the session's
 * pipeline and is answered with `res`, in order; a session's consecutive plain shard
 * requests that wait together (one frame's, and those of frames that came while its
 * pipeline was busy) share one RPC per shard. A bad message is answered on its
 * own when it names a session (or a connect's ref); a frame that cannot be read
 * closes its socket (1003 or 1008), and nothing else: other sockets and the
 * sessions' state are untouched.
 */
import { type Caller, type HostHops, type Id, KeeperError, type Outcome, isScope, scopeAllows } from "../../protocol/index.ts";
import { PONG_FRAME, type ServerMessage, type SessionResult, withBase64 } from "../../protocol/session-protocol.ts";
import { ConnectAdmission } from "./connect-admission.ts";
import type { SessionHost } from "./session-host.ts";
import { isHostNumber } from "../../protocol/session-ids.ts";
import { type HostOp, parseSessionOp, scopeNeededByHostOp } from "./host-op.ts";
import { batchable, failed } from "./session-runner.ts";
import { type Incoming, type SocketAttachment, attachmentOf, connectionIds, parseFrame } from "./session-sockets.ts";
import { samePassword } from "./session-store.ts";

type ConnectMessage = Extract<Incoming, { t: "connect" }>;
type RequestMessage = Extract<Incoming, { t: "req" }>;

/** A request accepted from a frame, waiting for its turn in the session's pipeline. */
interface Accepted {
  sid: number;
  xid: number;
  op: HostOp | KeeperError;
  connectionIds: Id[];
  /** When its frame's event began, if hops are traced. */
  tracedIn?: number;
}

/** A close reason is at most 123 bytes. */
const reasonOf = (text: string): string => (text.length > 120 ? `${text.slice(0, 117)}...` : text);

function resOf(sid: number, xid: number, outcome: Outcome, hops?: HostHops): ServerMessage {
  let res: Extract<ServerMessage, { t: "res" }>;
  if (outcome.ok) {
    // Shard RPCs answer Outcome<unknown> (Rpc's inference); each value is ResultOf its op.
    res = { t: "res", sid, xid, zxid: outcome.zxid, ok: true, value: withBase64(outcome.value) as SessionResult };
  } else {
    res = { t: "res", sid, xid, zxid: outcome.zxid, ok: false, error: outcome.error };
    if (outcome.results) res.results = withBase64(outcome.results);
  }
  if (hops) res.hops = hops;
  return res;
}

/** The host's stamps of a traced request, answered now (Date.now() has moved: an await returned). */
const hopsOf = (item: Accepted, run: number | undefined): HostHops | undefined =>
  item.tracedIn === undefined || run === undefined ? undefined : { in: item.tracedIn, run, out: Date.now() };

export class SocketHandler {
  private readonly host: SessionHost;
  private readonly state: DurableObjectState;
  /** Requests of each session waiting for their answer (kept in memory: they keep the object awake). */
  private readonly outstanding = new Map<number, number>();
  /** Connects are taken at a bounded rate (per socket and in all), so that a storm of them waits its turn. */
  private readonly admission: ConnectAdmission;

  constructor(host: SessionHost, state: DurableObjectState) {
    this.host = host;
    this.state = state;
    const limits = host.socketLimits;
    this.admission = new ConnectAdmission({
      perSocketPerSecond: limits.maxConnectsPerSecondPerSocket,
      perHostPerSecond: limits.maxConnectsPerSecondPerHost,
      queuedPerSocket: limits.maxWaitingConnectsPerSocket,
    });
  }

  /** A socket went: connects of it still waiting are dropped. */
  forget(socketId: string): void {
    this.admission.forget(socketId);
  }

  /**
   * Accepts a WebSocket forwarded by the Worker: `?namespace=&host=`, the client's
   * address as `address` (if known), and `relay=1` if it may name its clients' addresses.
   */
  upgrade(request: Request): Response {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const url = new URL(request.url);
    const namespace = url.searchParams.get("namespace") ?? "";
    const hostNumber = Number(url.searchParams.get("host"));
    const scope = url.searchParams.get("scope");
    if (!namespace || !isHostNumber(hostNumber) || !isScope(scope)) return new Response("namespace, host and scope are required", { status: 400 });
    try {
      this.host.store.claimNamespace(namespace);
    } catch (err) {
      return new Response(err instanceof Error ? err.message : "wrong namespace", { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const socketId = crypto.randomUUID();
    // The tag finds the socket again from its sessions' rows, also after hibernation.
    this.state.acceptWebSocket(server, [socketId]);
    const address = url.searchParams.get("address");
    const attachment: SocketAttachment = {
      socketId,
      namespace,
      hostNumber,
      ...(address ? { ip: address } : {}),
      relay: url.searchParams.get("relay") === "1",
      scope,
      lastSeen: Date.now(),
    };
    server.serializeAttachment(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  async message(ws: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    const attachment = attachmentOf(ws);
    if (!attachment) {
      ws.close(1011, "unknown socket");
      return;
    }
    const now = Date.now();
    ws.serializeAttachment({ ...attachment, lastSeen: now });
    const messages = parseFrame(frame, this.host.socketLimits);
    if (!Array.isArray(messages)) {
      this.closeSocket(ws, messages.close, messages.reason);
      return;
    }
    // A frame's requests are run per session, several in one RPC where they allow it;
    // anything else in the frame first lets the requests before it go.
    let accepted: Accepted[] = [];
    const runAccepted = (): void => {
      const bySession = new Map<number, Accepted[]>();
      for (const item of accepted) bySession.set(item.sid, [...(bySession.get(item.sid) ?? []), item]);
      // Requests that arrive while the session's pipeline is busy join those already waiting (from this socket).
      for (const [sid, items] of bySession) this.host.runner.enqueueJoining(sid, ws, items, (all) => this.runRequests(ws, sid, all));
      accepted = [];
    };
    for (const message of messages) {
      if (message.t !== "req") runAccepted();
      switch (message.t) {
        case "ping":
          ws.send(PONG_FRAME);
          break;
        case "bad":
          if (!message.reply) {
            this.closeSocket(ws, 1008, message.problem);
            return;
          }
          this.host.outbox.send(ws, message.reply);
          break;
        case "connect":
          this.admit(ws, attachment, message);
          break;
        case "req": {
          const item = this.accept(ws, attachment, message);
          if (item && this.host.traceHops) item.tracedIn = now;
          if (item) accepted.push(item);
          break;
        }
      }
    }
    runAccepted();
  }

  /** Closes a socket after what it is owed; its sessions wait for a resume. */
  private closeSocket(ws: WebSocket, code: number, reason: string): void {
    console.warn(`session socket closed (${code}): ${reason}`);
    this.host.outbox.flush(ws);
    this.host.detach(ws);
    try {
      ws.close(code, reasonOf(reason));
    } catch {
      // already closed
    }
  }

  /** Runs a connect now or in its turn; refuses it (Throttled) when too many of the socket's already wait. */
  private admit(ws: WebSocket, attachment: SocketAttachment, m: ConnectMessage): void {
    if (this.admission.offer(attachment.socketId, () => this.connect(ws, attachment, m))) return;
    const { maxConnectsPerSecondPerSocket: rate, maxWaitingConnectsPerSocket: waiting } = this.host.socketLimits;
    const error = new KeeperError("Throttled", `too many connects: a socket's are taken at ${rate} a second, and at most ${waiting} wait; retry later`);
    this.host.outbox.send(ws, { t: "refused", ref: m.ref, error: error.toBody() });
  }

  private connect(ws: WebSocket, attachment: SocketAttachment, m: ConnectMessage): void {
    const { store, outbox, socketLimits } = this.host;
    const send = (message: ServerMessage): void => outbox.send(ws, message);
    const refuse = (err: KeeperError): void => send({ t: "refused", ref: m.ref, error: err.toBody() });
    const full = (): boolean => store.sessionsOnSocket(attachment.socketId).length >= socketLimits.maxSessionsPerSocket;
    try {
      if (m.clientAddress !== undefined && !attachment.relay) {
        return refuse(new KeeperError("NoAuth", "only a socket opened with the bearer token may name its clients' addresses"));
      }
      if (m.sessionId === undefined) {
        if (full()) return refuse(new KeeperError("Throttled", `a socket may carry at most ${socketLimits.maxSessionsPerSocket} sessions`));
        const grant = this.host.createSession(attachment.namespace, attachment.hostNumber, m.timeoutMs, attachment.socketId);
        if (m.clientAddress !== undefined) store.setClientAddress(grant.sessionId, m.clientAddress);
        send({ t: "connected", ref: m.ref, ...grant, resumed: false });
        void this.host.scheduleExpiry().catch((err) => console.error("setting the expiry alarm failed", err));
        return;
      }
      let row;
      try {
        row = this.host.liveRow(m.sessionId);
      } catch {
        return send({ t: "expired", ref: m.ref });
      }
      // A wrong password refuses the newcomer; the session and its socket are not touched.
      if (!samePassword(row.password, m.password ?? "")) return refuse(new KeeperError("AuthFailed", "wrong session password"));
      if (row.socket_id !== attachment.socketId) {
        if (full()) return refuse(new KeeperError("Throttled", `a socket may carry at most ${socketLimits.maxSessionsPerSocket} sessions`));
        const previous = this.host.socketOf(row);
        if (previous && previous !== ws) outbox.send(previous, { t: "closed", sid: row.id, reason: "moved" });
        store.setSocket(row.id, attachment.socketId);
      }
      store.touch(row.id, row.timeout_ms);
      // The identity is the resuming connection's, as ZooKeeper's ip is per connection.
      store.setClientAddress(row.id, m.clientAddress ?? null);
      send({ t: "connected", ref: m.ref, sessionId: row.id, password: row.password, timeoutMs: row.timeout_ms, resumed: true });
      // Events that fired while it had no socket, in order.
      for (const event of this.host.watches.takeQueued(row.id)) send(event);
    } catch (err) {
      if (!(err instanceof KeeperError)) console.error("connect failed", err);
      refuse(err instanceof KeeperError ? err : new KeeperError("SystemError", "connect failed"));
    }
  }

  /**
   * Checks a request as it arrives: one that cannot run (no such session, on another
   * socket, too many outstanding) is answered at once; the rest wait their turn.
   */
  private accept(ws: WebSocket, attachment: SocketAttachment, m: RequestMessage): Accepted | undefined {
    const { sid, xid } = m;
    const answerNow = (err: KeeperError): undefined => {
      this.host.outbox.send(ws, resOf(sid, xid, failed(err)));
      return undefined;
    };
    const row = this.host.store.row(sid);
    if (!row || row.state !== "open") return answerNow(new KeeperError("SessionExpired", "no such session is open"));
    if (row.socket_id !== attachment.socketId) {
      return answerNow(new KeeperError("SessionMoved", "the session is not on this socket: resume it here with connect first"));
    }
    const waiting = this.outstanding.get(sid) ?? 0;
    const max = this.host.socketLimits.maxOutstandingPerSession;
    if (waiting >= max) return answerNow(new KeeperError("Throttled", `a session may have at most ${max} requests outstanding`));
    this.outstanding.set(sid, waiting + 1);
    // A bad op is answered in its turn, after the session's earlier requests.
    let op: HostOp | KeeperError;
    try {
      op = parseSessionOp(m.op, this.host.limits);
      const needed = scopeNeededByHostOp(op);
      if (!scopeAllows(attachment.scope, needed)) throw new KeeperError("NoAuth", `this needs the ${needed} right; the socket's token has scope ${attachment.scope}`);
    } catch (err) {
      op = err instanceof KeeperError ? err : new KeeperError("MarshallingError", "unreadable operation");
    }
    return { sid, xid, op, connectionIds: connectionIds(attachment, row.client_ip) };
  }

  /**
   * Runs a session's waiting requests (of one frame or several), in order (inside its pipeline): runs of
   * consecutive batchable shard requests go to their shard together, the others one
   * by one. Each is answered in order.
   */
  private async runRequests(ws: WebSocket, sid: number, items: Accepted[]): Promise<void> {
    for (let i = 0; i < items.length; ) {
      const first = items[i]!;
      let end = i + 1;
      if (!(first.op instanceof KeeperError) && batchable(first.op)) {
        while (end < items.length && !((items[end]!.op) instanceof KeeperError) && batchable(items[end]!.op as HostOp)) end++;
      }
      if (end - i > 1) await this.runGroup(ws, sid, items.slice(i, end));
      else await this.runOne(ws, first);
      i = end;
    }
  }

  /**
   * Runs a group of batchable requests and answers each as its RPC answers (not
   * after the last), releasing its outstanding slot: a large batch is answered in
   * several frames, each bounded (Limits.maxAnswerBytes), never held whole.
   */
  private async runGroup(ws: WebSocket, sid: number, group: Accepted[]): Promise<void> {
    let answered = 0;
    const run = this.host.traceHops ? Date.now() : undefined;
    const answer = (outcome: Outcome): void => {
      const item = group[answered++];
      if (!item) return;
      this.release(sid, 1);
      this.host.sendToSession(sid, resOf(sid, item.xid, outcome, hopsOf(item, run)), ws);
    };
    try {
      const live = this.host.liveRow(sid);
      this.host.store.touch(sid, live.timeout_ms);
      const caller: Caller = { sessionId: sid, ids: this.host.runner.idsOf(sid, group[0]!.connectionIds) };
      const requests = group.map((item) => (item.op as Extract<HostOp, { op: "shard" }>).request);
      for await (const outcomes of this.host.runner.executeMany(caller, requests)) outcomes.forEach(answer);
    } catch (err) {
      if (!(err instanceof KeeperError)) console.error(`requests of session ${sid} failed`, err);
      const outcome = failed(err instanceof KeeperError ? err : new KeeperError("SystemError", "request failed"));
      while (answered < group.length) answer(outcome);
    }
    while (answered < group.length) answer(failed(new KeeperError("SystemError", "no outcome")));
  }

  private release(sid: number, count: number): void {
    const left = (this.outstanding.get(sid) ?? count) - count;
    if (left > 0) this.outstanding.set(sid, left);
    else this.outstanding.delete(sid);
  }

  /** Runs one request of a session and answers it. */
  private async runOne(ws: WebSocket, item: Accepted): Promise<void> {
    const { sid, xid, op, connectionIds } = item;
    const run = this.host.traceHops ? Date.now() : undefined;
    let reply: ServerMessage;
    let closed = false;
    try {
      if (op instanceof KeeperError) throw op;
      const live = this.host.liveRow(sid);
      this.host.store.touch(sid, live.timeout_ms);
      if (op.op === "close") {
        await this.host.closeSession(sid);
        closed = true;
        reply = resOf(sid, xid, { ok: true, zxid: 0, value: { closed: true } });
      } else {
        reply = resOf(sid, xid, await this.host.runner.run(sid, connectionIds, op), hopsOf(item, run));
      }
    } catch (err) {
      if (!(err instanceof KeeperError)) console.error(`request of session ${sid} failed`, err);
      reply = resOf(sid, xid, failed(err instanceof KeeperError ? err : new KeeperError("SystemError", "request failed")));
    } finally {
      this.release(sid, 1);
    }
    this.host.sendToSession(sid, reply, ws);
    if (closed) this.host.outbox.send(ws, { t: "closed", sid, reason: "closed" });
  }
}
