/**
 * A replica's log table: putting an entry there (the replica applying its leader's
 * entry) also writes the entry's events to the replica's own change log, in the
 * same transaction as its rows. So a replica's change log is its leader's, event
 * for event, for the watches, blocking reads and event streams it serves.
 */
import type { RowKey } from "../replication/core/index.ts";
import { LogTable, type ShardLogEntry } from "./replicated-tables.ts";

export class ReplicaLogTable extends LogTable {
  override put(key: RowKey, row: unknown): void {
    super.put(key, row);
    const entry = row as ShardLogEntry;
    for (const { event, path, acl } of entry.events ?? []) this.events.append(entry.zxid, event, path, acl, entry.session, entry.cxid);
    this.events.finishWrite();
  }
}
