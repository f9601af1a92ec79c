/**
 * What a multi across shards holds at this shard until it is decided
 * (durable/directory/cross-shard-multi.ts): a hold says "path P is as the
 * transaction's part here found it, and stays so until the transaction is decided".
 * While a path is held, a write that would change it waits (holdKeysWritten):
 * - a check's path: its version (setData, delete);
 * - a prepared write's (cross-shard-txns.ts): the path, and for a delete the path's
 *   children (a create under it), for a create its parent (its delete, its ACL).
 *
 * A check's hold is released by the router once the deciding shard answered, or, if
 * the router never comes back, once the decider says the transaction is decided
 * (asked after HOLD_RESOLVE_AFTER_MS, it gives up one not committed yet); a decider
 * that cannot say lets go after HOLD_EXPIRE_MS, past the age at which any shard
 * refuses to commit the transaction (TXN_MAX_AGE_MS). A prepared write's hold goes
 * only with its decision, applied or dropped (`settlePrepared`): never by age.
 *
 * Holds are stored, so a restart keeps them. A check's is not replicated (a shard
 * holding any refuses to be sealed for a move until they are released); a prepared
 * write's comes with its row of the replicated "txn" table.
 */
import { type CrossShardTxn, type MultiWriteOp, type ShardRequest, parentOf } from "../../protocol/index.ts";

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
/** How long a hold is spared while a multi of a higher id waits for it (lowestWaiterOn): its router, if alive, has decided it by then. */
const SPARED_FOR_MS = 2 * HOLD_RESOLVE_AFTER_MS;
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

/**
 * Asks the decider of `txn` what became of it. `waiter`: the lowest id of the multis
 * whose own part waits here for its holds; the decider spares an undecided `txn` of a
 * lower id than that (it gives up only the higher of two that wait for each other).
 */
export type AskDecider = (decider: string, txn: string, waiter: string | undefined) => Promise<TxnFate>;

/** The shard holding: whether it leads (only a leader's writes wait), and the transactions with a write prepared there (cross-shard-txns.ts). */
export interface PreparedWrites {
  leads(): boolean;
  has(txn: string): boolean;
  /** Applies the prepared write, or drops it, in a write that releases its holds; says whether it did (only a leader writes). */
  settle(txn: string, fate: "committed" | "aborted"): Promise<boolean>;
}

export class CheckHolds {
  private readonly sql: SqlStorage;
  /** Asks the decider (the writing shard's object) what became of the transaction. */
  private readonly askDecider: AskDecider;
  /** The transactions with a write prepared here: applied or dropped as decided (a write of their own, which releases their holds). */
  private readonly prepared: PreparedWrites;
  /** Writes waiting for a release, woken at each. */
  private waiters: Array<() => void> = [];
  /** The multis whose own write waits for holds of others, with the hold keys it waits on. */
  private readonly waiting = new Map<string, readonly string[]>();

  constructor(sql: SqlStorage, askDecider: AskDecider, prepared: PreparedWrites) {
    this.sql = sql;
    this.askDecider = askDecider;
    this.prepared = prepared;
  }

  /** Holds `paths` (hold keys: see holdKeysOf) for the transaction (call in a transaction with its checks). */
  hold(txn: CrossShardTxn, paths: readonly string[], now: number): void {
    for (const path of paths) {
      this.sql.exec("INSERT OR REPLACE INTO check_holds (txn, path, decider, held_at) VALUES (?, ?, ?, ?)", txn.id, path, txn.decider, now);
    }
  }

  /** Releases the transaction's holds; wakes the writes waiting. */
  release(txn: string): void {
    this.sql.exec("DELETE FROM check_holds WHERE txn = ?", txn);
    this.wake();
  }

