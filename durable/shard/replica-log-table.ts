/**
 * A replica's log table: each entry it applies is stored with its events (JSON) in
 * the log's events column, in the same transaction as its rows, and its change log
 * reads them from there (ReplicaChangeLog): its leader's events, event for event, for
 * the watches, blocking reads and event streams it serves, at no row of their own.
 */
import type { ChangeLog } from "./change-log.ts";
import { LogTable, type ShardLogEntry } from "./replicated-tables.ts";

export class ReplicaLogTable extends LogTable {
  constructor(sql: SqlStorage, events: ChangeLog) {
    super(sql, events, (entry) => ((entry as ShardLogEntry).events?.length ? JSON.stringify((entry as ShardLogEntry).events) : null));
  }
}
