/**
 * A simulated copy of a shard holding parts of multis across shards: a ShardNode
 * (nodes.ts: its leader or a replica, roles a move or a failover changes, its rows in
 * storage that outlives its crashes) that, while it leads, also keeps the rules the
 * shard object keeps around the core's executor: the part rules
 * (durable/replication/core/txn-parts.ts) and the holds (txn-holds.ts). It prepares a
 * part in the core's order (TxnParts.prepare: checked as it would apply, then logged
 * once no part it conflicts with is held, and answered once acknowledged), applies or
 * drops it, gives a multi up, answers its decider and the other parts, serves plain
 * writes (which wait while a prepared part holds what they change), refuses to be
 * sealed for a move while it holds a part, and, as the shard object's alarm does, asks
 * after holds older than HOLD_RESOLVE_AFTER_MS.
 *
 * Copies are named `<shard>.<copy>`; the shard's directory is `<shard>.D`.
 */
import { type CrossShardTxn, KEEPER_ERRORS, type KeeperErrorName, type MultiWriteOp, type Outcome, type ShardRequest } from "../../protocol/index.ts";
import {
  CheckHolds, type Effect, type HeldTxn, type HoldStore, type LeaderRequest, type PartRow, type PartState, type Placement, type StorageTxn, type TxnFate, TxnParts, type WriteOp, type ZnodeRow,
  holdKeysOf, holdKeysWritten,
} from "../../durable/replication/core/index.ts";
import { execute } from "../../durable/replication/core/executor.ts";
import { logEntry } from "../../durable/replication/core/leader.ts";
import { applyEffects } from "../../durable/replication/core/log.ts";
import type { WhereRequest } from "./directory.ts";
import type { MemoryStorage } from "./memory-storage.ts";
import type { Push } from "./network.ts";
import { ACK_WAIT_MS, type ClientRequest, type HandoverRequest, type SimEnv, ShardNode } from "./nodes.ts";
import type { Owner } from "./scheduler.ts";

/** What routers and the other shards of a multi send a shard's copy. */
export type TxnShardRequest =
  | { type: "prepare"; txn: CrossShardTxn; ops: MultiWriteOp[] }
  /** A part to apply, every part prepared (the router's write to the decider and commit to the others). */
  | { type: "apply"; txn: CrossShardTxn; ops: MultiWriteOp[] }
  | { type: "release"; txn: string }
  | { type: "resolve"; txn: string; waiter?: string }
  | { type: "part-of"; txn: string }
  /** A write of this shard's alone (a multi of its ops). */
  | { type: "plain-write"; ops: MultiWriteOp[] }
  /** A node's version now (-1: none). */
  | { type: "version"; path: string };

const TXN_REQUESTS = new Set<string>(["prepare", "apply", "release", "resolve", "part-of", "plain-write", "version"]);

/** A part's row in the core's "txn" table, as the simulated shard keeps it. */
type SimTxnRow = PreparedRow | { kind: "applied"; outcome: Outcome } | { kind: "aborted" };
type PreparedRow = { kind: "prepared"; txn: CrossShardTxn; ops: MultiWriteOp[]; at: number };

const heldTxn = (row: PreparedRow): HeldTxn => ({ txn: row.txn.id, decider: row.txn.decider, heldAt: row.at });

/** How often a leading copy's alarm looks for stale holds. */
const ALARM_MS = 200;

/** The directory of the shard whose copy is `copy`. */
export function directoryOf(copy: string): string {
  return `${copy.slice(0, copy.indexOf("."))}.D`;
}

/** The holds are the prepared rows' hold keys, read from storage: so a copy made leader holds what its rows say. */
class PreparedRowHolds implements HoldStore {
  private readonly storage: MemoryStorage;
  /** The prepared rows as of the storage's `writes`-th write (read again after the next). */
  private cached: { at: number; rows: PreparedRow[] } = { at: -1, rows: [] };

  constructor(storage: MemoryStorage) {
    this.storage = storage;
  }

  /** Taken and released with the rows. */
  put(): void {}
  release(): void {}
  releaseAll(): void {}

  any(): boolean {
    return this.prepared().length > 0;
  }

  holdersOf(key: string): HeldTxn[] {
    return this.prepared()
      .filter((row) => holdKeysOf(row.ops).includes(key))
      .map(heldTxn);
  }

  all(): HeldTxn[] {
    return [...this.prepared()].sort((a, b) => a.at - b.at).map(heldTxn);
  }

  private prepared(): PreparedRow[] {
    if (this.cached.at !== this.storage.writes) {
      const rows = this.storage.read((t) => t.scan<SimTxnRow>("txn", undefined, 100_000).map(([, row]) => row).filter((row): row is PreparedRow => row.kind === "prepared"));
      this.cached = { at: this.storage.writes, rows };
    }
    return this.cached.rows;
  }
}

export class TxnShardNode extends ShardNode {
  private parts!: TxnParts;
  private holds!: CheckHolds;

  constructor(name: string, env: SimEnv, madeFor?: string) {
    super(name, env, madeFor, directoryOf(name));
  }

