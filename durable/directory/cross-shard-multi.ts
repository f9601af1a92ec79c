/**
 * A multi whose paths lie on several shards, all of it applied or none, through the
 * router that runs it (its coordinator), in two phases:
 * 1. every shard prepares its part at once (ShardDO.prepareWrites: checked as it
 *    would apply, then logged with holds on what it touches, so a write that would
 *    change a held node waits; durable/shard/cross-shard-txns.ts). The part of the
 *    shard of the first write (its decider) lists the others;
 * 2. once every part is prepared the multi is committed: each part is sent to apply.
 *    The answer waits for the parts with writes; a part of checks alone applies after.
 * A part that fails in phase 1 releases every part (a prepared one is dropped, and
 * none is prepared after). A router that never comes back, or loses a part's answer,
 * leaves its parts to their shards: each asks the decider after a second, which asks
 * every shard where its part stands (giving up one not prepared), and applies or
 * drops its part as they say. So every check holds from the moment every part is
 * prepared, as in one ZooKeeper multi, and nothing is applied unless all of it is.
 *
 * Costs: two round trips to the farthest shard's leader.
 *
 * The answer is the multi's as ZooKeeper gives it: a result per op in the order
 * sent, or, failed, the failing op's error with Ok before it and
 * RuntimeInconsistency after.
 */
