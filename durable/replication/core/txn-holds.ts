/**
 * What a multi across shards holds at this shard until it is decided
 * (durable/directory/cross-shard-multi.ts): a hold says "path P is as the
 * transaction's part here found it, and stays so until the transaction is decided".
 * A part prepared here (cross-shard-txns.ts) holds, while a write that would change
 * it waits (holdKeysWritten): the path of each of its ops (a check's version too),
 * and for a delete the path's children (a create under it), for a create its parent
 * (its delete, its ACL). It also marks what it will change, so that a part prepared
 * after it waits where it relies on that (keysPrepareWaitsOn).
 *
 * A hold goes with its part, applied or dropped: its router sends it, or, if the
 * router never comes back, the multi's decider says what became of it (asked after
 * HOLD_RESOLVE_AFTER_MS); never by age.
 *
 * Holds are stored (HoldStore: the shard object's in SQLite, durable/shard/hold-store.ts),
 * and come with their rows of the replicated "txn" table: a restart, a move and a
 * failover keep them. Plain TypeScript over ports, so the simulator runs them too.
 */
import { type CrossShardTxn, type MultiWriteOp, type ShardRequest, parentOf } from "../../../protocol/index.ts";
import type { Clock } from "./ports.ts";
import type { TxnFate } from "./txn-parts.ts";
import { waitAtMost } from "./wait.ts";

/** A hold this old is asked about at its decider. */
export const HOLD_RESOLVE_AFTER_MS = 1_000;
/** How long a hold is spared while a multi of a higher id waits for it (lowestWaiterOn): its router, if alive, has decided it by then. */
const SPARED_FOR_MS = 2 * HOLD_RESOLVE_AFTER_MS;

/** A stored hold's transaction. */
export interface HeldTxn {
  txn: string;
  decider: string;
  heldAt: number;
}

/**
 * Asks the decider of `txn` what became of it. `waiter`: the lowest id of the multis
 * whose own part waits here for its holds; the decider spares an undecided `txn` of a
 * lower id than that (it gives up only the higher of two that wait for each other).
 */
export type AskDecider = (decider: string, txn: string, waiter: string | undefined) => Promise<TxnFate>;

/** The shard holding: whether it leads (only a leader's writes wait), and its prepared parts (cross-shard-txns.ts). */
export interface PreparedWrites {
  leads(): boolean;
  /** Applies the prepared part, or drops it, in a write that releases its holds; says whether it did (only a leader writes). */
  settle(txn: string, fate: "committed" | "aborted"): Promise<boolean>;
}

/** Where holds are kept: a row per (transaction, hold key). */
export interface HoldStore {
  put(txn: CrossShardTxn, keys: readonly string[], now: number): void;
  release(txn: string): void;
  releaseAll(): void;
  any(): boolean;
  /** The transactions holding `key`. */
  holdersOf(key: string): HeldTxn[];
  /** Every held transaction, oldest first (by its oldest hold). */
  all(): HeldTxn[];
}

export class CheckHolds {
  private readonly store: HoldStore;
  private readonly clock: Clock;
  /** Asks the decider (the object of the shard of the multi's first write) what became of the transaction. */
  private readonly askDecider: AskDecider;
  /** The parts prepared here: applied or dropped as decided (a write of their own, which releases their holds). */
  private readonly prepared: PreparedWrites;
  /** Writes waiting for a release, woken at each. */
  private waiters: Array<() => void> = [];
  /** The multis whose own write waits for holds of others, with the hold keys it waits on. */
  private readonly waiting = new Map<string, readonly string[]>();

  constructor(store: HoldStore, clock: Clock, askDecider: AskDecider, prepared: PreparedWrites) {
    this.store = store;
    this.clock = clock;
    this.askDecider = askDecider;
    this.prepared = prepared;
  }

  /** Holds `paths` (hold keys: see holdKeysOf) for the transaction (its part's row is put in the same transaction). */
  hold(txn: CrossShardTxn, paths: readonly string[], now: number): void {
    this.store.put(txn, paths, now);
  }

  /** Releases the transaction's holds; wakes the writes waiting. */
  release(txn: string): void {
    this.store.release(txn);
    this.wake();
  }

