/**
 * The shard's tables as the replication core sees them: "znode" is the znodes
 * table, whole rows; "session" holds each session's stored replies (write_replies)
 * and its closure (closed_sessions); "log" is the core's JSON log, each write's
 * events beside its entry (the change log reads them there).
 */
import type { AnyLogEntry, LogEntry, RowKey } from "../replication/core/index.ts";
import { type Acl, type ChangeEventType, base64ToBytes, bytesToBase64, type Outcome } from "../../protocol/index.ts";
import { BYTES, BYTES_CODEC, JsonLogTable, type SqlTable } from "../replication/sqlite-storage.ts";
import { type ZnodeRow, ZnodeStore } from "./znode-store.ts";

/** A session's commit record: the reply to one of its writes, or its closure (no write of it runs again). */
export type SessionRecord = { session: number; cxid: number; reply: Outcome } | { session: number; closedAt: number };

/**
 * The shard's log entries: whole znode rows, session records, its own outcomes as
 * replies, and a write's events (none on the entries the core makes itself: a
 * snapshot, an epoch's start).
 */
export type ShardLogEntry = LogEntry<ZnodeRow, SessionRecord, Outcome> & { events?: LoggedEvent[] };

/** An event of a logged write, with the ACL that guards it: a replica's change log takes them from the entry. */
export interface LoggedEvent {
  event: ChangeEventType;
  path: string;
  acl: Acl[];
}

/**
 * How many cxids back a session's write replies are kept: a retried pipelined batch
 * finds every reply (a client keeps far fewer requests in flight).
 */
const REPLY_WINDOW = 1024;
/**
 * Replies older than the window are deleted at most once per this many cxids of a
 * session, not at each write (a statement per write): a session holds at most
 * REPLY_WINDOW + REPLY_PRUNE_EVERY of them.
 */
const REPLY_PRUNE_EVERY = 64;
/** Sessions whose last prune is remembered; past this the memory starts over (each then prunes once more). */
const PRUNES_REMEMBERED = 4096;
/** Closures are forgotten after a day (session ids are never reused). */
const CLOSURE_KEPT_MS = 24 * 3600 * 1000;
/** The cxid a closure sorts at, before the session's replies. */
const CLOSED = -1;

/** A session record's key: "session/cxid", or "session/closed". */
export function sessionKey(record: SessionRecord): string {
  return "closedAt" in record ? `${record.session}/closed` : `${record.session}/${record.cxid}`;
}

function parseSessionKey(key: RowKey): { session: number; cxid: number } {
  const [session, cxid] = String(key).split("/");
  return { session: Number(session), cxid: cxid === "closed" ? CLOSED : Number(cxid) };
}

export class ZnodeTable implements SqlTable {
  private readonly store: ZnodeStore;

  constructor(store: ZnodeStore) {
    this.store = store;
  }

  get(key: RowKey): ZnodeRow | undefined {
    return this.store.get(String(key));
  }

  put(_key: RowKey, row: unknown): void {
    this.store.put(row as ZnodeRow);
  }

  delete(key: RowKey): void {
    this.store.remove(String(key));
  }

  scan(after: RowKey | undefined, limit: number): Array<[RowKey, unknown]> {
    return this.store.rowsAfter(after === undefined ? undefined : String(after), limit).map((row) => [row.path, row]);
  }

  deleteAll(): void {
    this.store.removeAll();
  }
}

/** Stored replies and closures, one core table over write_replies and closed_sessions. */
export class SessionTable implements SqlTable {
  private readonly sql: SqlStorage;
  /** The cxid at which each session's replies were last pruned here (a new instance prunes at each session's first write). */
  private readonly prunedAt = new Map<number, number>();

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** The stored reply to a session's write with this cxid, if it was already applied. */
  replyFor(session: number, cxid: number): Outcome | undefined {
    const row = this.sql.exec<{ reply: string }>("SELECT reply FROM write_replies WHERE session_id = ? AND cxid = ?", session, cxid).toArray()[0];
    return row ? (JSON.parse(row.reply) as Outcome) : undefined;
  }

  get(key: RowKey): SessionRecord | undefined {
    const { session, cxid } = parseSessionKey(key);
    if (cxid !== CLOSED) {
      const reply = this.replyFor(session, cxid);
      return reply && { session, cxid, reply };
    }
    const row = this.sql.exec<{ closed_at: number }>("SELECT closed_at FROM closed_sessions WHERE session_id = ?", session).toArray()[0];
    return row && { session, closedAt: row.closed_at };
  }

  /** A reply keeps (at least) the session's last REPLY_WINDOW cxids; a closure drops its replies. */
  put(_key: RowKey, row: unknown): void {
    const record = row as SessionRecord;
    if ("closedAt" in record) {
      this.sql.exec("INSERT OR IGNORE INTO closed_sessions (session_id, closed_at) VALUES (?, ?)", record.session, record.closedAt);
      this.sql.exec("DELETE FROM closed_sessions WHERE closed_at < ?", record.closedAt - CLOSURE_KEPT_MS);
      this.sql.exec("DELETE FROM write_replies WHERE session_id = ?", record.session);
      this.prunedAt.delete(record.session);
      return;
    }
    this.sql.exec(
      `INSERT INTO write_replies (session_id, cxid, reply) VALUES (?, ?, ?)
       ON CONFLICT (session_id, cxid) DO UPDATE SET reply = excluded.reply`,
      record.session, record.cxid, JSON.stringify(record.reply),
    );
    this.pruneReplies(record.session, record.cxid);
  }