  /** Releases every hold (a copy whose rows are replaced by a snapshot's). */
  releaseAll(): void {
    this.sql.exec("DELETE FROM check_holds");
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Whether any hold is stored. */
  any(): boolean {
    return this.sql.exec("SELECT 1 FROM check_holds LIMIT 1").toArray().length > 0;
  }

  /** The transactions holding any of `paths`, but `own` (a transaction's own part is not held up by its holds). */
  holding(paths: readonly string[], own?: string): HeldTxn[] {
    if (paths.length === 0 || !this.any()) return [];
    const found = new Map<string, HeldTxn>();
    for (const path of paths) {
      for (const row of this.sql.exec<{ txn: string; decider: string; held_at: number }>("SELECT txn, decider, held_at FROM check_holds WHERE path = ?", path)) {
        if (row.txn !== own) found.set(row.txn, { txn: row.txn, decider: row.decider, heldAt: row.held_at });
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
   * Waits while any of `paths` is held (but by `own`): for the release, and past
   * HOLD_RESOLVE_AFTER_MS asking each holding transaction's decider, so a check's hold
   * its router left is released within HOLD_EXPIRE_MS, a prepared write's once decided.
   * Ends too once the shard no longer leads (the caller answers that).
   */
  async untilNotHeld(paths: readonly string[], own?: string): Promise<void> {
    if (own !== undefined) this.waiting.set(own, paths);
    try {
      for (;;) {
        const held = this.holding(paths, own);
        if (held.length === 0 || !this.prepared.leads()) return;
        const age = Date.now() - Math.min(...held.map((h) => h.heldAt));
        if (age < HOLD_RESOLVE_AFTER_MS) await this.released(HOLD_RESOLVE_AFTER_MS - age);
        else if (!(await this.resolve(held))) await this.released(HOLD_RESOLVE_AFTER_MS);
      }
    } finally {
      if (own !== undefined && this.waiting.get(own) === paths) this.waiting.delete(own);
    }
  }

  /**
   * The lowest id of the multis whose own part (a prepare, or the deciding write) waits
   * here for `txn`'s holds, while `txn`'s hold is younger than SPARED_FOR_MS (a router
   * that stopped spares it no longer). Multis that wait for each other, each holding
   * what the other's part needs (on two shards or around more), are so asked of with a
   * lower waiter for exactly one of them, the highest id of the cycle: it is given up,
   * the others wait.
   */
  private lowestWaiterOn(txn: string, heldAt: number): string | undefined {
    if (Date.now() - heldAt >= SPARED_FOR_MS) return undefined;
    let lowest: string | undefined;
    for (const [waiter, paths] of this.waiting) {
      if (this.holding(paths, waiter).some((held) => held.txn === txn) && (lowest === undefined || waiter < lowest)) lowest = waiter;
    }
    return lowest;
  }

  /** Resolves the holds older than HOLD_RESOLVE_AFTER_MS (the alarm); says whether any is left. */
  async resolveStale(): Promise<boolean> {
    const stale = this.all().filter((h) => Date.now() - h.heldAt >= HOLD_RESOLVE_AFTER_MS);
    if (stale.length > 0) await this.resolve(stale);
    return this.any();
  }

  /**
   * Releases the holds whose transaction is decided (asked of its decider), or, holding
   * checks only, past HOLD_EXPIRE_MS; says whether any was released.
   */
  private async resolve(held: readonly HeldTxn[]): Promise<boolean> {
    const released = await Promise.all(
      held.map(async ({ txn, decider, heldAt }) => {
        const fate = await this.askDecider(decider, txn, this.lowestWaiterOn(txn, heldAt)).catch((): TxnFate => "unknown");
        const prepared = this.prepared.has(txn);
        if (fate === "unknown" && (prepared || Date.now() - heldAt <= HOLD_EXPIRE_MS)) return false;
        if (prepared && fate !== "unknown") return this.prepared.settle(txn, fate);
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

/** The hold key of a path's children: a prepared delete holds it, a create under the path waits for it (no path holds a NUL). */
function childrenOf(path: string): string {
  return `${path}\u0000children`;
}

/** A path's parent; a bad path (the write itself refuses it) as itself. */
function parentOrSelf(path: string): string {
  try {
    return parentOf(path);
  } catch {
    return path;
  }
}

/** The keys a prepared write's ops hold (see the module comment). */
export function holdKeysOf(ops: readonly MultiWriteOp[]): string[] {
  const keys = new Set<string>();
  for (const op of ops) {
    keys.add(op.path);
    if (op.op === "delete") keys.add(childrenOf(op.path));
    if (op.op === "create") keys.add(parentOf(op.path));
  }
  return [...keys];
}

/** The hold keys a batch's writes would change (alone or in a multi): what a hold makes wait. */
export function holdKeysWritten(requests: readonly ShardRequest[]): string[] {
  const keys: string[] = [];
  const add = (op: { op: string; path?: unknown }) => {
    if (typeof op.path !== "string") return;
    if (op.op === "setData" || op.op === "delete" || op.op === "setACL") keys.push(op.path);
    else if (op.op === "create") keys.push(op.path, childrenOf(parentOrSelf(op.path)));
  };
  for (const request of requests) {
    if (request.op === "multi" && Array.isArray(request.ops)) request.ops.forEach(add);
    else add(request);
  }
  return keys;
}