  /** Releases every hold (a copy whose rows are replaced by a snapshot's). */
  releaseAll(): void {
    this.store.releaseAll();
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Whether any hold is stored. */
  any(): boolean {
    return this.store.any();
  }

  /** The transactions holding any of `paths`, but `own` (a transaction's own part is not held up by its holds). */
  holding(paths: readonly string[], own?: string): HeldTxn[] {
    if (paths.length === 0 || !this.any()) return [];
    const found = new Map<string, HeldTxn>();
    for (const path of paths) {
      for (const held of this.store.holdersOf(path)) if (held.txn !== own) found.set(held.txn, held);
    }
    return [...found.values()];
  }

  /**
   * Whether a write to `paths` must wait now: another transaction than `own` holds one
   * of them, and this shard leads. A write waits while it must, checked again after
   * each wait right before it runs (no await between): a part prepared as the holds
   * were released, woken before it, holds them again.
   *
   * @example
   * while (holds.blocks(keys)) await holds.untilNotHeld(keys);
   */
  blocks(paths: readonly string[], own?: string): boolean {
    return this.holding(paths, own).length > 0 && this.prepared.leads();
  }

  /**
   * Waits while any of `paths` is held (but by `own`): for the release, and past
   * HOLD_RESOLVE_AFTER_MS asking each holding transaction's decider, so a hold its
   * router left goes once decided. Ends too once the shard no longer leads (the
   * caller answers that).
   */
  async untilNotHeld(paths: readonly string[], own?: string): Promise<void> {
    if (own !== undefined) this.waiting.set(own, paths);
    try {
      for (;;) {
        const held = this.holding(paths, own);
        if (held.length === 0 || !this.prepared.leads()) return;
        const age = this.clock.now() - Math.min(...held.map((h) => h.heldAt));
        if (age < HOLD_RESOLVE_AFTER_MS) await this.released(HOLD_RESOLVE_AFTER_MS - age);
        else if (!(await this.resolve(held))) await this.released(HOLD_RESOLVE_AFTER_MS);
      }
    } finally {
      if (own !== undefined && this.waiting.get(own) === paths) this.waiting.delete(own);
    }
  }

  /**
   * The lowest id of the multis whose own part (its prepare) waits
   * here for `txn`'s holds, while `txn`'s hold is younger than SPARED_FOR_MS (a router
   * that stopped spares it no longer). Multis that wait for each other, each holding
   * what the other's part needs (on two shards or around more), are so asked of with a
   * lower waiter for exactly one of them, the highest id of the cycle: it is given up,
   * the others wait.
   */
  private lowestWaiterOn(txn: string, heldAt: number): string | undefined {
    if (this.clock.now() - heldAt >= SPARED_FOR_MS) return undefined;
    let lowest: string | undefined;
    for (const [waiter, paths] of this.waiting) {
      if (this.holding(paths, waiter).some((held) => held.txn === txn) && (lowest === undefined || waiter < lowest)) lowest = waiter;
    }
    return lowest;
  }

  /** Resolves the holds older than HOLD_RESOLVE_AFTER_MS (the alarm); says whether any is left. */
  async resolveStale(): Promise<boolean> {
    const stale = this.store.all().filter((h) => this.clock.now() - h.heldAt >= HOLD_RESOLVE_AFTER_MS);
    if (stale.length > 0) await this.resolve(stale);
    return this.any();
  }

  /** Applies or drops the parts whose transaction is decided (asked of its decider); says whether any was. */
  private async resolve(held: readonly HeldTxn[]): Promise<boolean> {
    const settled = await Promise.all(
      held.map(async ({ txn, decider, heldAt }) => {
        const fate = await this.askDecider(decider, txn, this.lowestWaiterOn(txn, heldAt)).catch((): TxnFate => "unknown");
        return fate !== "unknown" && this.prepared.settle(txn, fate);
      }),
    );
    return settled.some(Boolean);
  }

  /** Resolves at the next release, or after `ms`. */
  private released(ms: number): Promise<void> {
    return waitAtMost(this.clock, new Promise<void>((resolve) => this.waiters.push(resolve)), ms);
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

/** The hold key saying "a prepared part will change this key": a prepare that holds the key waits for it (no path starts with a NUL). */
function writtenKey(key: string): string {
  return `\u0000written${key}`;
}

/** The hold keys an op would change (see the module comment). */
function keysWrittenBy(op: { op: string; path?: unknown }): string[] {
  if (typeof op.path !== "string") return [];
  if (op.op === "setData" || op.op === "delete" || op.op === "setACL") return [op.path];
  if (op.op === "create") return [op.path, childrenOf(parentOrSelf(op.path))];
  return [];
}

/** The keys whose change a prepared part's ops rely on not happening (see the module comment). */
function keysReadBy(ops: readonly MultiWriteOp[]): string[] {
  const keys = new Set<string>();
  for (const op of ops) {
    keys.add(op.path);
    if (op.op === "delete") keys.add(childrenOf(op.path));
    if (op.op === "create") keys.add(parentOf(op.path));
  }
  return [...keys];
}

/** The keys a prepared part holds: what it relies on (a write to it waits), and, marked, what it will change. */
export function holdKeysOf(ops: readonly MultiWriteOp[]): string[] {
  return [...keysReadBy(ops), ...new Set(ops.flatMap(keysWrittenBy).map(writtenKey))];
}

/**
 * The keys a part to prepare waits on while another transaction holds them: what it
 * will change, where another relies on it; what it relies on, where another will
 * change it. Two parts that only read the same node (two checks of a lock), or that
 * each create a child of it, do not wait for each other.
 */
export function keysPrepareWaitsOn(ops: readonly MultiWriteOp[]): string[] {
  return [...new Set(ops.flatMap(keysWrittenBy)), ...keysReadBy(ops).map(writtenKey)];
}

/** The hold keys a batch's writes would change (alone or in a multi): what a hold makes wait. */
export function holdKeysWritten(requests: readonly ShardRequest[]): string[] {
  return requests.flatMap((request) => (request.op === "multi" && Array.isArray(request.ops) ? request.ops.flatMap(keysWrittenBy) : keysWrittenBy(request)));
}
