/**
 * A replica's counters since its object started, for `GET /v1/admin/shards`: the
 * pulls it sent its leader, the pages its leader pushed back, the log entries it applied and the SQLite rows its
 * replication wrote (applies and snapshot pages, as each statement's
 * `rowsWritten` says). In memory only: a restart starts them at 0. Only a
 * replica's object is metered, so a leader's writes pay nothing for it.
 */
import type { Storage, StorageTxn, TableName } from "../replication/core/index.ts";
import type { ReplicationLeader } from "../replication/leader-link.ts";

export interface ReplicaCounters {
  /** Pull requests sent to the leader (snapshot pages not included). */
  pulls: number;
  /** Pages the leader pushed to it over its streaming pulls. */
  pushes: number;
  /** Log entries applied (each is one leader write). */
  entriesApplied: number;
  /** SQLite rows written by replication's transactions. */
  rowsWritten: number;
}

export class ReplicaMeter {
  readonly counters: ReplicaCounters = { pulls: 0, pushes: 0, entriesApplied: 0, rowsWritten: 0 };
  /** Every row the object's SQLite wrote since it started (replication's and any other). */
  private sqlRowsWritten = 0;
  private depth = 0;

  /** `sql`, counting the rows each statement writes. */
  countingSql(sql: SqlStorage): SqlStorage {
    const exec = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> => {
      const cursor = sql.exec<T>(query, ...bindings);
      // A statement without result rows has run by now, so its count is final.
      this.sqlRowsWritten += cursor.rowsWritten;
      return cursor;
    };
    return new Proxy(sql, { get: (target, key) => (key === "exec" ? exec : Reflect.get(target, key, target)) });
  }

  /** `storage`, adding the rows its outermost transactions write and the log entries they commit. */
  meteredStorage(storage: Storage): Storage {
    return {
      transact: <T>(body: (txn: StorageTxn) => T): T => {
        const before = this.sqlRowsWritten;
        let entries = 0;
        this.depth++;
        try {
          const result = storage.transact((txn) => body(countingLogPuts(txn, () => entries++)));
          this.counters.entriesApplied += entries;
          return result;
        } finally {
          // A nested transaction's rows are its outermost one's (a rolled-back one's were written too).
          if (--this.depth === 0) this.counters.rowsWritten += this.sqlRowsWritten - before;
        }
      },
      ...(storage.read ? { read: storage.read.bind(storage) } : {}),
    };
  }

  /** `leader`, counting the pulls sent to it and the pages it pushed back. */
  meteredLeader(leader: ReplicationLeader): ReplicationLeader {
    return {
      replicationRequest: (message, push) => {
        if (message?.type === "pull") this.counters.pulls++;
        const counted = push && ((page: Parameters<typeof push>[0]) => {
          this.counters.pushes++;
          return push(page);
        });
        return leader.replicationRequest(message, counted);
      },
    };
  }
}

/** `txn`, calling `counted` at each log entry it puts (an applied entry). */
function countingLogPuts(txn: StorageTxn, counted: () => void): StorageTxn {
  return {
    ...txn,
    put: (table: TableName, key, row) => {
      if (table === "log") counted();
      txn.put(table, key, row);
    },
  };
}
