/**
 * A multi whose paths lie on several shards, all of it applied or none, through the
 * router that runs it (its coordinator) and the shard of its first write (its
 * decider), in two phases:
 * 1. every other shard takes its part: `check`s alone are checked and held
 *    (ShardDO.holdChecks: a write that would change a held version waits); a part
 *    with writes is prepared (ShardDO.prepareWrites: checked as it would apply, then
 *    logged with holds on what it touches, durable/shard/cross-shard-txns.ts);
 * 2. the decider runs its part, which commits the transaction unless it was given
 *    up meanwhile (its logged decision); then each prepared part is sent to apply,
 *    and the holds are released (after the answer).
 * A part that fails in phase 1, or a decider that refuses, releases every part (a
 * prepared one is dropped). A router that never comes back leaves its parts to their
 * shards: each asks the decider after a second, and applies or drops its part as it
 * says; a decider asked before committing gives the transaction up. So every check
 * holds at the moment the decider commits, as in one ZooKeeper multi, and nothing is
 * applied unless all of it is.
 *
 * Costs: round trips to the other shards, then to the decider, then (writes on
 * several shards) to the prepared ones again.
 *
 * The answer is the multi's as ZooKeeper gives it: a result per op in the order
 * sent, or, failed, the failing op's error with Ok before it and
 * RuntimeInconsistency after (a part failing in phase 1 counts as failing first).
 */
import {
  type CheckOp,
  type CrossShardTxn,
  KEEPER_ERRORS,
  KeeperError,
  type KeeperErrorBody,
  type MultiItemResult,
  type MultiOp,
  type MultiWriteOp,
  type Outcome,
  routingPath,
} from "../../protocol/index.ts";
import { type Mount, type MountTable, mountFor } from "./mount-table.ts";

/** A shard's part of a multi: its ops, each with its index in the multi. */
export interface PartOfPlan {
  mount: Mount;
  ops: MultiWriteOp[];
  indexes: number[];
}

/** How a multi splits: the decider's part (its first write's shard), and every other shard's, with writes or checks only. */
export interface CrossShardPlan {
  decider: PartOfPlan;
  others: Array<PartOfPlan & { writes: boolean }>;
}

/** How `multi` splits over `table`'s shards; undefined when one shard serves it all. */
export function planCrossShardMulti(table: MountTable, multi: MultiOp): CrossShardPlan | undefined {
  if (!Array.isArray(multi.ops) || multi.ops.length === 0) return undefined;
  const mounts = multi.ops.map((op) => mountFor(table, routingPath(op)));
  if (new Set(mounts).size === 1) return undefined;
  const firstWrite = multi.ops.findIndex((op) => op.op !== "check");
  const deciderMount = mounts[Math.max(0, firstWrite)]!;
  const parts = new Map<Mount, PartOfPlan & { writes: boolean }>();
  multi.ops.forEach((op, i) => {
    const mount = mounts[i]!;
    const part = parts.get(mount) ?? { mount, ops: [], indexes: [], writes: false };
    part.ops.push(op);
    part.indexes.push(i);
    part.writes ||= op.op !== "check";
    parts.set(mount, part);
  });
  return { decider: parts.get(deciderMount)!, others: [...parts.values()].filter((part) => part.mount !== deciderMount) };
}

/** What running a plan needs of its router. */
export interface CrossShardCalls {
  hold(mount: Mount, txn: CrossShardTxn, checks: CheckOp[]): Promise<Outcome>;
  prepare(mount: Mount, txn: CrossShardTxn, part: MultiOp): Promise<Outcome>;
  /** Releases what the transaction holds at a shard: its checks, or its prepared part, dropped. */
  release(mount: Mount, txnId: string): Promise<void>;
  /** Keeps work going after the answer (the releases: the answer does not wait for them). */
  inBackground(work: Promise<unknown>): void;
  /** Sends the decider its part. */
  write(mount: Mount, multi: MultiOp): Promise<Outcome>;
  /** Sends a prepared part to apply (the transaction committed), to its shard's leader now. */
  commit(part: MultiOp): Promise<Outcome>;
  deciderOf(mount: Mount): string;
  /** The decider's stored answer to this multi when it is a session's retry of one it committed (else undefined). */
  storedReply(mount: Mount): Promise<Outcome | undefined>;
}

/** An answer that says "ask elsewhere" (moved, or not the leader): the plan is run again from a fresh table. */
export const ELSEWHERE = "elsewhere" as const;

const elsewhere = (outcome: Outcome): boolean => !outcome.ok && (outcome.moved === true || outcome.notLeader === true);

/**
 * Runs a plan of `multi` once: the multi's answer, or ELSEWHERE when a shard answered
 * that it does not serve before anything committed.
 */
