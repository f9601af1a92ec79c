/**
 * A simulated shard holding parts of multis across shards: one copy leading its
 * shard (no replicas here: run-seed.ts covers replication), its rows in storage that
 * outlives its crashes, and the rules the shard object keeps around the core's
 * executor: the part rules (durable/replication/core/txn-parts.ts) and the holds
 * (txn-holds.ts). It prepares a part (checked as it would apply, then logged, once
 * no other part it conflicts with is held), applies or drops it, gives a multi up,
 * answers its decider and other parts, serves plain writes (which wait while a
 * prepared part holds what they change) and, as the shard object's alarm does, asks
 * after holds older than HOLD_RESOLVE_AFTER_MS.
 */
import { type CrossShardTxn, KEEPER_ERRORS, type KeeperErrorName, type MultiWriteOp, type Outcome, type ShardRequest } from "../../protocol/index.ts";
import {
  CheckHolds, type Effect, type HeldTxn, type HoldStore, LeaderCore, type PartRow, type PartState, type StorageTxn, type TxnFate, TxnParts, type WriteOp, type ZnodeRow,
  holdKeysOf, holdKeysWritten, keysPrepareWaitsOn, prepareVerdict,
} from "../../durable/replication/core/index.ts";
import { execute } from "../../durable/replication/core/executor.ts";
import { logEntry } from "../../durable/replication/core/leader.ts";
import { applyEffects } from "../../durable/replication/core/log.ts";
import { MemoryStorage } from "./memory-storage.ts";
import type { SimNetwork } from "./network.ts";
import { SIM_SETTINGS } from "./nodes.ts";
import type { Prng } from "./prng.ts";
import type { Owner, Scheduler } from "./scheduler.ts";

/** What routers and the other shards of a multi send a shard. */
export type TxnShardRequest =
  | { type: "prepare"; txn: CrossShardTxn; ops: MultiWriteOp[] }
  /** A part to apply, every part prepared (the router's write to the decider and commit to the others). */
  | { type: "apply"; txn: CrossShardTxn; ops: MultiWriteOp[] }
  | { type: "release"; txn: string }
  | { type: "resolve"; txn: string; waiter?: string }
  | { type: "part-of"; txn: string }
  /** A write of this shard's alone (a multi of its ops). */
  | { type: "write"; ops: MultiWriteOp[] }
  /** A node's version now (-1: none). */
  | { type: "version"; path: string };

/** A part's row in the core's "txn" table, as the simulated shard keeps it. */
type SimTxnRow = { kind: "prepared"; txn: CrossShardTxn; ops: MultiWriteOp[]; at: number } | { kind: "applied"; outcome: Outcome } | { kind: "aborted" };

/** How often a shard's alarm looks for stale holds. */
const ALARM_MS = 200;

/** Holds in memory, made again from the prepared rows at each start (the shard object stores them beside its rows). */
class MemoryHoldStore implements HoldStore {
  private readonly holds = new Map<string, HeldTxn & { keys: readonly string[] }>();

  put(txn: CrossShardTxn, keys: readonly string[], now: number): void {
    this.holds.set(txn.id, { txn: txn.id, decider: txn.decider, heldAt: now, keys });
  }

  release(txn: string): void {
    this.holds.delete(txn);
  }

  releaseAll(): void {
    this.holds.clear();
  }

  any(): boolean {
    return this.holds.size > 0;
  }

  holdersOf(key: string): HeldTxn[] {
    return [...this.holds.values()].filter((held) => held.keys.includes(key));
  }

  all(): HeldTxn[] {
    return [...this.holds.values()].sort((a, b) => a.heldAt - b.heldAt);
  }
}

export class TxnShardNode {
  readonly storage = new MemoryStorage();
  incarnation: Owner = { alive: false };
  readonly name: string;
  private core!: LeaderCore;
  private parts!: TxnParts;
  private holds!: CheckHolds;
  private readonly scheduler: Scheduler;
  private readonly network: SimNetwork;
  private readonly prng: Prng;

  constructor(name: string, scheduler: Scheduler, network: SimNetwork, prng: Prng) {
    this.name = name;
    this.scheduler = scheduler;
    this.network = network;
    this.prng = prng;
  }

  get up(): boolean {
    return this.incarnation.alive;
  }

  /** Loses everything not committed: pending awaits, waits on holds, and the alarm. */
  crash(): void {
    this.incarnation.alive = false;
  }

