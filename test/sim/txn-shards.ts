/**
 * A simulated shard holding parts of multis across shards: one copy leading its
 * shard (no replicas here: run-seed.ts covers replication), its rows in storage that
 * outlives its crashes, and the part rules the shard object keeps
 * (durable/replication/core/txn-parts.ts) around the core's executor: it prepares a
 * part (checked as it would apply, then logged), applies or drops it, gives a multi
 * up, answers its decider and other parts, and, as the shard object's alarm does,
 * asks after a part left prepared HOLD_RESOLVE_AFTER_MS.
 *
 * Multis here write paths nothing else writes, so no part ever waits for another's
 * holds (the shard object's holds are tested in workerd).
 */
import { type CrossShardTxn, KEEPER_ERRORS, type KeeperErrorName, type MultiWriteOp, type Outcome } from "../../protocol/index.ts";
import { HOLD_RESOLVE_AFTER_MS } from "../../durable/shard/check-holds.ts";
import { type Effect, LeaderCore, type PartRow, type PartState, type StorageTxn, type TxnFate, TxnParts, type WriteOp, type ZnodeRow, prepareVerdict } from "../../durable/replication/core/index.ts";
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
  | { type: "part-of"; txn: string };

/** A part's row in the core's "txn" table, as the simulated shard keeps it. */
type SimTxnRow = { kind: "prepared"; txn: CrossShardTxn; ops: MultiWriteOp[]; at: number } | { kind: "applied"; outcome: Outcome } | { kind: "aborted" };

/** How often a shard's alarm looks for parts left prepared. */
const ALARM_MS = 200;

export class TxnShardNode {
  readonly storage = new MemoryStorage();
  incarnation: Owner = { alive: false };
  readonly name: string;
  private core!: LeaderCore;
  private parts!: TxnParts;
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

  /** Loses everything not committed: pending awaits and the alarm. */
  crash(): void {
    this.incarnation.alive = false;
  }

  /** A new instance over the same storage; the first one's tree holds `paths` (empty nodes). */
  start(paths: readonly string[] = []): void {
    const owner = (this.incarnation = { alive: true });
    this.core = new LeaderCore(this.storage.handle(owner), this.scheduler.clockFor(owner), SIM_SETTINGS, undefined, this.prng);
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

  /** Where the transaction's part stands here (undefined: never heard of). */
  partOf(txn: string): SimTxnRow["kind"] | undefined {
    return this.storedRow(txn)?.kind;
  }

  /** The transactions whose part is prepared here, not yet applied or dropped. */
  preparedTxns(): string[] {
    return this.storage.read((txn) => txn.scan<SimTxnRow>("txn", undefined, 100_000).filter(([, row]) => row.kind === "prepared").map(([key]) => String(key)));
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
    }
  }

  /** As ShardDO.prepareWrites: the failing op's error, given up, or logged as prepared. */
  private prepare(txn: CrossShardTxn, ops: MultiWriteOp[]): Outcome {
    const verdict = prepareVerdict(this.row(txn.id), txn.startedAt, this.scheduler.now);
    if (verdict === "prepared") return { ok: true, zxid: this.core.appliedZxid(), value: {} };
    if (verdict === "given-up") return givenUp(this.core.appliedZxid());
    const failed = this.storage.read((t) => execute(t, asWrite(ops), 0, 0, this.scheduler.now).reply.error);
    if (failed) return failure(failed, this.core.appliedZxid());
    const zxid = this.log(() => [txnRow(txn.id, { kind: "prepared", txn, ops, at: this.scheduler.now })]);
    return { ok: true, zxid, value: {} };
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

  /** The shard object's alarm: a part prepared HOLD_RESOLVE_AFTER_MS ago asks its decider (or decides) and settles. */
  private async alarm(owner: Owner): Promise<void> {
    const stale = this.storage
      .read((t) => t.scan<SimTxnRow>("txn", undefined, 100_000))
      .filter((entry): entry is [string, Extract<SimTxnRow, { kind: "prepared" }>] => entry[1].kind === "prepared" && this.scheduler.now - entry[1].at >= HOLD_RESOLVE_AFTER_MS);
    // A crash meanwhile ends this incarnation's alarm (its writes throw); the next one starts its own.
    await Promise.all(
      stale.map(async ([txn, row]) => {
        const fate = await this.parts.fateOf(txn, row.txn.decider, undefined);
        if (fate !== "unknown") this.settle(txn, fate);
      }),
    ).catch(() => undefined);
    this.scheduler.after(ALARM_MS, owner, () => void this.alarm(owner));
  }

  /** A prepared part applied (committed) or dropped (aborted); a part settled already stays so. */
  private settle(txn: string, fate: "committed" | "aborted"): void {
    if (this.storedRow(txn)?.kind !== "prepared") return;
    if (fate === "aborted") this.log(() => [txnRow(txn, { kind: "aborted" })]);
    else this.applyPrepared(txn);
  }

  private storedRow(txn: string): SimTxnRow | undefined {
    return this.storage.read((t) => t.get<SimTxnRow>("txn", txn));
  }

  private row(txn: string): PartRow | undefined {
    const row = this.storedRow(txn);
    return row?.kind === "prepared" ? { kind: "prepared", parts: row.txn.parts } : row;
  }

  /** Logs one write whose effects `effectsAt` gives (in the write's transaction, at its zxid); returns the zxid. */
  private log(effectsAt: (txn: StorageTxn, zxid: number) => Effect[]): number {
    const done = this.core.sequence((txn, zxid, epoch) => {
      const effects = effectsAt(txn, zxid);
      applyEffects(txn, effects);
      return { value: zxid, entry: logEntry({ zxid, epoch, kind: "write", session: 0, cxid: 0, effects, reply: { zxid } }) };
    });
    if (done.kind !== "sequenced") throw new Error(`${this.name} no longer leads`);
    return done.value;
  }
}

function txnRow(txn: string, row: SimTxnRow): Effect {
  return { table: "txn", key: txn, row };
}

/** A part's ops as the core's executor takes them (the simulated multis create and check). */
function asWrite(ops: MultiWriteOp[]): WriteOp {
  return { op: "multi", ops: ops.map((op): WriteOp => (op.op === "create" ? { op: "create", path: op.path, data: "" } : { op: "check", path: op.path, version: op.op === "check" ? (op.version ?? -1) : -1 })) };
}

function failure(name: KeeperErrorName, zxid: number): Outcome {
  return { ok: false, zxid, error: { name, code: KEEPER_ERRORS[name].code, message: KEEPER_ERRORS[name].message } };
}

/** As the shard object answers a part of a multi given up (OperationTimeout: nothing was applied). */
function givenUp(zxid: number): Outcome {
  return failure("OperationTimeout", zxid);
}