  /** Drops the session's replies older than the window, once every REPLY_PRUNE_EVERY cxids. */
  private pruneReplies(session: number, cxid: number): void {
    const last = this.prunedAt.get(session);
    if (last !== undefined && cxid >= last && cxid - last < REPLY_PRUNE_EVERY) return;
    if (this.prunedAt.size >= PRUNES_REMEMBERED) this.prunedAt.clear();
    this.prunedAt.set(session, cxid);
    this.sql.exec("DELETE FROM write_replies WHERE session_id = ? AND cxid <= ?", session, cxid - REPLY_WINDOW);
  }

  delete(key: RowKey): void {
    const { session, cxid } = parseSessionKey(key);
    if (cxid === CLOSED) this.sql.exec("DELETE FROM closed_sessions WHERE session_id = ?", session);
    else this.sql.exec("DELETE FROM write_replies WHERE session_id = ? AND cxid = ?", session, cxid);
  }

  scan(after: RowKey | undefined, limit: number): Array<[RowKey, unknown]> {
    const from = after === undefined ? { session: Number.MIN_SAFE_INTEGER, cxid: CLOSED } : parseSessionKey(after);
    return this.sql
      .exec<{ session_id: number; cxid: number; reply: string }>(
        `SELECT session_id, cxid, reply FROM (
           SELECT session_id, cxid, reply FROM write_replies
           UNION ALL SELECT session_id, ${CLOSED} AS cxid, closed_at AS reply FROM closed_sessions)
         WHERE session_id > ?1 OR (session_id = ?1 AND cxid > ?2) ORDER BY session_id, cxid LIMIT ?3`,
        from.session, from.cxid, limit,
      )
      .toArray()
      .map(({ session_id: session, cxid, reply }) => {
        const record: SessionRecord = cxid === CLOSED ? { session, closedAt: Number(reply) } : { session, cxid, reply: JSON.parse(reply) as Outcome };
        return [sessionKey(record), record];
      });
  }

  deleteAll(): void {
    this.prunedAt.clear();
    this.sql.exec("DELETE FROM write_replies");
    this.sql.exec("DELETE FROM closed_sessions");
  }
}

const encoder = new TextEncoder();
/** The text of each entry a write built, so storing it does not encode it again. */
const entryTexts = new WeakMap<object, string>();
/** Texts up to this many UTF-16 units are measured in a reused buffer (an entry's size is all that is wanted of its bytes). */
const SCRATCH_UNITS = 1 << 16;
/** At most 3 bytes of UTF-8 per UTF-16 unit. */
const scratch = new Uint8Array(3 * SCRATCH_UNITS);

/** The UTF-8 length of `text`, without keeping its bytes. */
function utf8Length(text: string): number {
  return text.length <= SCRATCH_UNITS ? encoder.encodeInto(text, scratch).written : encoder.encode(text).byteLength;
}

/**
 * A write's entry as it is stored: values in base64, as decodeRow reads them back. Only
 * znode rows hold bytes, so no replacer runs over every value of the entry.
 */
function writeText(fields: Omit<ShardLogEntry, "size"> | ShardLogEntry): string {
  const effects = fields.effects.map((e) => (e.table === "znode" && e.row?.data ? { ...e, row: { ...e.row, data: { [BYTES]: bytesToBase64(e.row.data) } } } : e));
  return JSON.stringify({ ...fields, effects });
}

/**
 * An entry's text to store: sizedEntry's when it made the entry here (a leader's
 * write), else a write's or a closure's encoded as sizedEntry does (a replica's: the
 * text does not survive RPC); the core's own (a snapshot of the initial rows) as any row.
 */
function entryText(entry: ShardLogEntry): string {
  const made = entryTexts.get(entry);
  if (made !== undefined) return made;
  return entry.kind === "write" || entry.kind === "close-session" ? writeText(entry) : BYTES_CODEC.encode(entry);
}

/**
 * A write's log entry with its size: the UTF-8 bytes of its text as stored (writeText),
 * encoded once for both.
 */
export function sizedEntry(fields: Omit<ShardLogEntry, "size">): ShardLogEntry {
  const text = writeText(fields);
  const size = utf8Length(text);
  const entry = { ...fields, size };
  entryTexts.set(entry, `${text.slice(0, -1)},"size":${size}}`);
  return entry;
}

/** An entry as sizedEntry stored it: only znode rows' values are bytes (no reviver over every value). */
function decodeEntry(text: string): ShardLogEntry {
  const entry = JSON.parse(text) as ShardLogEntry;
  for (const effect of entry.effects) {
    const data = effect.table === "znode" ? (effect.row?.data as unknown as Record<string, unknown> | null | undefined) : undefined;
    const base64 = data?.[BYTES];
    if (effect.table === "znode" && effect.row && typeof base64 === "string") effect.row.data = base64ToBytes(base64);
  }
  return entry;
}

/**
 * The core's log, each write's events (JSON) in the events column beside its entry:
 * the shard's change log (change-log.ts) reads them from there, and they go with it.
 */
export class LogTable extends JsonLogTable {
  constructor(sql: SqlStorage) {
    super(sql, { encode: (row) => entryText(row as ShardLogEntry), decode: decodeEntry }, (entry) => ((entry as ShardLogEntry).events?.length ? JSON.stringify((entry as ShardLogEntry).events) : null));
  }
}
