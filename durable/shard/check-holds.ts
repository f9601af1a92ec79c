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
  heldAt: number;
}

/** What a hold's decider says of its transaction ("unknown": it cannot say, not leading, or unreachable). */
export type TxnFate = "committed" | "aborted" | "unknown";

export class CheckHolds {
  private readonly sql: SqlStorage;
  /** Asks the decider (the writing shard's object) what became of the transaction. */
  private readonly askDecider: (decider: string, txn: string) => Promise<TxnFate>;
  /** Writes waiting for a release, woken at each. */
  private waiters: Array<() => void> = [];

  constructor(sql: SqlStorage, askDecider: (decider: string, txn: string) => Promise<TxnFate>) {
    this.sql = sql;
    this.askDecider = askDecider;
  }

  /** Holds `paths` for the transaction (call in a transaction with the checks). */
  hold(txn: CrossShardTxn, paths: readonly string[], now: number): void {
    for (const path of paths) {
      this.sql.exec("INSERT OR REPLACE INTO check_holds (txn, path, decider, held_at) VALUES (?, ?, ?, ?)", txn.id, path, txn.decider, now);
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
      for (const row of this.sql.exec<{ txn: string; decider: string; held_at: number }>("SELECT txn, decider, held_at FROM check_holds WHERE path = ?", path)) {
        found.set(row.txn, { txn: row.txn, decider: row.decider, heldAt: row.held_at });
      }
    }
    return [...found.values()];
  }

  /** Every held transaction, oldest first. */
  private all(): HeldTxn[] {
    return this.sql
      .exec<{ txn: string; decider: string; held_at: number }>("SELECT txn, decider, min(held_at) AS held_at FROM check_holds GROUP BY txn ORDER BY held_at")
      .toArray()
      .map((row) => ({ txn: row.txn, decider: row.decider, heldAt: row.held_at }));
  }

  /**
   * Waits while any of `paths` is held: for the release, and past
   * HOLD_RESOLVE_AFTER_MS asking each holding transaction's decider, so a hold its
   * router left is released within HOLD_EXPIRE_MS.
   */
  async untilNotHeld(paths: readonly string[]): Promise<void> {
    for (;;) {
      const held = this.holding(paths);
      if (held.length === 0) return;
      const age = Date.now() - Math.min(...held.map((h) => h.heldAt));
      if (age < HOLD_RESOLVE_AFTER_MS) await this.released(HOLD_RESOLVE_AFTER_MS - age);
      else if (!(await this.resolve(held))) await this.released(HOLD_RESOLVE_AFTER_MS);
    }
  }

  /** Resolves the holds older than HOLD_RESOLVE_AFTER_MS (the alarm); says whether any is left. */
  async resolveStale(): Promise<boolean> {
    const stale = this.all().filter((h) => Date.now() - h.heldAt >= HOLD_RESOLVE_AFTER_MS);
    if (stale.length > 0) await this.resolve(stale);
    return this.any();
  }

  /** Releases the holds whose transaction is decided (asked of its decider) or past HOLD_EXPIRE_MS; says whether any was released. */
  private async resolve(held: readonly HeldTxn[]): Promise<boolean> {
    const released = await Promise.all(
      held.map(async ({ txn, decider, heldAt }) => {
        const fate = Date.now() - heldAt > HOLD_EXPIRE_MS ? "expired" : await this.askDecider(decider, txn).catch((): TxnFate => "unknown");
        if (fate === "unknown") return false;
        this.release(txn);
        return true;
      }),
    );
    return released.some(Boolean);
  }

  /** Resolves at the next release, or after `ms`. */
  private released(ms: number): Promise<void> {
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
