/**
 * The shard's sequencer and ordered change log. Every committed write takes the
 * next zxid (epoch << 32 | counter, read from SQLite on the write path) and appends
 * its events; the log keeps a bounded window of zxids and a bounded number of bytes
 * (its total is kept in meta, so bounding it never sums the log). It is trimmed by
 * whole zxids from the oldest, so a zxid older than the oldest it holds still means
 * "cannot tell" to its readers, and a newer one means "all there is".
 */
import { type Acl, type ChangeEventType, type GuardedChange, makeZxid, type Outcome, zxidCounter, zxidEpoch } from "../../protocol/index.ts";
import { type ZnodeRow } from "./znode-store.ts";

const TRIM_EVERY = 256;
/** Zxids read per page when freeing bytes: a write at the bound frees about its own size, a zxid or two. */
const FREE_PAGE_ZXIDS = 16;
/** Entries per INSERT: 9 values each, within SQLite's 100 bound parameters per statement (sql-chunks.ts). */
const ENTRIES_PER_INSERT = 11;
/** An entry's bytes: its path, row (JSON), value and ACL (JSON), as SQLite stores them. */
const ENTRY_BYTES = "length(CAST(path AS BLOB)) + coalesce(length(CAST(node AS BLOB)), 0) + coalesce(length(data), 0) + coalesce(length(CAST(acl AS BLOB)), 0)";
const encoder = new TextEncoder();
/**
 * How many cxids back a session's write replies are kept: a retried pipelined batch
 * finds every reply (a client keeps far fewer requests in flight).
 */
const REPLY_WINDOW = 1024;

/** How much change log a shard keeps (Limits.changeLogWindow and Limits.maxChangeLogBytes). */
export interface LogBounds {
  window: number;
  maxBytes: number;
}

