/**
 * The rules of one shard's part in a multi across shards, over ports, so that the
 * shard object (durable/shard/shard-do.ts, its rows in cross-shard-txns.ts) and the
 * simulator (test/sim/txn-shards.ts) keep the same ones. The router runs the multi
 * (durable/directory/cross-shard-multi.ts); these rules settle it when the router
 * is gone or lost an answer:
 * - a part's row is final once logged: a prepared part is never given up, and a
 *   multi given up at a shard (its `aborted` row) is never prepared there after;
 * - so a shard asked about a multi it holds no part of gives it up, by a logged row;
 * - the decider (the shard whose part lists the others) asks every other shard where
 *   its part stands: all prepared, the multi committed and its own part applies; one
 *   given up, it aborted and its own part drops;
 * - every answer leaves once what it says is acknowledged (a failover cannot undo it).
 * A part is prepared in the order `TxnParts.prepare` keeps, the shard taking the steps
 * only it can (PrepareSteps).
 */
import type { CrossShardTxn, MultiWriteOp } from "../../../protocol/index.ts";
import { type CheckHolds, keysPrepareWaitsOn } from "./txn-holds.ts";

/** Where a multi stands at a shard holding a part of it, as that shard's leader says: "unknown" while it cannot say. */
export type PartState = "prepared" | "aborted" | "unknown";

/** What became of a multi, as its decider says ("unknown": it cannot say yet, not leading, or unreachable). */
export type TxnFate = "committed" | "aborted" | "unknown";

/** The oldest a transaction may be when a shard prepares its part (from when its router began it). */
export const TXN_MAX_AGE_MS = 5_000;

/** A part's row as the rules read it: a prepared part of the decider lists the other parts' copies. */
export type PartRow = { kind: "prepared"; parts?: readonly string[] } | { kind: "applied" } | { kind: "aborted" };

/** What the rules need of the shard holding parts. */
export interface TxnPartPorts {
  /** The transaction's row here, if any. */
  row(txn: string): PartRow | undefined;
  /** Whether this copy leads (only a leader logs rows). */
  leads(): boolean;
  /** Whether this copy holds every row its log says (not mid-snapshot, caught up to what it may show). */
  rowsWhole(): boolean;
  /** Logs the multi given up here: a part prepared for it drops. */
  abort(txn: string): void;
  /** Applies the prepared part (committed) or drops it (aborted). */
  settle(txn: string, fate: "committed" | "aborted"): Promise<unknown>;
  /** Asks the copy `copy` of another shard of the multi where its part stands ("unknown" where it cannot be reached: never rejects). */
  askPart(copy: string, txn: string): Promise<PartState>;
  /** Asks the multi's decider what became of it (`waiter`: see TxnParts.resolve; "unknown" where it cannot be reached: never rejects). */
  askDecider(decider: string, txn: string, waiter: string | undefined): Promise<TxnFate>;
  /** Whether what this copy shows now is acknowledged (at once where no sync replica is named). */
  acknowledged(): Promise<boolean>;
}

/** The steps of a prepare that are the shard's own, answering `A`, in the order TxnParts.prepare takes them. */
export interface PrepareSteps<A> {
  /** An answer unless the part is prepared here already: this copy does not lead, a path is served elsewhere, a session's retry's stored reply. */
  answered(): A | undefined;
  /** The time now, in the clock of the transaction's start. */
  now(): number;
  /** The part prepared already (or applied), sent again: answered as the first time, once acknowledged (see preparedAnswer), at any copy holding its row. */
  preparedAgain(): Promise<A>;
  /** The multi given up here, or too old to prepare. */
  givenUp(): A;
  /** The failing op's answer were the part applied now (nothing is written); undefined where it would apply. */
  wouldFail(): A | undefined;
  /** Logs the part as prepared (in this synchronous block: no part holds what it waits on), then answers once acknowledged. */
  logPrepared(): Promise<A>;
}

/** Whether a part may be prepared: it is already (or applied), the multi was given up here or is too old, or it may be. */
function prepareVerdict(row: PartRow | undefined, startedAt: number, now: number): "prepared" | "given-up" | "prepare" {
  if (row?.kind === "prepared" || row?.kind === "applied") return "prepared";
  return row?.kind === "aborted" || now - startedAt > TXN_MAX_AGE_MS ? "given-up" : "prepare";
}

export class TxnParts {
  private readonly ports: TxnPartPorts;

  constructor(ports: TxnPartPorts) {
    this.ports = ports;
  }