export async function runCrossShardMulti(plan: CrossShardPlan, multi: MultiOp, calls: CrossShardCalls): Promise<Outcome | typeof ELSEWHERE> {
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: calls.deciderOf(plan.decider.mount) };
  const taken = await Promise.all(
    plan.others.map(async (part) => {
      const take = async () => (part.writes ? calls.prepare(part.mount, txn, { ...multi, ops: part.ops }) : calls.hold(part.mount, txn, part.ops as CheckOp[]));
      return { part, outcome: await take().catch((err: unknown) => err) };
    }),
  );
  // The decider's part: not sent (every part is released), sent with its fate unknown (the
  // parts are left to their shards, which ask the decider), or committed (the checks are released).
  let decision: "none" | "unknown" | "committed" = "none";
  try {
    const thrown = taken.find((t) => !isOutcome(t.outcome));
    if (thrown) throw thrown.outcome;
    const outcomes = taken as Array<{ part: PartOfPlan; outcome: Outcome }>;
    if (outcomes.some((t) => elsewhere(t.outcome))) return ELSEWHERE;
    const failed = firstFailed(outcomes.map((t): [PartOfPlan, Outcome] => [t.part, t.outcome]));
    if (failed) {
      // A session's retry of a multi that committed (its answer lost) gets that answer, though its checks no longer hold.
      const stored = await calls.storedReply(plan.decider.mount);
      return stored ? committedAgain(plan, multi, txn, stored, calls) : failedMulti(multi.ops.length, failed.index, failed.error, failed.zxid);
    }
    // The decider's part keeps the multi's cxid: a retry of it applies once.
    decision = "unknown";
    const written = await calls.write(plan.decider.mount, { ...multi, ops: plan.decider.ops, txn });
    if (!written.ok) decision = "none";
    if (elsewhere(written)) return ELSEWHERE;
    if (!written.ok) return merged(multi, [[plan.decider, written]]);
    if (committedTxnOf(written) !== txn.id) {
      // A session's retry, answered from the decider's stored reply: an earlier transaction committed.
      decision = "none";
      return committedAgain(plan, multi, txn, written, calls);
    }
    decision = "committed";
    return merged(multi, [[plan.decider, written], ...(await commitPrepared(plan, multi, txn, calls))]);
  } finally {
    // Released after the answer (a write to a held node waits for it); a hold whose call
    // failed may exist, and is released too (a release of none is nothing). A committed
    // transaction's prepared parts apply, never drop.
    const released = decision === "none" ? taken : decision === "committed" ? taken.filter((t) => !t.part.writes) : [];
    if (released.length > 0) calls.inBackground(Promise.all(released.map((t) => calls.release(t.part.mount, txn.id).catch(() => undefined))));
  }
}

/** The prepared parts of `plan` applied, as the committed transaction `txn`: each with its answer. */
function commitPrepared(plan: CrossShardPlan, multi: MultiOp, txn: CrossShardTxn, calls: CrossShardCalls): Promise<Array<[PartOfPlan, Outcome]>> {
  return Promise.all(plan.others.filter((part) => part.writes).map(async (part): Promise<[PartOfPlan, Outcome]> => [part, await calls.commit({ ...multi, ops: part.ops, txn })]));
}

/**
 * A session's retry of a multi an earlier transaction committed, `stored` its decider's
 * reply: that transaction's prepared parts are sent to apply (each answers its outcome
 * again if it did already), for the answer.
 */
async function committedAgain(plan: CrossShardPlan, multi: MultiOp, txn: CrossShardTxn, stored: Outcome, calls: CrossShardCalls): Promise<Outcome> {
  if (!stored.ok) return merged(multi, [[plan.decider, stored]]);
  const earlier = committedTxnOf(stored);
  if (earlier === undefined && plan.others.some((part) => part.writes)) throw new KeeperError("SystemError", "the stored reply to this multi names no transaction: its parts on other shards cannot be told");
  return merged(multi, [[plan.decider, stored], ...(earlier === undefined ? [] : await commitPrepared(plan, multi, { ...txn, id: earlier }, calls))]);
}

/** The transaction a decider's answer says it committed. */
function committedTxnOf(outcome: Outcome): string | undefined {
  const txn = outcome.ok ? (outcome.value as { txn?: unknown }).txn : undefined;
  return typeof txn === "string" ? txn : undefined;
}

function isOutcome(value: unknown): value is Outcome {
  return typeof value === "object" && value !== null && "ok" in value && "zxid" in value;
}

/** The failing op of the first part that failed, by its place in the multi. */
function firstFailed(answers: ReadonlyArray<[PartOfPlan, Outcome]>): { index: number; error: KeeperErrorBody; zxid: number } | undefined {
  let failed: { index: number; error: KeeperErrorBody; zxid: number } | undefined;
  for (const [part, outcome] of answers) {
    if (outcome.ok) continue;
    // A hold answers its checks; a part, ZooKeeper's per-op results (Ok before its failing op).
    const at = outcome.results?.findIndex((r) => r.op === "error" && r.error.name !== "Ok") ?? -1;
    const index = part.indexes[Math.max(0, at)]!;
    if (!failed || index < failed.index) failed = { index, error: outcome.error, zxid: outcome.zxid };
  }
  return failed;
}

/** The parts' answers as the whole multi's (the first part's zxid): their results in their places, or the first failing op's error. */
function merged(multi: MultiOp, answers: ReadonlyArray<[PartOfPlan, Outcome]>): Outcome {
  const failed = firstFailed(answers);
  if (failed) return failedMulti(multi.ops.length, failed.index, failed.error, failed.zxid);
  const results: MultiItemResult[] = multi.ops.map(() => ({ op: "check" }));
  for (const [part, outcome] of answers) {
    const value = (outcome as Extract<Outcome, { ok: true }>).value as { results: MultiItemResult[] };
    part.indexes.forEach((index, k) => (results[index] = value.results[k]!));
  }
  return { ok: true, zxid: answers[0]![1].zxid, value: { results } };
}

/** A failed multi of `count` ops as ZooKeeper reports it: Ok before `index`, its error there, RuntimeInconsistency after. */
function failedMulti(count: number, index: number, error: KeeperErrorBody, zxid: number): Outcome {
  const body = (name: "Ok" | "RuntimeInconsistency"): KeeperErrorBody => ({ name, code: KEEPER_ERRORS[name].code, message: KEEPER_ERRORS[name].message });
  const results = Array.from({ length: count }, (_, i): MultiItemResult => ({ op: "error", error: i === index ? error : body(i < index ? "Ok" : "RuntimeInconsistency") }));
  return { ok: false, zxid, error, results };
}
