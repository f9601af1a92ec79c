/**
 * A session host's rows: its sessions (password, timeout, deadline, cxids, state,
 * and the socket carrying it, if any), the shards that may hold each session's
 * ephemerals, and the identities each has added (addAuth).
 *
 * What changes with nearly every request, a session's deadline and its last cxid,
 * is kept in memory and written to its row only when correctness needs it (a
 * write is a commit, an fsync that the output gate makes the next RPC wait for):
 * - a deadline, once the row's lags the session's by more than DEADLINE_SLACK of
 *   its timeout (and by the alarm, which follows rows). After a restart a session
 *   has at least (1 - DEADLINE_SLACK) of its timeout from its last renewal.
 * - cxids, as a ceiling reserved CXID_BLOCK at a time by writes: after a restart
 *   numbering goes on above the ceiling, so a cxid a shard may hold a reply for is
 *   never given to another write. Reads need no reservation (shards keep no reply
 *   for them).
 *
 * The host is the only writer of its rows, and writes them all through this store;
 * so the rows, identities and namespace it has read are kept in memory and kept true
 * by its writes, and a session's requests read no storage to find their session.
 */
import { type Id, KeeperError, SESSION_PASSWORD_BYTES, WRITE_OPS, sessionPasswordText } from "../../protocol/index.ts";
import { addColumnIfMissing } from "../base/sql-columns.ts";
import type { Mount } from "../directory/mount-table.ts";
import { sessionIdHex } from "../../protocol/session-ids.ts";