export class ChangeLog {
  private seq = 0;
  /**
   * The write in progress: its counter, the byte total as it found it plus its
   * entries' bytes, and its entries (each an INSERT's values). Read from meta when
   * it takes its zxid (a write never trusts a cached field: DESIGN.md), stored when
   * it finishes.
   */
  private writing: { counter: number; logBytes: number; entries: unknown[][] } = { counter: 0, logBytes: 0, entries: [] };
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  private meta(key: string): number | undefined {
    const row = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  private setMeta(key: string, value: number | string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** The sequence and the byte total, in one statement (a lookup by key each). */
  private stored(): { epoch: number; counter: number; logBytes: number } {
    const row = this.sql
      .exec<{ epoch: number | null; counter: number | null; log_bytes: number | null }>(
        `SELECT (SELECT value FROM meta WHERE key = 'epoch') AS epoch, (SELECT value FROM meta WHERE key = 'counter') AS counter,
           (SELECT value FROM meta WHERE key = 'log_bytes') AS log_bytes`,
      )
      .one();
    return { epoch: row.epoch ?? 1, counter: row.counter ?? 0, logBytes: row.log_bytes ?? 0 };
  }

  /** Starts the sequence at epoch 1 on a new shard, and the byte total on a shard that has none. */
  initialize(): void {
    if (this.meta("epoch") === undefined) {
      this.setMeta("epoch", 1);
      this.setMeta("counter", 0);
    }
    // Shards from before the byte bound: sum their log once.
    if (this.meta("log_bytes") === undefined) {
      this.setMeta("log_bytes", this.sql.exec<{ n: number }>(`SELECT coalesce(sum(${ENTRY_BYTES}), 0) AS n FROM change_log`).one().n);
    }
  }

  /** The bytes the log holds now. */
  bytes(): number {
    return this.stored().logBytes;
  }

  /** The last committed zxid. */
  lastZxid(): number {
    const { epoch, counter } = this.stored();
    return makeZxid(epoch, counter);
  }

  /**
   * Moves the sequence on to `zxid` if it is behind (a restore: the restored nodes'
   * zxids must stay below every later write's).
   */
  advanceTo(zxid: number): void {
    if (zxid <= this.lastZxid()) return;
    this.setMeta("epoch", zxidEpoch(zxid));
    this.setMeta("counter", zxidCounter(zxid));
  }

  /**
   * Takes the next zxid, stored by `finishWrite`. Call inside the write's
   * transaction, so a rollback returns it.
   */
  nextZxid(): number {
    const { epoch, counter, logBytes } = this.stored();
    this.writing = { counter: counter + 1, logBytes, entries: [] };
    this.seq = 0;
    return makeZxid(epoch, counter + 1);
  }

  /**
   * Appends one event of the current write, with the node's resulting row when it
   * still exists and the ACL that guards the event (see GuardedChange).
   */
  append(zxid: number, event: ChangeEventType, path: string, acl: Acl[], row: ZnodeRow | undefined, sessionId: number, cxid: number | undefined): void {
    const node = row ? JSON.stringify({ ...row, data: undefined }) : null;
    const data = row && (event === "NodeCreated" || event === "NodeDataChanged") ? row.data : null;
    const aclJson = JSON.stringify(acl);
    this.writing.logBytes += encoder.encode(path).byteLength + (node === null ? 0 : encoder.encode(node).byteLength) + (data?.byteLength ?? 0) + encoder.encode(aclJson).byteLength;
    this.writing.entries.push([zxid, this.seq++, event, path, node, data, sessionId, cxid ?? null, aclJson]);
  }

  /**
   * Ends a write: inserts its entries (one statement, a few for a write of many
   * events), counts them into the byte total, drops whole zxids from the oldest
   * (those older than the window, now and then, and as many as keep the total
   * within `maxBytes`; the current write's zxid stays whatever its size), and
   * stores the sequence and the total.
   */
  finishWrite(zxid: number, bounds: LogBounds): void {
    const { entries } = this.writing;
    for (let i = 0; i < entries.length; i += ENTRIES_PER_INSERT) {
      const chunk = entries.slice(i, i + ENTRIES_PER_INSERT);
      this.sql.exec(
        `INSERT INTO change_log (zxid, seq, event, path, node, data, session_id, cxid, acl) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
        ...chunk.flat(),
      );
    }
    let total = this.writing.logBytes;
    if (zxid % TRIM_EVERY === 0) total -= this.dropThrough(zxid - bounds.window);
    while (total > bounds.maxBytes) {
      const oldest = this.oldestZxidsToFree(zxid, total - bounds.maxBytes);
      if (oldest === undefined) break;
      this.sql.exec("DELETE FROM change_log WHERE zxid <= ?", oldest.through);
      total -= oldest.freed;
    }
    this.sql.exec("UPDATE meta SET value = CASE key WHEN 'counter' THEN ? ELSE ? END WHERE key IN ('counter', 'log_bytes')", this.writing.counter, total);
  }

  /**
   * The zxid through which dropping the oldest entries frees `bytes`, and what that
   * frees, looking at one page of the oldest zxids before `current` (the last of
   * them if they free less); undefined when nothing before `current` is left. Read
   * to the end (see PAGE_ROWS in znode-store.ts): a statement left unfinished would
   * stop SQLite checkpointing.
   */
  private oldestZxidsToFree(current: number, bytes: number): { through: number; freed: number } | undefined {
    const page = this.sql
      .exec<{ zxid: number; bytes: number }>(
        `SELECT zxid, sum(${ENTRY_BYTES}) AS bytes FROM change_log WHERE zxid < ? GROUP BY zxid ORDER BY zxid LIMIT ?`,
        current,
        FREE_PAGE_ZXIDS,
      )
      .toArray();
    let freed = 0;
    for (const row of page) {
      freed += row.bytes;
      if (freed >= bytes) return { through: row.zxid, freed };
    }
    const last = page[page.length - 1];
    return last && { through: last.zxid, freed };
  }

  /** Deletes the entries of zxids up to `zxid`; answers their bytes. */
  private dropThrough(zxid: number): number {
    const freed = this.sql.exec<{ n: number }>(`SELECT coalesce(sum(${ENTRY_BYTES}), 0) AS n FROM change_log WHERE zxid <= ?`, zxid).one().n;
    if (freed > 0) this.sql.exec("DELETE FROM change_log WHERE zxid <= ?", zxid);
    return freed;
  }

  /**
   * Events committed after `zxid`, in commit order (for watches and resume), each
   * with its ACL. Rows logged before ACLs were recorded fall back to their node's
   * row; a delete of that time has neither, and shows to super only.
   */
  since(zxid: number, limit = 10_000): GuardedChange[] {
    return this.sql
      .exec<{ zxid: number; event: ChangeEventType; path: string; acl: string | null }>(
        "SELECT zxid, event, path, coalesce(acl, json_extract(node, '$.acl')) AS acl FROM change_log WHERE zxid > ? ORDER BY zxid, seq LIMIT ?",
        zxid,
        limit,
      )
      .toArray()
      .map(({ zxid, event, path, acl }) => ({ zxid, event, path, acl: acl === null ? undefined : (JSON.parse(acl) as Acl[]) }));
  }

  /** The oldest zxid still in the log, or undefined when it is empty. */
  oldestZxid(): number | undefined {
    const row = this.sql.exec<{ z: number | null }>("SELECT min(zxid) AS z FROM change_log").one();
    return row.z ?? undefined;
  }

  /** The stored reply to a session's write with this cxid, if it was already applied. */
  replyFor(sessionId: number, cxid: number): Outcome | undefined {
    const row = this.sql
      .exec<{ reply: string }>("SELECT reply FROM write_replies WHERE session_id = ? AND cxid = ?", sessionId, cxid)
      .toArray()[0];
    return row ? (JSON.parse(row.reply) as Outcome) : undefined;
  }

  /** Stores a write's reply, keeping the session's last REPLY_WINDOW cxids. */
  rememberReply(sessionId: number, cxid: number, reply: Outcome): void {
    this.sql.exec(
      `INSERT INTO write_replies (session_id, cxid, reply) VALUES (?, ?, ?)
       ON CONFLICT (session_id, cxid) DO UPDATE SET reply = excluded.reply`,
      sessionId, cxid, JSON.stringify(reply),
    );
    this.sql.exec("DELETE FROM write_replies WHERE session_id = ? AND cxid <= ?", sessionId, cxid - REPLY_WINDOW);
  }

  forgetSession(sessionId: number): void {
    this.sql.exec("DELETE FROM write_replies WHERE session_id = ?", sessionId);
  }
}