  /** A new instance over the same storage; the first one's tree holds `paths` (empty nodes). */
  start(paths: readonly string[] = []): void {
    const owner = (this.incarnation = { alive: true });
    const clock = this.scheduler.clockFor(owner);
    this.core = new LeaderCore(this.storage.handle(owner), clock, SIM_SETTINGS, undefined, this.prng);
    if (this.core.state() === undefined) {
      this.core.activate(1);
      paths.forEach((path, i) => this.core.write(0, i + 1, { op: "create", path, data: "" }));
    }
    const ask = <T>(to: string, request: TxnShardRequest): Promise<T | "unknown"> => this.network.request<T>(this.name, owner, to, request).catch(() => "unknown" as const);
    this.parts = new TxnParts({
      row: (txn) => this.row(txn),
      leads: () => true,
      rowsWhole: () => true,
      abort: (txn) => this.log(() => [txnRow(txn, { kind: "aborted" })]),
      settle: async (txn, fate) => this.settle(txn, fate),
      askPart: (copy, txn) => ask<PartState>(copy, { type: "part-of", txn }),
      askDecider: (decider, txn, waiter) => ask<TxnFate>(decider, { type: "resolve", txn, ...(waiter === undefined ? {} : { waiter }) }),
      acknowledged: async () => true,
    });
    this.holds = new CheckHolds(new MemoryHoldStore(), clock, (decider, txn, waiter) => this.parts.fateOf(txn, decider, waiter), {
      leads: () => true,
      settle: async (txn, fate) => {
        this.settle(txn, fate);
        return this.storedRow(txn)?.kind !== "prepared";
      },
    });
    for (const [txn, row] of this.txnRows()) if (row.kind === "prepared") this.holds.hold(row.txn, holdKeysOf(row.ops), row.at);
    // A copy that crashed before it answered answers nothing.
    this.network.serve(this.name, owner, async (message) => {
      const answer = await this.handle(message as TxnShardRequest);
      if (!owner.alive) throw new Error(`${this.name} crashed before it answered`);
      return answer;
    });
    this.scheduler.after(ALARM_MS, owner, () => void this.alarm(owner));
  }

  /** Whether the znode `path` exists here. */
  has(path: string): boolean {
    return this.storage.read((txn) => txn.get<ZnodeRow>("znode", path) !== undefined);
  }

  /** Where the transaction's part stands here: prepared, applied (or failed to apply: a committed multi partly applied), aborted, or none. */
  partOf(txn: string): "prepared" | "applied" | "failed to apply" | "aborted" | "none" {
    const row = this.storedRow(txn);
    if (row?.kind === "applied") return row.outcome.ok ? "applied" : "failed to apply";
    return row?.kind ?? "none";
  }

  /** The transactions whose part is prepared here, not yet applied or dropped. */
  preparedTxns(): string[] {
    return this.txnRows().filter(([, row]) => row.kind === "prepared").map(([txn]) => txn);
  }

  private async handle(request: TxnShardRequest): Promise<unknown> {
    switch (request.type) {
      case "prepare":
        return this.prepare(request.txn, request.ops);
      case "apply": {
        const row = this.storedRow(request.txn.id);
        if (row?.kind === "applied") return row.outcome;
        return row?.kind === "prepared" ? this.applyPrepared(request.txn.id) : givenUp(this.core.appliedZxid());
      }
      case "release":
        this.parts.release(request.txn);
        return null;
      case "resolve":
        return this.parts.resolve(request.txn, request.waiter);
      case "part-of":
        return this.parts.partOf(request.txn);
      case "write":
        return this.write(request.ops);
      case "version":
        return this.storage.read((txn) => txn.get<ZnodeRow>("znode", request.path)?.stat.version ?? -1);
    }
  }

  /** As ShardDO.prepareWrites: the failing op's error, given up, or logged as prepared once no part it conflicts with is held. */
  private async prepare(txn: CrossShardTxn, ops: MultiWriteOp[]): Promise<Outcome> {
    for (;;) {
      const verdict = prepareVerdict(this.row(txn.id), txn.startedAt, this.scheduler.now);
      if (verdict === "prepared") return { ok: true, zxid: this.core.appliedZxid(), value: {} };
      if (verdict === "given-up") return givenUp(this.core.appliedZxid());
      const failed = this.wouldFail(ops);
      if (failed) return failure(failed, this.core.appliedZxid());
      const keys = keysPrepareWaitsOn(ops);
      if (this.holds.holding(keys, txn.id).length > 0) {
        await this.holds.untilNotHeld(keys, txn.id);
        continue;
      }
      const zxid = this.log(() => [txnRow(txn.id, { kind: "prepared", txn, ops, at: this.scheduler.now })]);
      return { ok: true, zxid, value: {} };
    }
  }

  /** A write of this shard's alone, once no prepared part holds what it changes (as ShardDO's writes wait). */
  private async write(ops: MultiWriteOp[]): Promise<Outcome> {
    const written = holdKeysWritten([{ op: "multi", ops } as ShardRequest]);
    while (this.holds.blocks(written)) await this.holds.untilNotHeld(written);
    let outcome!: Outcome;
    this.log((t, zxid) => {
      const executed = execute(t, asWrite(ops), 0, zxid, this.scheduler.now);
      outcome = executed.reply.error ? failure(executed.reply.error, zxid) : { ok: true, zxid, value: {} };
      return executed.effects;
    });
    return outcome;
  }

