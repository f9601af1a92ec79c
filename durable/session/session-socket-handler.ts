/**
 * A session host's WebSockets (protocol/session-protocol.ts): the upgrade, and each
 * frame's messages. `connect` opens a session on the socket or resumes one (moving
 * it from the socket that held it, which is told `closed` {reason: "moved"}, and
 * sending the events queued while it had no socket); `req`s go to the session
 * pipeline (session-pipeline.ts), which answers each with `res`, in order. A bad
 * message is answered on its own when it names a session (or a connect's ref); a
 * frame that cannot be read closes its socket (1003 or 1008), and nothing else:
 * other sockets and the sessions' state are untouched.
 */
import { type Bookmark, KeeperError, decodeBookmark, isScope } from "../../protocol/index.ts";
import { PONG_FRAME, type ServerMessage } from "../../protocol/session-protocol.ts";
import type { SocketLimits } from "../base/settings.ts";
import { ConnectAdmission } from "./connect-admission.ts";
import { isHostNumber } from "../../protocol/session-ids.ts";
import type { SessionLiveness } from "./session-liveness.ts";
import type { RequestMessage, SessionPipeline } from "./session-pipeline.ts";
import { type Incoming, type SocketAttachment, type SocketOutbox, attachmentOf, noteMessage, parseFrame, saveAttachment } from "./session-sockets.ts";
import type { SessionStore } from "./session-store.ts";
import type { SessionViews } from "./session-views.ts";

type ConnectMessage = Extract<Incoming, { t: "connect" }>;

/** A close reason is at most 123 bytes. */
const reasonOf = (text: string): string => (text.length > 120 ? `${text.slice(0, 117)}...` : text);

/** What a new session is granted (SessionHost.createSession). */
interface Grant {
  sessionId: number;
  password: string;
  timeoutMs: number;
}

/** What the socket handler needs of its host. */
export interface SocketHandlerParts {
  state: DurableObjectState;
  store: Pick<SessionStore, "claimNamespace" | "sessionsOnSocket" | "setClientAddress" | "setSocket">;
  liveness: Pick<SessionLiveness, "authenticate" | "renew" | "socketOf" | "accepted" | "lastSeenGranularityMs">;
  outbox: Pick<SocketOutbox, "send" | "flush">;
  socketLimits: SocketLimits;
  /** Where the sockets' requests go. */
  pipeline: Pick<SessionPipeline, "fromSocket">;
  /** A new session's row on `socketId` (Throttled when the host is full). */
  createSession(namespace: string, hostNumber: number, requestedTimeoutMs: number, socketId: string): Grant;
  scheduleExpiry(): Promise<void>;
  /** Events that fired for a session while it had no socket, in order; taken. */
  takeQueuedEvents(sessionId: number): ServerMessage[];
  /** Takes what a connecting client says it has seen into the session's bookmark. */
  mergeBookmark(sessionId: number, bookmark: Bookmark): void;
  /** What relayed sessions' clients were shown, per shard, by their answers' highest zxid (session-views.ts). */
  views: Pick<SessionViews, "highest" | "shownAt">;
  /** A socket went: its sessions wait for a resume. */
  detach(ws: WebSocket): void;
}

export class SocketHandler {
  private readonly parts: SocketHandlerParts;
  /** Connects are taken at a bounded rate (per socket and in all), so that a storm of them waits its turn. */
  private readonly admission: ConnectAdmission;

