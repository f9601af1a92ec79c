/**
 * The shard's change log: the events of each committed write, in commit order, each
 * with the ACL that guards it, for watches, resume and event streams. They are kept
 * beside their replication log entry (LogTable's events column, replicated-tables.ts),
 * not written a second time: a leader's from its writes, a replica's from the entries
 * it applies, so an object keeps its change log when its role changes, and trimming
 * an entry drops its events.
 */
import { type Acl, type ChangeEventType, type GuardedChange } from "../../protocol/index.ts";

export class ChangeLog {
  private readonly sql: SqlStorage;

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
   * Events committed after `zxid`, in commit order (for watches and resume), each
   * with its ACL. An event logged before ACLs were recorded has none, and shows to
   * super only.
   */
  since(zxid: number, limit = 10_000): GuardedChange[] {
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
}
