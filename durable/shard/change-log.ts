/**
 * The shard's change log: the events of each committed write, in commit order,
 * with the node's resulting row and the ACL that guards each, for watches, resume
 * and event streams. It indexes the replication log (replicated-tables.ts): the
 * zxids come from it, and it is trimmed with it, entry by entry in log order.
 */
import { type Acl, type ChangeEventType, type GuardedChange } from "../../protocol/index.ts";

/** Entries per INSERT: 7 values each, within SQLite's 100 bound parameters per statement (sql-chunks.ts). */
const ENTRIES_PER_INSERT = 14;

export class ChangeLog {
  private seq = 0;
  /** The events of the write in progress (each an INSERT's values), inserted when it finishes. */
  private entries: unknown[][] = [];
  protected readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** The sequence and epoch of a shard from before the replication log, if any (its log continues from them). */
  legacyZxid(): { epoch: number; counter: number } | undefined {
    const row = this.sql
      .exec<{ epoch: number | null; counter: number | null }>(
        "SELECT (SELECT value FROM meta WHERE key = 'epoch') AS epoch, (SELECT value FROM meta WHERE key = 'counter') AS counter",
      )
      .one();
    return row.epoch === null ? undefined : { epoch: row.epoch, counter: row.counter ?? 0 };
  }

  /** Forgets the legacy sequence once the replication log holds it. */
  dropLegacy(): void {
    this.sql.exec("DELETE FROM meta WHERE key IN ('epoch', 'counter', 'log_bytes')");
  }

  /**
   * Appends one event of the current write with the ACL that guards it (see
   * GuardedChange). The rows and values are the replication log's (its entry for the zxid).
   */
  append(zxid: number, event: ChangeEventType, path: string, acl: Acl[], sessionId: number, cxid: number | undefined): void {
    this.entries.push([zxid, this.seq++, event, path, sessionId, cxid ?? null, JSON.stringify(acl)]);
  }

  /** Ends a write: inserts its events (one statement, a few for a write of many events). */
  finishWrite(): void {
    const entries = this.entries;
    this.entries = [];
    this.seq = 0;
    for (let i = 0; i < entries.length; i += ENTRIES_PER_INSERT) {
      const chunk = entries.slice(i, i + ENTRIES_PER_INSERT);
      this.sql.exec(
        `INSERT INTO change_log (zxid, seq, event, path, session_id, cxid, acl) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
        ...chunk.flat(),
      );
    }
  }

  /** Deletes the events of zxids up to `zxid` (the replication log trimmed them). */
  dropThrough(zxid: number): void {
    this.sql.exec("DELETE FROM change_log WHERE zxid <= ?", zxid);
  }

  dropAll(): void {
    this.sql.exec("DELETE FROM change_log");
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
}

/**
 * A replica's change log: the events of its log entries, read from the log's events
 * column (each entry's events as JSON, beside it), not written a second time. So an
 * applied entry writes its rows and its log entry only, and trimming the entry drops
 * its events. The same events, in the same order, as its leader's change log.
 */
export class ReplicaChangeLog extends ChangeLog {
  override since(zxid: number, limit = 10_000): GuardedChange[] {
    return this.sql
      .exec<{ zxid: number; event: ChangeEventType; path: string; acl: string | null }>(
        `SELECT log.key AS zxid, json_extract(e.value, '$.event') AS event, json_extract(e.value, '$.path') AS path, json_extract(e.value, '$.acl') AS acl
         FROM replication_log AS log, json_each(log.events) AS e WHERE log.key > ? AND log.events IS NOT NULL ORDER BY log.key, e.key LIMIT ?`,
        zxid,
        limit,
      )
      .toArray()
      .map(({ zxid, event, path, acl }) => ({ zxid, event, path, acl: acl === null ? undefined : (JSON.parse(acl) as Acl[]) }));
  }

  /** Nothing to drop: an entry's events go with it. */
  override dropThrough(): void {}

  override dropAll(): void {}
}
