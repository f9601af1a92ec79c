/**
 * The checks of a multi across shards held at this shard until the shard that writes
 * commits (durable/directory/cross-shard-multi.ts): a hold says "path P had the
 * version the check named when it was checked, and keeps it until the transaction is
 * decided". While a path is held, a write that would change its version (setData,
 * delete, or a multi with one) waits. A hold is released by the router once the
 * writing shard answered, or, if the router never comes back, once the writing shard
 * (its decider) says the transaction is decided (txn-decisions.ts: asked after
 * HOLD_RESOLVE_AFTER_MS, it gives up one not committed yet); a decider that cannot
 * say (it no longer leads) lets go after HOLD_EXPIRE_MS, past the age at which any
 * shard refuses to commit the transaction (TXN_MAX_AGE_MS).
 *
 * Holds are stored, so a restart keeps them. They are not replicated: a shard holding
 * any refuses to be sealed for a move until they are released.
 */
import type { CrossShardTxn, ShardRequest } from "../../protocol/index.ts";

export const CHECK_HOLD_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS check_holds (
     txn TEXT NOT NULL,
     path TEXT NOT NULL,
     decider TEXT NOT NULL,
     decider_root TEXT NOT NULL,
     held_at INTEGER NOT NULL,
     PRIMARY KEY (path, txn)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS check_holds_by_txn ON check_holds (txn)`,
];

/** The oldest a transaction may be when its writing shard commits it (from when its router began it). */
export const TXN_MAX_AGE_MS = 5_000;
/** A hold this old is asked about at its decider. */
export const HOLD_RESOLVE_AFTER_MS = 1_000;
/** A hold this old is released whatever its decider says: no shard commits its transaction any more. */
export const HOLD_EXPIRE_MS = TXN_MAX_AGE_MS + 5_000;

/** A stored hold's transaction. */
export interface HeldTxn {
  txn: string;
  decider: string;
  deciderRoot: string;
  heldAt: number;
}

export class CheckHolds {
  private readonly sql: SqlStorage;
  /** Writes waiting for a release, woken at each. */
  private waiters: Array<() => void> = [];

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Holds `paths` for the transaction (call in a transaction with the checks). */
  hold(txn: CrossShardTxn, paths: readonly string[], now: number): void {
    for (const path of paths) {
      this.sql.exec("INSERT OR REPLACE INTO check_holds (txn, path, decider, decider_root, held_at) VALUES (?, ?, ?, ?, ?)", txn.id, path, txn.decider, txn.deciderRoot, now);
    }
  }

  /** Releases the transaction's holds; wakes the writes waiting. */
  release(txn: string): void {
    this.sql.exec("DELETE FROM check_holds WHERE txn = ?", txn);
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Whether any hold is stored. */
  any(): boolean {
    return this.sql.exec("SELECT 1 FROM check_holds LIMIT 1").toArray().length > 0;
  }

  /** The transactions holding any of `paths`. */
  holding(paths: readonly string[]): HeldTxn[] {
    if (paths.length === 0 || !this.any()) return [];
    const found = new Map<string, HeldTxn>();
    for (const path of paths) {
      for (const row of this.sql.exec<{ txn: string; decider: string; decider_root: string; held_at: number }>("SELECT txn, decider, decider_root, held_at FROM check_holds WHERE path = ?", path)) {
        found.set(row.txn, { txn: row.txn, decider: row.decider, deciderRoot: row.decider_root, heldAt: row.held_at });
      }
    }
    return [...found.values()];
  }

  /** Every held transaction, oldest first (the alarm resolves them). */
  all(): HeldTxn[] {
    return this.sql
      .exec<{ txn: string; decider: string; decider_root: string; held_at: number }>("SELECT txn, decider, decider_root, min(held_at) AS held_at FROM check_holds GROUP BY txn ORDER BY held_at")
      .toArray()
      .map((row) => ({ txn: row.txn, decider: row.decider, deciderRoot: row.decider_root, heldAt: row.held_at }));
  }

  /** Resolves at the next release, or after `ms`. */
  released(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** The paths whose version a batch's writes would change (setData and delete, alone or in a multi): what a hold makes wait. */
export function versionChangingPaths(requests: readonly ShardRequest[]): string[] {
  const paths: string[] = [];
  for (const request of requests) {
    if (request.op === "setData" || request.op === "delete") paths.push(request.path);
    else if (request.op === "multi" && Array.isArray(request.ops)) {
      for (const op of request.ops) if (op.op === "setData" || op.op === "delete") paths.push(op.path);
    }
  }
  return paths;
}