  protected override boot(): void {
    super.boot();
    const owner = this.incarnation;
    const ask = <T>(to: string, request: TxnShardRequest): Promise<T | "unknown"> => this.env.network.request<T>(this.name, owner, to, request).catch(() => "unknown" as const);
    // Asked at the copy named or, when it cannot say, at its shard's leader now (as txn-deciders.ts does).
    const askShard = async <T extends string>(copy: string, request: TxnShardRequest): Promise<T | "unknown"> => {
      const answer = await ask<T>(copy, request);
      if (answer !== "unknown") return answer;
      const leader = await this.env.network.request<Placement>(this.name, owner, directoryOf(copy), { type: "where" } satisfies WhereRequest).then((p) => p.leader, () => copy);
      return leader === copy ? "unknown" : ask<T>(leader, request);
    };
    this.parts = new TxnParts({
      row: (txn) => this.row(txn),
      leads: () => this.leads(),
      rowsWhole: () => this.rowsWhole(),
      abort: (txn) => this.log(() => [txnRow(txn, { kind: "aborted" })]),
      settle: async (txn, fate) => this.settle(txn, fate),
      askPart: (copy, txn) => askShard<PartState>(copy, { type: "part-of", txn }),
      askDecider: (decider, txn, waiter) => askShard<TxnFate>(decider, { type: "resolve", txn, ...(waiter === undefined ? {} : { waiter }) }),
      acknowledged: () => this.acknowledges(this.appliedZxid(), ACK_WAIT_MS),
    });
    this.holds = new CheckHolds(new PreparedRowHolds(this.storage), this.env.scheduler.clockFor(owner), (decider, txn, waiter) => this.parts.fateOf(txn, decider, waiter), {
      leads: () => this.leads(),
      settle: async (txn, fate) => {
        this.settle(txn, fate);
        return this.storedRow(txn)?.kind !== "prepared";
      },
    });
    this.env.scheduler.after(ALARM_MS, owner, () => void this.alarm(owner));
  }

  protected override async handle(request: LeaderRequest | ClientRequest | HandoverRequest | TxnShardRequest, push?: Push): Promise<unknown> {
    if (TXN_REQUESTS.has(request.type)) {
      const owner = this.incarnation;
      const answer = await this.handleTxn(request as TxnShardRequest);
      // A copy that crashed before it answered answers nothing.
      if (!owner.alive) throw new Error(`${this.name} crashed before it answered`);
      return answer;
    }
    // A move waits while this leader holds a part (the shard object's seal answers "holding").
    if (request.type === "seal" && this.holds.any()) throw new Error(`${this.name} holds a part of a multi across shards`);
    return super.handle(request as LeaderRequest | ClientRequest | HandoverRequest, push);
  }