  /**
   * Prepares this shard's part of `txn` (its `ops`): a part prepared already stays so,
   * even at a copy that no longer leads (its "not the leader" would tell the router the
   * part is not prepared, and a prepare delivered twice may have prepared it before the
   * copy stopped leading); one given up or too old is refused, one that would fail
   * answers how; else, once no other transaction's part holds what it relies on or
   * changes, or the reverse (looked at again after each wait, as the other was decided
   * meanwhile: so each prepared part applies whichever applies first), it is logged as
   * prepared.
   */
  async prepare<A>(txn: CrossShardTxn, ops: readonly MultiWriteOp[], holds: CheckHolds, steps: PrepareSteps<A>): Promise<A> {
    const keys = keysPrepareWaitsOn(ops);
    for (;;) {
      const verdict = prepareVerdict(this.ports.row(txn.id), txn.startedAt, steps.now());
      if (verdict === "prepared") return steps.preparedAgain();
      const answered = steps.answered();
      if (answered !== undefined) return answered;
      if (verdict === "given-up") return steps.givenUp();
      const failed = steps.wouldFail();
      if (failed !== undefined) return failed;
      if (!holds.blocks(keys, txn.id)) return steps.logPrepared();
      await holds.untilNotHeld(keys, txn.id);
    }
  }

  /** Gives the multi up here (its router releases it: a part failed): a prepared part drops; at a copy that does not lead, nothing. */
  release(txn: string): void {
    const row = this.ports.row(txn);
    if ((row === undefined || row.kind === "prepared") && this.ports.leads()) this.ports.abort(txn);
  }

  /**
   * What became of a multi whose part here lists the others (this shard decides it):
   * once every part is prepared it committed (this part applies), once one was given
   * up it aborted (this part drops), learnt by asking each shard (partOf, which gives
   * up one not prepared). A multi with no part here was not prepared here, so it is
   * given up. "unknown" while this copy does not lead or its rows are not whole, while
   * a shard cannot say, and while a multi of a higher id waits at the asking shard for
   * this one's holds (`waiter`: of multis that wait for each other, the highest id is
   * given up, not all of them).
   */
  async resolve(txn: string, waiter?: string): Promise<TxnFate> {
    const { ports } = this;
    if (!ports.rowsWhole()) return "unknown";
    const decides = ports.leads() && !(waiter !== undefined && txn < waiter);
    let row = ports.row(txn);
    if (row?.kind === "prepared" && row.parts && decides) {
      const states = await Promise.all(row.parts.map((copy) => ports.askPart(copy, txn)));
      if (states.includes("aborted") || states.every((state) => state === "prepared")) await ports.settle(txn, states.includes("aborted") ? "aborted" : "committed");
      row = ports.row(txn);
    }
    if (row === undefined && decides) {
      ports.abort(txn);
      row = ports.row(txn);
    }
    return this.onceAcknowledged(row?.kind === "applied" ? "committed" : row?.kind === "aborted" ? "aborted" : "unknown");
  }

  /**
   * Where this shard's part stands, asked by its decider: prepared (or applied), or
   * aborted; one not prepared here is given up first, so it never is after. "unknown"
   * at a copy that does not lead or whose rows are not whole.
   */
  async partOf(txn: string): Promise<PartState> {
    const { ports } = this;
    if (!ports.rowsWhole()) return "unknown";
    if (ports.row(txn) === undefined && ports.leads()) ports.abort(txn);
    const row = ports.row(txn);
    return this.onceAcknowledged(row === undefined ? "unknown" : row.kind === "aborted" ? "aborted" : "prepared");
  }

  /**
   * The answer to a part's prepare once its row is logged here, just now or before (the
   * router sent it again): "prepared" once acknowledged, as only then can no failover
   * undo it; else "unknown" (it may yet count as prepared: never a refusal).
   */
  preparedAnswer(): Promise<"prepared" | "unknown"> {
    return this.onceAcknowledged<"prepared">("prepared");
  }

  /** What became of a multi with a part held here: this shard's own answer where it decides, else its decider's. */
  fateOf(txn: string, decider: string, waiter: string | undefined): Promise<TxnFate> {
    const row = this.ports.row(txn);
    return row?.kind === "prepared" && row.parts ? this.resolve(txn, waiter) : this.ports.askDecider(decider, txn, waiter);
  }

  /**
   * An answer once what it says is acknowledged (else "unknown": a failover could undo
   * it). The rows it was read from must still be whole: a copy that stopped leading
   * while it asked the other parts may hold a tail its new leader dropped.
   */
  private async onceAcknowledged<T extends string>(answer: T | "unknown"): Promise<T | "unknown"> {
    return answer !== "unknown" && this.ports.rowsWhole() && (await this.ports.acknowledged()) ? answer : "unknown";
  }
}