import {
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

/** A shard's part of a multi: its ops, each with its index in the multi, and whether any writes. */
export interface PartOfPlan {
  mount: Mount;
  ops: MultiWriteOp[];
  indexes: number[];
  writes: boolean;
}

/** How a multi splits: the decider's part (its first write's shard), and every other shard's. */
export interface CrossShardPlan {
  decider: PartOfPlan;
  others: PartOfPlan[];
}

/** How `multi` splits over `table`'s shards; undefined when one shard serves it all. */
export function planCrossShardMulti(table: MountTable, multi: MultiOp): CrossShardPlan | undefined {
  if (!Array.isArray(multi.ops) || multi.ops.length === 0) return undefined;
  const mounts = multi.ops.map((op) => mountFor(table, routingPath(op)));
  if (new Set(mounts).size === 1) return undefined;
  const firstWrite = multi.ops.findIndex((op) => op.op !== "check");
  const deciderMount = mounts[Math.max(0, firstWrite)]!;
  const parts = new Map<Mount, PartOfPlan>();
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
  /** A new transaction's id and start (the router's clock: a shard refuses to prepare one too old). */
  begin(): Pick<CrossShardTxn, "id" | "startedAt">;
  prepare(mount: Mount, txn: CrossShardTxn, part: MultiOp): Promise<Outcome>;
  /** Gives the transaction up at a shard: a part prepared there is dropped. */
  release(mount: Mount, txnId: string): Promise<void>;
  /** Keeps work going after the answer (releases, and parts of checks alone applying). */
  inBackground(work: Promise<unknown>): void;
  /** Sends the decider its part to apply (the multi's cxid goes with it: its reply is stored for a retry). */
  write(mount: Mount, multi: MultiOp): Promise<Outcome>;
  /** Sends another prepared part to apply, to its shard's leader now. */
  commit(part: MultiOp): Promise<Outcome>;
  /** The object of a shard's leader, as the router names it. */
  deciderOf(mount: Mount): string;
}

/** An answer that says "ask elsewhere" (moved, or not the leader): the plan is run again from a fresh table. */
export const ELSEWHERE = "elsewhere" as const;

const elsewhere = (outcome: Outcome): boolean => !outcome.ok && (outcome.moved === true || outcome.notLeader === true);

/**
 * Runs a plan of `multi` once: the multi's answer, or ELSEWHERE when a shard answered
 * that it does not serve before anything committed.
 */
export async function runCrossShardMulti(plan: CrossShardPlan, multi: MultiOp, calls: CrossShardCalls): Promise<Outcome | typeof ELSEWHERE> {
  const txn: CrossShardTxn = { ...calls.begin(), decider: calls.deciderOf(plan.decider.mount) };
  const parts = [plan.decider, ...plan.others];
  const staged: CrossShardTxn = { ...txn, parts: plan.others.map((part) => calls.deciderOf(part.mount)) };
  const taken = await Promise.all(
    parts.map(async (part) => ({ part, outcome: await calls.prepare(part.mount, part === plan.decider ? staged : txn, { ...multi, ops: part.ops }).catch((err: unknown) => err) })),
  );
  // A part whose answer was lost, or whose shard could not yet say it is prepared (ConnectionLoss), may be prepared.
  const unsure = (t: (typeof taken)[number]): boolean => !isOutcome(t.outcome) || (!t.outcome.ok && t.outcome.error.name === "ConnectionLoss");
  const answered = taken.filter((t): t is { part: PartOfPlan; outcome: Outcome } => !unsure(t));
  // A part that answered it is not prepared never is (asked later, its shard gives the multi up): the
  // multi cannot commit, and every part that may be prepared is released. Else, with a part unsure,
  // it may commit: the parts are left to their shards, which ask the decider.
  const refused = answered.some((t) => !t.outcome.ok || isStoredReply(t.outcome));
  try {
    if (answered.some((t) => elsewhere(t.outcome))) return ELSEWHERE;
    // A session's retry of a multi that committed (its answer lost): the decider answers the reply it stored.
    const stored = taken[0]!.outcome;
    if (!unsure(taken[0]!) && isStoredReply(stored as Outcome)) return await committedAgain(plan, multi, txn, stored as Outcome, calls);
    const failed = firstFailed(answered.map((t): [PartOfPlan, Outcome] => [t.part, t.outcome]));
    if (failed) return failedMulti(multi.ops.length, failed.index, failed.error, failed.zxid);
    const lost = taken.find(unsure);
    if (lost) throw isOutcome(lost.outcome) ? new KeeperError("ConnectionLoss", (lost.outcome as Extract<Outcome, { ok: false }>).error.message) : lost.outcome;
    // Every part is prepared: the multi is committed. The decider's part first (a session host answers its mount).
    const applied = parts.map((part): [PartOfPlan, Promise<Outcome>] => [part, part === plan.decider ? calls.write(part.mount, { ...multi, ops: part.ops, txn }) : calls.commit({ ...multi, ops: part.ops, txn })]);
    const checksAlone = applied.filter(([part]) => part !== plan.decider && !part.writes);
    if (checksAlone.length > 0) calls.inBackground(Promise.all(checksAlone.map(([, outcome]) => outcome.catch(() => undefined))));
    const results = await Promise.all(applied.filter((entry) => !checksAlone.includes(entry)).map(async ([part, outcome]): Promise<[PartOfPlan, Outcome]> => [part, await appliedAnswer(outcome)]));
    return merged(multi, results);
  } finally {
    // Released after the answer (a write to a held node waits for it).
    const released = refused ? taken.filter((t) => unsure(t) || ((t.outcome as Outcome).ok && !isStoredReply(t.outcome as Outcome))) : [];
    if (released.length > 0) calls.inBackground(Promise.all(released.map((t) => calls.release(t.part.mount, txn.id).catch(() => undefined))));
  }
}

/**
 * A session's retry of a multi an earlier transaction committed, `stored` its decider's
 * reply: that transaction's other parts are sent to apply (each answers its outcome
 * again, having applied already), for the answer.
 */
async function committedAgain(plan: CrossShardPlan, multi: MultiOp, txn: CrossShardTxn, stored: Outcome, calls: CrossShardCalls): Promise<Outcome> {
  const earlier = committedTxnOf(stored);
  if (earlier === undefined) throw new KeeperError("SystemError", "the stored reply to this multi names no transaction: its parts on other shards cannot be told");
  const others = await Promise.all(plan.others.map(async (part): Promise<[PartOfPlan, Outcome]> => [part, await appliedAnswer(calls.commit({ ...multi, ops: part.ops, txn: { ...txn, id: earlier } }))]));
  return merged(multi, [[plan.decider, stored], ...others]);
}

/**
 * A committed multi's part, as its shard answered it. A part that shard cannot apply
 * now (its leader moved on, or the answer was lost) still applies there, from its
 * alarm: so the multi's answer is not known (ConnectionLoss), never a failure.
 */
async function appliedAnswer(outcome: Promise<Outcome>): Promise<Outcome> {
  const answer = await outcome.catch(() => undefined);
  if (answer === undefined || elsewhere(answer)) {
    throw new KeeperError("ConnectionLoss", "the multi committed, but a part's shard did not answer it (lost, or its leader moved): that part applies there; whether it has yet is not known");
  }
  return answer;
}

/** The transaction a decider's answer says it committed. */
function committedTxnOf(outcome: Outcome): string | undefined {
  const txn = outcome.ok ? (outcome.value as { txn?: unknown }).txn : undefined;
  return typeof txn === "string" ? txn : undefined;
}

/** A part's answer that is not "prepared" but the reply stored for the session's multi (its decider's, to a retry). */
function isStoredReply(outcome: Outcome): boolean {
  return outcome.ok && "results" in (outcome.value as object);
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