  /** Whether the znode `path` exists in this copy's rows. */
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
    return this.storage.read((t) => t.scan<SimTxnRow>("txn", undefined, 100_000).filter(([, row]) => row.kind === "prepared").map(([txn]) => String(txn)));
  }

  /** As ShardDO.rowsWhole: not mid-snapshot, and caught up to what it may show. */
  private rowsWhole(): boolean {
    const meta = this.core?.state();
    return meta === undefined || (meta.snapshot === null && meta.appliedZxid >= meta.readableZxid);
  }

  private leads(): boolean {
    return this.core?.state()?.role === "leader";
  }

  private appliedZxid(): number {
    return this.core?.state()?.appliedZxid ?? 0;
  }

  private async handleTxn(request: TxnShardRequest): Promise<unknown> {
    switch (request.type) {
      case "prepare":
        return this.prepare(request.txn, request.ops);
      case "apply": {
        if (!this.leads()) return notLeader(this.appliedZxid());
        const row = this.storedRow(request.txn.id);
        const outcome = row?.kind === "applied" ? row.outcome : row?.kind === "prepared" ? this.applyPrepared(request.txn.id) : givenUp(this.appliedZxid());
        return this.onceAcknowledged(outcome);
      }
      case "release":
        this.parts.release(request.txn);
        return null;
      case "resolve":
        return this.parts.resolve(request.txn, request.waiter);
      case "part-of":
        return this.parts.partOf(request.txn);
      case "plain-write":
        return this.plainWrite(request.ops);
      case "version":
        return this.storage.read((txn) => txn.get<ZnodeRow>("znode", request.path)?.stat.version ?? -1);
    }
  }

  /** As ShardDO.prepareWrites, in the core's order (TxnParts.prepare): the failing op's error, given up, or logged as prepared and answered once acknowledged. */
  private prepare(txn: CrossShardTxn, ops: MultiWriteOp[]): Promise<Outcome> {
    return this.parts.prepare(txn, ops, this.holds, {
      answered: () => (this.leads() ? undefined : notLeader(this.appliedZxid())),
      now: () => this.env.scheduler.now,
      preparedAgain: () => this.preparedAnswer(this.appliedZxid()),
      givenUp: () => givenUp(this.appliedZxid()),
      wouldFail: () => {
        const failed = this.wouldFail(ops);
        return failed && failure(failed, this.appliedZxid());
      },
      logPrepared: () => this.preparedAnswer(this.log(() => [txnRow(txn.id, { kind: "prepared", txn, ops, at: this.env.scheduler.now })])),
    });
  }

  /** A prepared part's answer once acknowledged; else its fate is not known (ConnectionLoss), never a refusal. */
  private async preparedAnswer(zxid: number): Promise<Outcome> {
    return (await this.parts.preparedAnswer()) === "prepared" ? { ok: true, zxid, value: {} } : failure("ConnectionLoss", zxid);
  }

  /** A write of this shard's alone, once no prepared part holds what it changes (as ShardDO's writes wait). */
  private async plainWrite(ops: MultiWriteOp[]): Promise<Outcome> {
    const written = holdKeysWritten([{ op: "multi", ops } as ShardRequest]);
    while (this.holds.blocks(written)) await this.holds.untilNotHeld(written);
    if (!this.leads()) return notLeader(this.appliedZxid());
    let outcome!: Outcome;
    this.log((t, zxid) => {
      const executed = execute(t, asWrite(ops), 0, zxid, this.env.scheduler.now);
      outcome = executed.reply.error ? failure(executed.reply.error, zxid) : { ok: true, zxid, value: {} };
      return executed.effects;
    });
    return this.onceAcknowledged(outcome);
  }

  /** An answer once a sync replica holds what it shows; else OperationTimeout (its fate unknown), as the shard object answers. */
  private async onceAcknowledged(outcome: Outcome): Promise<Outcome> {
    return (await this.acknowledges(outcome.zxid, ACK_WAIT_MS)) ? outcome : failure("OperationTimeout", outcome.zxid);
  }

  /** The error `ops` would fail with now (nothing is written). */
  private wouldFail(ops: MultiWriteOp[]): KeeperErrorName | undefined {
    return this.storage.read((t) => execute(t, asWrite(ops), 0, 0, this.env.scheduler.now).reply.error);
  }

  /** Applies the part prepared for `txn`, its row then says so with the outcome (kept for the router's retries). */
  private applyPrepared(txn: string): Outcome {
    const part = this.storedRow(txn);
    if (part?.kind !== "prepared") return givenUp(this.appliedZxid());
    let outcome!: Outcome;
    this.log((t, zxid) => {
      const executed = execute(t, asWrite(part.ops), 0, zxid, this.env.scheduler.now);
      const error = executed.reply.error;
      outcome = error ? failure(error, zxid) : { ok: true, zxid, value: { results: part.ops.map((op) => ({ op: op.op, path: op.path })), ...(part.txn.parts ? { txn } : {}) } };
      return [...executed.effects, txnRow(txn, { kind: "applied", outcome })];
    });
    return outcome;
  }

  /** A prepared part applied (committed) or dropped (aborted), while this copy leads; a part settled already stays so. */
  private settle(txn: string, fate: "committed" | "aborted"): void {
    if (this.storedRow(txn)?.kind !== "prepared" || !this.leads()) return;
    if (fate === "aborted") this.log(() => [txnRow(txn, { kind: "aborted" })]);
    else this.applyPrepared(txn);
  }

  /** The shard object's alarm: while this copy leads, holds older than HOLD_RESOLVE_AFTER_MS ask their decider (or decide) and settle. */
  private async alarm(owner: Owner): Promise<void> {
    // A crash meanwhile ends this incarnation's alarm (its writes throw); the next one starts its own.
    if (this.leads()) await this.holds.resolveStale().catch(() => undefined);
    this.env.scheduler.after(ALARM_MS, owner, () => void this.alarm(owner));
  }

  private storedRow(txn: string): SimTxnRow | undefined {
    return this.storage.read((t) => t.get<SimTxnRow>("txn", txn));
  }

  private row(txn: string): PartRow | undefined {
    const row = this.storedRow(txn);
    return row?.kind === "prepared" ? { kind: "prepared", parts: row.txn.parts } : row;
  }

  /** Logs one write whose effects `effectsAt` gives (in the write's transaction, at its zxid); returns the zxid. A part's row leaving wakes the writes waiting for it. */
  private log(effectsAt: (txn: StorageTxn, zxid: number) => Effect[]): number {
    const done = this.core!.sequence((txn, zxid, epoch) => {
      const effects = effectsAt(txn, zxid);
      applyEffects(txn, effects);
      return { value: { zxid, effects }, entry: logEntry({ zxid, epoch, kind: "write", session: 0, cxid: 0, effects, reply: { zxid } }) };
    });
    if (done.kind !== "sequenced") throw new Error(`${this.name} no longer leads`);
    for (const effect of done.value.effects) if (effect.table === "txn" && (effect.row as SimTxnRow).kind !== "prepared") this.holds.release(effect.key);
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

/** As the shard object answers at a copy that does not lead. */
function notLeader(zxid: number): Outcome {
  return { ok: false, zxid, error: { name: "SystemError", code: KEEPER_ERRORS.SystemError.code, message: "this copy is not its shard's leader" }, notLeader: true };
}