/** How far a session's deadline in memory may run ahead of its row's, as a fraction of its timeout. */
export const DEADLINE_SLACK = 1 / 3;
/** How many cxids a write reserves in the row at once: a session's writes commit the host once per this many. */
export const CXID_BLOCK = 128;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID`,
  // state: open, or closing (its ephemerals are being deleted; it takes no more
  // requests). deadline: when an open session expires unless its socket shows life,
  // or when the alarm retries a closing one (the host may hold a later one in memory).
  // cxid: the highest request number the session may have used for a write.
  // socket_id: the tag of the socket carrying it (NULL: none; it lives until its deadline).
  // client_ip: the address of the client a relaying socket (the bridge) carries it for;
  // NULL: the socket's own address is the session's ip identity.
  `CREATE TABLE IF NOT EXISTS sessions (
     id INTEGER PRIMARY KEY,
     password TEXT NOT NULL,
     timeout_ms INTEGER NOT NULL,
     deadline INTEGER NOT NULL,
     cxid INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL DEFAULT 'open'
   )`,
  `CREATE INDEX IF NOT EXISTS sessions_by_deadline ON sessions (deadline)`,
  // Shards that may hold a session's ephemerals: written before a create is sent there.
  `CREATE TABLE IF NOT EXISTS session_shards (
     session_id INTEGER NOT NULL,
     shard TEXT NOT NULL,
     root TEXT NOT NULL,
     PRIMARY KEY (session_id, shard)
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS session_auth (
     session_id INTEGER NOT NULL,
     scheme TEXT NOT NULL,
     id TEXT NOT NULL,
     PRIMARY KEY (session_id, scheme, id)
   ) WITHOUT ROWID`,
];

export type SessionRow = {
  id: number;
  password: string;
  timeout_ms: number;
  deadline: number;
  cxid: number;
  state: string;
  socket_id: string | null;
  client_ip: string | null;
};

const ROW_COLUMNS = "id, password, timeout_ms, deadline, cxid, state, socket_id, client_ip";

export function randomPassword(): string {
  return sessionPasswordText(crypto.getRandomValues(new Uint8Array(SESSION_PASSWORD_BYTES)));
}

/** Compares in time independent of where the strings differ. */
export function samePassword(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

export function expired(sessionId: number): KeeperError {
  return new KeeperError("SessionExpired", `session ${sessionIdHex(sessionId)} has expired or was closed`);
}

/** A session's cxids since the host started: the last one given, and the ceiling its row holds. */
interface Cxids {
  last: number;
  reserved: number;
}

export class SessionStore {
  private readonly sql: SqlStorage;
  /** Deadlines later than their rows', not yet worth writing. */
  private readonly deadlines = new Map<number, number>();
  /** Sessions' cxids since the host started (read from the row at a session's first request). */
  private readonly cxids = new Map<number, Cxids>();
  /** Sessions' rows as stored, once read (a row inserted since is read at its first use). */
  private readonly rows = new Map<number, SessionRow>();
  /** The identities each session added, once read. */
  private readonly auth = new Map<number, Id[]>();
  /** The namespace the host serves, once claimed (it never changes). */
  private claimed: string | undefined;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Creates the tables; adds the columns a sessions table made by an older version lacks. */
  initialize(): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
    addColumnIfMissing(this.sql, "sessions", "socket_id", "TEXT");
    addColumnIfMissing(this.sql, "sessions", "client_ip", "TEXT");
    this.sql.exec("CREATE INDEX IF NOT EXISTS sessions_by_socket ON sessions (socket_id)");
  }

  meta(key: string): string | number | undefined {
    return this.sql.exec<{ value: string | number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  /** Records the host's namespace at its first use; a host serves one namespace only. */
  claimNamespace(namespace: string): void {
    if (this.claimed === undefined) this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('namespace', ?)", namespace);
    const stored = this.namespace();
    if (stored !== namespace) throw new KeeperError("SystemError", `session host of namespace ${String(stored)} asked to serve ${namespace}`);
  }

  /** The namespace the host serves, if it has been claimed. */
  namespace(): string | undefined {
    if (this.claimed === undefined) {
      const stored = this.meta("namespace");
      if (typeof stored === "string") this.claimed = stored;
    }
    return this.claimed;
  }

  /** The session as the host knows it now: its row, with its deadline and last cxid from memory. */
  row(sessionId: number): SessionRow | undefined {
    const row = this.stored(sessionId);
    return row && this.withMemory({ ...row });
  }

  /** The session's row as stored (kept in memory once read; not to be changed by callers). */
  private stored(sessionId: number): SessionRow | undefined {
    let row = this.rows.get(sessionId);
    if (!row) {
      row = this.sql.exec<SessionRow>(`SELECT ${ROW_COLUMNS} FROM sessions WHERE id = ?`, sessionId).toArray()[0];
      if (row) this.rows.set(sessionId, row);
    }
    return row;
  }

  private withMemory(row: SessionRow): SessionRow {
    const deadline = this.deadlines.get(row.id);
    if (deadline !== undefined && deadline > row.deadline) row.deadline = deadline;
    const cxids = this.cxids.get(row.id);
    if (cxids) row.cxid = cxids.last;
    return row;
  }

  /**
   * Moves an open session's deadline to `deadline`, if that is later: in memory, and
   * in its row once the row's lags by more than DEADLINE_SLACK of the timeout, or
   * now if `write` (the alarm, which is set from rows).
   */
  extend(sessionId: number, deadline: number, write = false): void {
    const row = this.stored(sessionId);
    if (!row || row.state !== "open") return;
    const target = Math.max(deadline, this.deadlines.get(sessionId) ?? 0);
    if (target <= row.deadline) {
      this.deadlines.delete(sessionId);
    } else if (write || target - row.deadline > row.timeout_ms * DEADLINE_SLACK) {
      this.sql.exec("UPDATE sessions SET deadline = ? WHERE id = ?", target, sessionId);
      row.deadline = target;
      this.deadlines.delete(sessionId);
    } else {
      this.deadlines.set(sessionId, target);
    }
  }

  /** A renewal by a request or keep-alive: the timeout from now. */
  touch(sessionId: number, timeoutMs: number): void {
    this.extend(sessionId, Date.now() + timeoutMs);
  }

  /** Marks a session closing, with the alarm's retry time as its deadline. */
  markClosing(sessionId: number, retryAt: number): void {
    this.sql.exec("UPDATE sessions SET state = 'closing', deadline = ? WHERE id = ?", retryAt, sessionId);
    this.rows.delete(sessionId);
    this.deadlines.delete(sessionId);
  }

  setSocket(sessionId: number, socketId: string | null): void {
    this.sql.exec("UPDATE sessions SET socket_id = ? WHERE id = ?", socketId, sessionId);
    this.rows.delete(sessionId);
  }

  /** The address of the client a relaying socket carries the session for (null: the socket's own). */
  setClientAddress(sessionId: number, address: string | null): void {
    this.sql.exec("UPDATE sessions SET client_ip = ? WHERE id = ?", address, sessionId);
    this.rows.delete(sessionId);
  }

  sessionsOnSocket(socketId: string): SessionRow[] {
    return this.sql
      .exec<SessionRow>(
        `SELECT ${ROW_COLUMNS} FROM sessions WHERE socket_id = ?`,
        socketId,
      )
      .toArray()
      .map((row) => this.withMemory(row));
  }

  /** Up to `limit` open sessions carried by a socket, by id. */
  openOnSockets(limit: number): SessionRow[] {
    return this.sql
      .exec<SessionRow>(
        `SELECT ${ROW_COLUMNS} FROM sessions WHERE state = 'open' AND socket_id IS NOT NULL ORDER BY id LIMIT ?`,
        limit,
      )
      .toArray()
      .map((row) => this.withMemory(row));
  }

  /** Sessions said to be on a socket, by socket. */
  attachedSockets(): string[] {
    return this.sql.exec<{ socket_id: string }>("SELECT DISTINCT socket_id FROM sessions WHERE socket_id IS NOT NULL").toArray().map((r) => r.socket_id);
  }

  /** The socket is gone: its sessions live on for their timeout from now, waiting for a resume. */
  detachSocket(socketId: string, now: number): void {
    this.sql.exec("UPDATE sessions SET socket_id = NULL, deadline = max(deadline, ? + timeout_ms) WHERE socket_id = ? AND state = 'open'", now, socketId);
    this.sql.exec("UPDATE sessions SET socket_id = NULL WHERE socket_id = ?", socketId);
    for (const [id, row] of this.rows) if (row.socket_id === socketId) this.rows.delete(id);
  }

  /** Records a shard that may hold the session's ephemerals (before a create is sent there). */
  recordShard(sessionId: number, mount: Mount): void {
    this.sql.exec("INSERT OR IGNORE INTO session_shards (session_id, shard, root) VALUES (?, ?, ?)", sessionId, mount.shard, mount.prefix);
  }

  shardsOf(sessionId: number): Mount[] {
    return this.sql
      .exec<{ shard: string; root: string }>("SELECT shard, root FROM session_shards WHERE session_id = ?", sessionId)
      .toArray()
      .map((r) => ({ shard: r.shard, prefix: r.root }));
  }

  dropShard(sessionId: number, shard: string): void {
    this.sql.exec("DELETE FROM session_shards WHERE session_id = ? AND shard = ?", sessionId, shard);
  }

  /**
   * The cxid of a session's next request (`op`): the client's own (a retry, or
   * ahead), or the next one. A write's cxid is reserved in the row before it is
   * used (a block at a time), so no later write, also after a restart, gets it.
   */
  nextCxid(sessionId: number, op: string, given: number | undefined): number {
    if (given !== undefined && (!Number.isSafeInteger(given) || given <= 0)) throw new KeeperError("BadArguments", "a cxid is a positive integer");
    const cxids = this.cxidsOf(sessionId);
    const cxid = given ?? cxids.last + 1;
    cxids.last = Math.max(cxids.last, cxid);
    if (WRITE_OPS.has(op) && cxid > cxids.reserved) {
      cxids.reserved = Math.min(cxid + CXID_BLOCK - 1, Number.MAX_SAFE_INTEGER);
      this.sql.exec("UPDATE sessions SET cxid = ? WHERE id = ?", cxids.reserved, sessionId);
      const row = this.rows.get(sessionId);
      if (row) row.cxid = cxids.reserved;
    }
    return cxid;
  }

  /** A session's cxids; at its first request since the host started, numbering goes on above the row's ceiling. */
  private cxidsOf(sessionId: number): Cxids {
    let cxids = this.cxids.get(sessionId);
    if (!cxids) {
      const reserved = this.stored(sessionId)?.cxid;
      if (reserved === undefined) throw expired(sessionId);
      cxids = { last: reserved, reserved };
      this.cxids.set(sessionId, cxids);
    }
    return cxids;
  }

  /** The identities a session added (not to be changed by callers). */
  authIds(sessionId: number): readonly Id[] {
    let ids = this.auth.get(sessionId);
    if (!ids) {
      ids = this.sql.exec<{ scheme: string; id: string }>("SELECT scheme, id FROM session_auth WHERE session_id = ? ORDER BY scheme, id", sessionId).toArray();
      this.auth.set(sessionId, ids);
    }
    return ids;
  }

  addAuthIds(sessionId: number, ids: Id[]): void {
    for (const { scheme, id } of ids) this.sql.exec("INSERT OR IGNORE INTO session_auth (session_id, scheme, id) VALUES (?, ?, ?)", sessionId, scheme, id);
    this.auth.delete(sessionId);
  }

  /** Removes a session's row and identities (its shards and watches are dropped by their owners). */
  delete(sessionId: number): void {
    this.sql.exec("DELETE FROM session_auth WHERE session_id = ?", sessionId);
    this.sql.exec("DELETE FROM sessions WHERE id = ?", sessionId);
    this.rows.delete(sessionId);
    this.auth.delete(sessionId);
    this.deadlines.delete(sessionId);
    this.cxids.delete(sessionId);
  }
}