  constructor(parts: SocketHandlerParts) {
    this.parts = parts;
    const limits = parts.socketLimits;
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
      this.parts.store.claimNamespace(namespace);
    } catch (err) {
      return new Response(err instanceof Error ? err.message : "wrong namespace", { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const socketId = crypto.randomUUID();
    // The tag finds the socket again from its sessions' rows, also after hibernation.
    this.parts.state.acceptWebSocket(server, [socketId]);
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
    saveAttachment(server, attachment);
    this.parts.liveness.accepted(socketId, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  async message(ws: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    const attachment = attachmentOf(ws);
    if (!attachment) {
      ws.close(1011, "unknown socket");
      return;
    }
    const now = Date.now();
    noteMessage(ws, attachment, now, this.parts.liveness.lastSeenGranularityMs);
    const messages = parseFrame(frame, this.parts.socketLimits);
    if (!Array.isArray(messages)) {
      this.closeSocket(ws, messages.close, messages.reason);
      return;
    }
    // A frame's consecutive requests go to the pipeline together; anything else in
    // the frame first lets the requests before it go.
    let requests: RequestMessage[] = [];
    const sendRequests = (): void => {
      if (requests.length > 0) this.parts.pipeline.fromSocket(ws, attachment, requests, now);
      requests = [];
    };
    for (const message of messages) {
      if (message.t !== "req") sendRequests();
      switch (message.t) {
        case "ping":
          ws.send(PONG_FRAME);
          break;
        case "bad":
          if (!message.reply) {
            this.closeSocket(ws, 1008, message.problem);
            return;
          }
          this.parts.outbox.send(ws, message.reply);
          break;
        case "connect":
          this.admit(ws, attachment, message);
          break;
        case "req":
          requests.push(message);
          break;
      }
    }
    sendRequests();
  }

  /** Closes a socket after what it is owed; its sessions wait for a resume. */
  private closeSocket(ws: WebSocket, code: number, reason: string): void {
    console.warn(`session socket closed (${code}): ${reason}`);
    this.parts.outbox.flush(ws);
    this.parts.detach(ws);
    try {
      ws.close(code, reasonOf(reason));
    } catch {
      // already closed
    }
  }

  /** Runs a connect now or in its turn; refuses it (Throttled) when too many of the socket's already wait. */
  private admit(ws: WebSocket, attachment: SocketAttachment, m: ConnectMessage): void {
    if (this.admission.offer(attachment.socketId, () => this.connect(ws, attachment, m))) return;
    const { maxConnectsPerSecondPerSocket: rate, maxWaitingConnectsPerSocket: waiting } = this.parts.socketLimits;
    const error = new KeeperError("Throttled", `too many connects: a socket's are taken at ${rate} a second, and at most ${waiting} wait; retry later`);
    this.parts.outbox.send(ws, { t: "refused", ref: m.ref, error: error.toBody() });
  }

  /** A relay's resume: where the session's highest zxid stands, and what its client had been shown per shard at `seenZxid`, if known. */
  private relayedView(sessionId: number, seenZxid: number | undefined): { zxid?: number; shownAt?: Record<string, number> } {
    const zxid = this.parts.views.highest(sessionId);
    const shownAt = seenZxid === undefined ? undefined : this.parts.views.shownAt(sessionId, seenZxid);
    return { ...(zxid > 0 ? { zxid } : {}), ...(shownAt ? { shownAt } : {}) };
  }

  private connect(ws: WebSocket, attachment: SocketAttachment, m: ConnectMessage): void {
    const { store, outbox, socketLimits, liveness } = this.parts;
    const send = (message: ServerMessage): void => outbox.send(ws, message);
    const refuse = (err: KeeperError): void => send({ t: "refused", ref: m.ref, error: err.toBody() });
    const full = (): boolean => store.sessionsOnSocket(attachment.socketId).length >= socketLimits.maxSessionsPerSocket;
    try {
      if (m.clientAddress !== undefined && !attachment.relay) {
        return refuse(new KeeperError("NoAuth", "only a socket opened with the bearer token may name its clients' addresses"));
      }
      // Checked before anything changes: a bad bookmark refuses the connect (BadArguments).
      const seen = m.bookmark === undefined ? undefined : decodeBookmark(m.bookmark, attachment.namespace);
      if (m.sessionId === undefined) {
        if (full()) return refuse(new KeeperError("Throttled", `a socket may carry at most ${socketLimits.maxSessionsPerSocket} sessions`));
        const grant = this.parts.createSession(attachment.namespace, attachment.hostNumber, m.timeoutMs, attachment.socketId);
        if (m.clientAddress !== undefined) store.setClientAddress(grant.sessionId, m.clientAddress);
        if (seen) this.parts.mergeBookmark(grant.sessionId, seen);
        send({ t: "connected", ref: m.ref, ...grant, resumed: false });
        void this.parts.scheduleExpiry().catch((err) => console.error("setting the expiry alarm failed", err));
        return;
      }
      let row;
      try {
        // A wrong password refuses the newcomer; the session and its socket are not touched.
        row = liveness.authenticate(m.sessionId, m.password ?? "");
      } catch (err) {
        if (err instanceof KeeperError && err.keeperName === "AuthFailed") return refuse(err);
        return send({ t: "expired", ref: m.ref });
      }
      if (row.socket_id !== attachment.socketId) {
        if (full()) return refuse(new KeeperError("Throttled", `a socket may carry at most ${socketLimits.maxSessionsPerSocket} sessions`));
        const previous = liveness.socketOf(row);
        if (previous && previous !== ws) outbox.send(previous, { t: "closed", sid: row.id, reason: "moved" });
        store.setSocket(row.id, attachment.socketId);
      }
      liveness.renew(row);
      // The identity is the resuming connection's, as ZooKeeper's ip is per connection.
      store.setClientAddress(row.id, m.clientAddress ?? null);
      if (seen) this.parts.mergeBookmark(row.id, seen);
      send({ t: "connected", ref: m.ref, sessionId: row.id, password: row.password, timeoutMs: row.timeout_ms, resumed: true, ...(attachment.relay ? this.relayedView(row.id, m.seenZxid) : {}) });
      // Events that fired while it had no socket, in order.
      for (const event of this.parts.takeQueuedEvents(row.id)) send(event);
    } catch (err) {
      if (!(err instanceof KeeperError)) console.error("connect failed", err);
      refuse(err instanceof KeeperError ? err : new KeeperError("SystemError", "connect failed"));
    }
  }
}
