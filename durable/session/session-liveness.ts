/**
 * Whether a session is live, and keeping it so: the one place that decides a session
 * is open and within its deadline, and that moves the deadline when the session
 * shows life. A session on a socket lives while the socket does: pings are answered
 * by the runtime without waking the object, so its deadline is moved here, from the
 * socket's last sign of life, when it is next looked at. A request, a keep-alive and
 * a resume renew it for its whole timeout from now.
 */
import { KeeperError } from "../../protocol/index.ts";
import { lastSignOfLife } from "./session-sockets.ts";
import { type SessionRow, type SessionStore, expired, samePassword } from "./session-store.ts";

export class SessionLiveness {
  private readonly store: SessionStore;
  private readonly state: DurableObjectState;
  /** How stale a socket's saved last message may be (session-sockets.ts, noteMessage): the tick. */
  readonly lastSeenGranularityMs: number;
  /**
   * Open sockets by tag, as accepted or found since the object started (a woken one
   * finds them again by tag); a socket that goes is dropped (`gone`).
   */
  private readonly sockets = new Map<string, WebSocket>();

  constructor(store: SessionStore, state: DurableObjectState, lastSeenGranularityMs: number) {
    this.store = store;
    this.state = state;
    this.lastSeenGranularityMs = lastSeenGranularityMs;
  }

  /** The socket carrying a session now, if it is still open. */
  socketOf(row: Pick<SessionRow, "socket_id">): WebSocket | undefined {
    if (!row.socket_id) return undefined;
    let ws = this.sockets.get(row.socket_id);
    // One closing, its close not yet handled (`gone`), is asked of the runtime as before.
    if (ws?.readyState !== WebSocket.OPEN) {
      ws = this.state.getWebSockets(row.socket_id)[0];
      if (ws) this.sockets.set(row.socket_id, ws);
    }
    return ws;
  }

  /** A socket was accepted with tag `socketId`. */
  accepted(socketId: string, ws: WebSocket): void {
    this.sockets.set(socketId, ws);
  }

  /** The socket tagged `socketId` closed or failed (its sessions are detached from it). */
  gone(socketId: string): void {
    this.sockets.delete(socketId);
  }

  /**
   * The session's deadline, moved later if its socket has shown life since it was
   * set (pings do not wake the object, so they are read from the socket here).
   */
  deadlineOf(row: SessionRow): number {
    const ws = this.socketOf(row);
    if (!ws) return row.deadline;
    const live = lastSignOfLife(ws, this.state, this.lastSeenGranularityMs) + row.timeout_ms;
    if (live <= row.deadline) return row.deadline;
    this.store.extend(row.id, live);
    return live;
  }

  /** The session if it is open and alive (an alarm that is late does not revive it): SessionExpired otherwise. */
  liveRow(sessionId: number): SessionRow {
    const row = this.store.row(sessionId);
    if (!row || row.state !== "open") throw expired(sessionId);
    // Its socket's signs of life are read only when the deadline known has passed.
    if (row.deadline < Date.now() && this.deadlineOf(row) < Date.now()) throw expired(sessionId);
    return row;
  }

  /** The open session with this id and password: SessionExpired, or AuthFailed on a wrong password (the session is not touched). */
  authenticate(sessionId: number, password: string): SessionRow {
    const row = this.liveRow(sessionId);
    if (typeof password !== "string" || !samePassword(row.password, password)) throw new KeeperError("AuthFailed", "wrong session password");
    return row;
  }

  /** Renews a live session for its whole timeout from now: it has just shown life. */
  renew(row: Pick<SessionRow, "id" | "timeout_ms">): void {
    this.store.touch(row.id, row.timeout_ms);
  }

  /**
   * The live session, renewed: the check and renewal of a request, or of a run of
   * requests, of a session already authenticated (by its socket).
   *
   * @example
   * const { timeout_ms } = liveness.keepLive(sessionId); // or SessionExpired
   */
  keepLive(sessionId: number): SessionRow {
    const row = this.liveRow(sessionId);
    this.renew(row);
    return row;
  }

  /** `keepLive` of a caller that proves it holds the session by its password (RPC): AuthFailed on a wrong one. */
  keepLiveAs(sessionId: number, password: string): SessionRow {
    const row = this.authenticate(sessionId, password);
    this.renew(row);
    return row;
  }
}