  /** The error `ops` would fail with now (nothing is written). */
  private wouldFail(ops: MultiWriteOp[]): KeeperErrorName | undefined {
    return this.storage.read((t) => execute(t, asWrite(ops), 0, 0, this.scheduler.now).reply.error);
  }

  /** Applies the part prepared for `txn`, its row then says so with the outcome (kept for the router's retries). */
  private applyPrepared(txn: string): Outcome {
    const part = this.storedRow(txn);
    if (part?.kind !== "prepared") return givenUp(this.core.appliedZxid());
    let outcome!: Outcome;
    this.log((t, zxid) => {
      const executed = execute(t, asWrite(part.ops), 0, zxid, this.scheduler.now);
      const error = executed.reply.error;
      outcome = error ? failure(error, zxid) : { ok: true, zxid, value: { results: part.ops.map((op) => ({ op: op.op, path: op.path })), ...(part.txn.parts ? { txn } : {}) } };
      return [...executed.effects, txnRow(txn, { kind: "applied", outcome })];
    });
    return outcome;
  }

  /** A prepared part applied (committed) or dropped (aborted); a part settled already stays so. */
  private settle(txn: string, fate: "committed" | "aborted"): void {
    if (this.storedRow(txn)?.kind !== "prepared") return;
    if (fate === "aborted") this.log(() => [txnRow(txn, { kind: "aborted" })]);
    else this.applyPrepared(txn);
  }

  /** The shard object's alarm: holds older than HOLD_RESOLVE_AFTER_MS ask their decider (or decide) and settle. */
  private async alarm(owner: Owner): Promise<void> {
    // A crash meanwhile ends this incarnation's alarm (its writes throw); the next one starts its own.
    await this.holds.resolveStale().catch(() => undefined);
    this.scheduler.after(ALARM_MS, owner, () => void this.alarm(owner));
  }

  private txnRows(): Array<[string, SimTxnRow]> {
    return this.storage.read((t) => t.scan<SimTxnRow>("txn", undefined, 100_000).map(([key, row]): [string, SimTxnRow] => [String(key), row]));
  }

  private storedRow(txn: string): SimTxnRow | undefined {
    return this.storage.read((t) => t.get<SimTxnRow>("txn", txn));
  }

  private row(txn: string): PartRow | undefined {
    const row = this.storedRow(txn);
    return row?.kind === "prepared" ? { kind: "prepared", parts: row.txn.parts } : row;
  }

  /**
   * Logs one write whose effects `effectsAt` gives (in the write's transaction, at its
   * zxid); returns the zxid. A part's row takes or releases its holds, as the shard
   * object's txn table does.
   */
  private log(effectsAt: (txn: StorageTxn, zxid: number) => Effect[]): number {
    const done = this.core.sequence((txn, zxid, epoch) => {
      const effects = effectsAt(txn, zxid);
      applyEffects(txn, effects);
      return { value: { zxid, effects }, entry: logEntry({ zxid, epoch, kind: "write", session: 0, cxid: 0, effects, reply: { zxid } }) };
    });
    if (done.kind !== "sequenced") throw new Error(`${this.name} no longer leads`);
    for (const effect of done.value.effects) {
      if (effect.table !== "txn") continue;
      const row = effect.row as SimTxnRow;
      if (row.kind === "prepared") this.holds.hold(row.txn, holdKeysOf(row.ops), row.at);
      else this.holds.release(effect.key);
    }
    return done.value.zxid;
  }
}

function txnRow(txn: string, row: SimTxnRow): Effect {
  return { table: "txn", key: txn, row };
}

/** Ops as the core's executor takes them (the simulated multis create, set and check). */
function asWrite(ops: MultiWriteOp[]): WriteOp {
  return {
    op: "multi",
    ops: ops.map((op): WriteOp => {
      if (op.op === "create") return { op: "create", path: op.path, data: "" };
      if (op.op === "setData") return { op: "setData", path: op.path, data: "", version: op.version ?? -1 };
      if (op.op === "check") return { op: "check", path: op.path, version: op.version ?? -1 };
      return { op: "delete", path: op.path, version: op.version ?? -1 };
    }),
  };
}

function failure(name: KeeperErrorName, zxid: number): Outcome {
  return { ok: false, zxid, error: { name, code: KEEPER_ERRORS[name].code, message: KEEPER_ERRORS[name].message } };
}

/** As the shard object answers a part of a multi given up (OperationTimeout: nothing was applied). */
function givenUp(zxid: number): Outcome {
  return failure("OperationTimeout", zxid);
}
