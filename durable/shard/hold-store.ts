/**
 * The shard object's holds of multis across shards (replication/core/txn-holds.ts), in
 * SQLite: a row per (transaction, hold key), put and removed with the part's row of the
 * replicated "txn" table (cross-shard-txns.ts), so they survive a restart.
 */
import type { CrossShardTxn } from "../../protocol/index.ts";
import type { HeldTxn, HoldStore } from "../replication/core/index.ts";

export const CHECK_HOLD_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS check_holds (
     txn TEXT NOT NULL,
     path TEXT NOT NULL,
     decider TEXT NOT NULL,
     held_at INTEGER NOT NULL,
     PRIMARY KEY (path, txn)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS check_holds_by_txn ON check_holds (txn)`,
];

type HoldRow = { txn: string; decider: string; held_at: number };

const heldTxn = (row: HoldRow): HeldTxn => ({ txn: row.txn, decider: row.decider, heldAt: row.held_at });

export class SqlHoldStore implements HoldStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  put(txn: CrossShardTxn, keys: readonly string[], now: number): void {
    for (const key of keys) this.sql.exec("INSERT OR REPLACE INTO check_holds (txn, path, decider, held_at) VALUES (?, ?, ?, ?)", txn.id, key, txn.decider, now);
  }

  release(txn: string): void {
    this.sql.exec("DELETE FROM check_holds WHERE txn = ?", txn);
  }

  releaseAll(): void {
    this.sql.exec("DELETE FROM check_holds");
  }

  any(): boolean {
    return this.sql.exec("SELECT 1 FROM check_holds LIMIT 1").toArray().length > 0;
  }

  holdersOf(key: string): HeldTxn[] {
    return this.sql.exec<HoldRow>("SELECT txn, decider, held_at FROM check_holds WHERE path = ?", key).toArray().map(heldTxn);
  }

  all(): HeldTxn[] {
    return this.sql.exec<HoldRow>("SELECT txn, decider, min(held_at) AS held_at FROM check_holds GROUP BY txn ORDER BY held_at").toArray().map(heldTxn);
  }
}
