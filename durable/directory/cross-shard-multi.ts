/**
 * A multi whose writes lie on one shard and whose `check`s lie on others (a lock's
 * fence, its lock node mounted elsewhere than the data it guards): the checks are
 * made and held at their shards (ShardDO.holdChecks: a write that would change a
 * held version waits), then the writing shard runs its part, committing only if the
 * transaction was not given up meanwhile (ShardDO's txn decisions), then the holds
 * are released (after the answer, which so costs two round trips: to the checked
 * shards, then to the writing one). So every check holds at the moment the writes commit, as in one
 * ZooKeeper multi, and nothing is applied unless all of it is. A multi writing to
 * several shards is refused (Unimplemented).
 *
 * The answer is the multi's as ZooKeeper gives it: a result per op in the order
 * sent, or, failed, the failing op's error with Ok before it and
 * RuntimeInconsistency after (a failing check elsewhere counts as failing first).
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

/** How a multi splits: the writing shard's ops (its own checks included), and the checks on each other shard, each with its index in the multi. */
export interface CrossShardPlan {
  writer: { mount: Mount; ops: MultiWriteOp[]; indexes: number[] };
  checks: Array<{ mount: Mount; ops: CheckOp[]; indexes: number[] }>;
}

/**
 * How `multi` splits over `table`'s shards; undefined when one shard serves it all.
 * Unimplemented when it writes to more than one shard.
 */
export function planCrossShardMulti(table: MountTable, multi: MultiOp): CrossShardPlan | undefined {
  if (!Array.isArray(multi.ops) || multi.ops.length === 0) return undefined;
  const mounts = multi.ops.map((op) => mountFor(table, routingPath(op)));
  if (new Set(mounts).size === 1) return undefined;
  const writers = new Set(mounts.filter((_, i) => multi.ops[i]!.op !== "check"));
  if (writers.size > 1) {
    const prefixes = [...writers].map((m) => m.prefix).join(", ");
    throw new KeeperError("Unimplemented", `a multi writing to several shards is not supported yet (its writes lie under mounts ${prefixes}); checks on other shards are`);
  }
  const writerMount = writers.values().next().value ?? mounts[0]!;
  const writer: CrossShardPlan["writer"] = { mount: writerMount, ops: [], indexes: [] };
  const checks = new Map<Mount, CrossShardPlan["checks"][number]>();
  multi.ops.forEach((op, i) => {
    const mount = mounts[i]!;
    if (mount === writerMount) {
      writer.ops.push(op);
      writer.indexes.push(i);
    } else {
      const group = checks.get(mount) ?? { mount, ops: [], indexes: [] };
      group.ops.push(op as CheckOp);
      group.indexes.push(i);
      checks.set(mount, group);
    }
  });
  return { writer, checks: [...checks.values()] };
}

/** What running a plan needs of its router: holds at a shard, their release, the writing shard's part, and the decider's name. */
export interface CrossShardCalls {
  hold(mount: Mount, txn: CrossShardTxn, checks: CheckOp[]): Promise<Outcome>;
  release(mount: Mount, txnId: string): Promise<void>;
  /** Keeps work going after the answer (the releases: the answer does not wait for them). */
  inBackground(work: Promise<unknown>): void;
  write(mount: Mount, multi: MultiOp): Promise<Outcome>;
  deciderOf(mount: Mount): string;
  /** The writing shard's stored answer to this multi when it is a session's retry of one it committed (else undefined). */
  storedReply(mount: Mount): Promise<Outcome | undefined>;
}

/** An answer that says "ask elsewhere" (moved, or not the leader): the plan is run again from a fresh table. */
export const ELSEWHERE = "elsewhere" as const;

const elsewhere = (outcome: Outcome): boolean => !outcome.ok && (outcome.moved === true || outcome.notLeader === true);

/**
 * Runs a plan of `multi` once: the multi's answer, or ELSEWHERE when a shard answered
 * that it does not serve (nothing applied).
 */
export async function runCrossShardMulti(plan: CrossShardPlan, multi: MultiOp, calls: CrossShardCalls): Promise<Outcome | typeof ELSEWHERE> {
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: calls.deciderOf(plan.writer.mount) };
  const held = await Promise.all(plan.checks.map(async (group) => ({ group, outcome: await calls.hold(group.mount, txn, group.ops).catch((err: unknown) => err) })));
  // Whether the writing shard's fate is unknown (its call was cut): then its holds stay
  // for their shards to resolve with it, as a release could come before its commit.
  let writeUnknown = false;
  try {
    const thrown = held.find((h) => !isOutcome(h.outcome));
    if (thrown) throw thrown.outcome;
    const outcomes = held as Array<{ group: CrossShardPlan["checks"][number]; outcome: Outcome }>;
    if (outcomes.some((h) => elsewhere(h.outcome))) return ELSEWHERE;
    // The first check that failed, by its place in the multi.
    let failed: { index: number; error: KeeperErrorBody; zxid: number } | undefined;
    for (const { group, outcome } of outcomes) {
      if (outcome.ok) continue;
      const at = outcome.results?.findIndex((r) => r.op === "error") ?? 0;
      const index = group.indexes[Math.max(0, at)]!;
      if (!failed || index < failed.index) failed = { index, error: outcome.error, zxid: outcome.zxid };
    }
    if (failed) {
      // A session's retry of a multi that committed (its answer lost) gets that answer, though its checks no longer hold.
      const stored = await calls.storedReply(plan.writer.mount);
      return stored ? merged(multi, plan, stored) : failedMulti(multi.ops.length, failed.index, failed.error, failed.zxid);
    }
    // The writing part keeps the multi's cxid: a retry of it applies once.
    writeUnknown = true;
    const written = await calls.write(plan.writer.mount, { ...multi, ops: plan.writer.ops, txn });
    writeUnknown = false;
    if (elsewhere(written)) return ELSEWHERE;
    return merged(multi, plan, written);
  } finally {
    // Released after the answer (a write to a held node waits for it); a hold whose call
    // failed may exist, and is released too (a release of none is nothing).
    if (!writeUnknown) calls.inBackground(Promise.all(held.map((h) => calls.release(h.group.mount, txn.id).catch(() => undefined))));
  }
}

function isOutcome(value: unknown): value is Outcome {
  return typeof value === "object" && value !== null && "ok" in value && "zxid" in value;
}

/** The writing shard's answer as the whole multi's: its results in their places, a check's elsewhere. */
function merged(multi: MultiOp, plan: CrossShardPlan, written: Outcome): Outcome {
  if (written.ok) {
    const results: MultiItemResult[] = multi.ops.map(() => ({ op: "check" }));
    const value = written.value as { results: MultiItemResult[] };
    plan.writer.indexes.forEach((index, k) => (results[index] = value.results[k]!));
    return { ...written, value: { results } };
  }
  const at = written.results?.findIndex((r) => r.op === "error" && r.error.name !== "Ok") ?? -1;
  return failedMulti(multi.ops.length, plan.writer.indexes[Math.max(0, at)]!, written.error, written.zxid);
}

/** A failed multi of `count` ops as ZooKeeper reports it: Ok before `index`, its error there, RuntimeInconsistency after. */
function failedMulti(count: number, index: number, error: KeeperErrorBody, zxid: number): Outcome {
  const body = (name: "Ok" | "RuntimeInconsistency"): KeeperErrorBody => ({ name, code: KEEPER_ERRORS[name].code, message: KEEPER_ERRORS[name].message });
  const results = Array.from({ length: count }, (_, i): MultiItemResult => ({ op: "error", error: i === index ? error : body(i < index ? "Ok" : "RuntimeInconsistency") }));
  return { ok: false, zxid, error, results };
}
