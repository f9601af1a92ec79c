/**
 * A multi across shards as its router runs it (durable/directory/cross-shard-multi.ts),
 * over shards that answer as the test says: how it splits, what each phase sends and
 * releases, and a session's retry of a multi whose first try committed but whose
 * answer was lost, which must apply nothing twice and answer as the first would have.
 */
import { expect, it } from "vitest";
import { type CrossShardCalls, ELSEWHERE, planCrossShardMulti, runCrossShardMulti } from "../../durable/directory/cross-shard-multi.ts";
import { type Mount, type MountTable, ROOT_MOUNT } from "../../durable/directory/mount-table.ts";
import { type CrossShardTxn, KeeperError, type MultiOp, type Outcome } from "../../protocol/index.ts";

const DATA: Mount = { prefix: "/data", shard: "d" };
const LOCKS: Mount = { prefix: "/locks", shard: "l" };
const TABLE: MountTable = { version: 1, mounts: [ROOT_MOUNT, DATA, LOCKS] };

const ok = (results: unknown[], extra: Record<string, unknown> = {}): Outcome => ({ ok: true, zxid: 5, value: { results, ...extra } });

/** Calls that record what the router sent, answering with `answers` (by call) or OK. */
function recording(answers: Partial<Record<"prepare" | "write" | "commit", (mount: Mount, multi: MultiOp) => Outcome | undefined>> = {}) {
  const log: string[] = [];
  const txns: CrossShardTxn[] = [];
  const background: Promise<unknown>[] = [];
  const calls: CrossShardCalls = {
    begin: () => ({ id: crypto.randomUUID(), startedAt: Date.now() }),
    prepare: async (mount, txn, part) => (txns.push(txn), log.push(`prepare ${mount.shard}`), answers.prepare?.(mount, part) ?? { ok: true, zxid: 1, value: {} }),
    release: async (mount, txnId) => void log.push(`release ${mount.shard} ${txnId === txns[0]?.id ? "this" : "other"}`),
    inBackground: (work) => void background.push(work),
    write: async (mount, multi) => (log.push(`write ${mount.shard}`), answers.write?.(mount, multi) ?? ok(multi.ops.map((op) => ({ op: op.op })), { txn: multi.txn!.id })),
    commit: async (part) => (log.push(`commit ${part.txn!.id === txns[0]?.id ? "this" : part.txn!.id} ${part.ops.map((op) => op.path).join(",")}`), answers.commit?.(DATA, part) ?? ok(part.ops.map((op) => ({ op: op.op, path: op.path })))),
    deciderOf: (mount) => `decider-${mount.shard}`,
  };
  return { calls, log, txns, settled: () => Promise.all(background) };
}

it("splits a multi by shard: the first write's shard decides, and every shard has its part, with writes or checks alone", () => {
  const multi: MultiOp = {
    op: "multi",
    ops: [
      { op: "check", path: "/locks/a", version: 1 },
      { op: "setData", path: "/data/x", data: null },
      { op: "create", path: "/y" },
      { op: "check", path: "/data/z" },
    ],
  };
  const plan = planCrossShardMulti(TABLE, multi)!;
  expect(plan.decider).toMatchObject({ mount: DATA, indexes: [1, 3], writes: true });
  expect(plan.others).toEqual([
    { mount: LOCKS, ops: [multi.ops[0]], indexes: [0], writes: false },
    { mount: ROOT_MOUNT, ops: [multi.ops[2]], indexes: [2], writes: true },
  ]);
  expect(planCrossShardMulti(TABLE, { op: "multi", ops: [{ op: "create", path: "/data/a" }, { op: "delete", path: "/data/b" }] })).toBeUndefined();
});

it("prepares every part at once, the decider's listing the others; then sends every part to apply, answering once the parts with writes did", async () => {
  const { calls, log, txns, settled } = recording();
  const multi: MultiOp = { op: "multi", ops: [{ op: "setData", path: "/data/x", data: null }, { op: "create", path: "/y" }, { op: "check", path: "/locks/a" }] };
  const answer = await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, calls);
  await settled();
  expect(log).toEqual(["prepare d", "prepare root", "prepare l", "write d", "commit this /y", "commit this /locks/a"]);
  expect(txns[0]!.parts).toEqual(["decider-root", "decider-l"]);
  expect(txns.slice(1).map((txn) => txn.parts)).toEqual([undefined, undefined]);
  expect(new Set(txns.map((txn) => txn.id)).size).toBe(1);
  expect(answer).toEqual({ ok: true, zxid: 5, value: { results: [{ op: "setData" }, { op: "create", path: "/y" }, { op: "check" }] } });
});

it("releases every part that prepared when one fails, and answers its failing op in its place", async () => {
  const refused: Outcome = { ok: false, zxid: 5, error: { name: "BadVersion", code: -103, message: "version" }, results: [{ op: "error", error: { name: "BadVersion", code: -103, message: "version" } }] };
  const { calls, log, settled } = recording({ prepare: (mount) => (mount.shard === "d" ? refused : undefined) });
  const multi: MultiOp = { op: "multi", ops: [{ op: "create", path: "/y" }, { op: "setData", path: "/data/x", data: null, version: 7 }] };
  // The root shard's create comes first: it decides.
  const plan = planCrossShardMulti(TABLE, multi)!;
  expect(plan.decider.mount).toBe(ROOT_MOUNT);
  const answer = await runCrossShardMulti(plan, multi, calls);
  await settled();
  expect(log).toEqual(["prepare root", "prepare d", "release root this"]);
  expect(answer).toMatchObject({ ok: false, error: { name: "BadVersion" }, results: [{ error: { name: "Ok" } }, { error: { name: "BadVersion" } }] });
});

it("leaves every part to its shard when an answer is lost and the multi may have committed, and runs again from a fresh table when a shard moved before anything committed", async () => {
  const lost = recording({ write: () => Promise.reject(new Error("cut")) as never });
  const multi: MultiOp = { op: "multi", ops: [{ op: "setData", path: "/data/x", data: null }, { op: "create", path: "/y" }] };
  expect(await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, lost.calls).catch((err: unknown) => err)).toMatchObject({ keeperName: "ConnectionLoss" });
  await lost.settled();
  expect(lost.log).toEqual(["prepare d", "prepare root", "write d", "commit this /y"]);
  // Committed, a part whose shard's leader moved on (or whose retries ran out) is not a failure either: it applies there.
  const notLeader: Outcome = { ok: false, zxid: 4, error: { name: "SystemError", code: -1, message: "not the leader" }, notLeader: true };
  for (const moved of [recording({ commit: () => notLeader }), recording({ commit: () => Promise.reject(new KeeperError("SystemError", "retries ran out")) as never })]) {
    expect(await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, moved.calls).catch((err: unknown) => err)).toMatchObject({ keeperName: "ConnectionLoss" });
    await moved.settled();
    expect(moved.log).toEqual(["prepare d", "prepare root", "write d", "commit this /y"]);
  }

  // A prepare's answer lost, every other part prepared: the multi may have committed, so nothing is released.
  const cut = recording({ prepare: (mount) => (mount.shard === "root" ? (Promise.reject(new Error("cut")) as never) : undefined) });
  await expect(runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, cut.calls)).rejects.toThrow("cut");
  await cut.settled();
  expect(cut.log).toEqual(["prepare d", "prepare root"]);
  // So too when a part's shard logged it but could not say in time that it holds (ConnectionLoss): the multi answers that.
  const unacknowledged: Outcome = { ok: false, zxid: 4, error: { name: "ConnectionLoss", code: -4, message: "not acknowledged in time" } };
  const unsure = recording({ prepare: (mount) => (mount.shard === "root" ? unacknowledged : undefined) });
  expect(await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, unsure.calls).catch((err: unknown) => err)).toMatchObject({ keeperName: "ConnectionLoss" });
  await unsure.settled();
  expect(unsure.log).toEqual(["prepare d", "prepare root"]);
  // ...but with another part refused, it cannot: the multi fails, and the part whose answer was lost is released too.
  const refused: Outcome = { ok: false, zxid: 5, error: { name: "BadVersion", code: -103, message: "version" }, results: [{ op: "error", error: { name: "BadVersion", code: -103, message: "version" } }] };
  const cutAndRefused = recording({ prepare: (mount) => (mount.shard === "root" ? (Promise.reject(new Error("cut")) as never) : refused) });
  expect(await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, cutAndRefused.calls)).toMatchObject({ ok: false, error: { name: "BadVersion" } });
  await cutAndRefused.settled();
  expect(cutAndRefused.log).toEqual(["prepare d", "prepare root", "release root this"]);

  const moved = recording({ prepare: (mount) => (mount.shard === "root" ? { ok: false, zxid: 0, error: { name: "SystemError", code: -1, message: "moved" }, moved: true } : undefined) });
  expect(await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, moved.calls)).toBe(ELSEWHERE);
  await moved.settled();
  expect(moved.log).toEqual(["prepare d", "prepare root", "release d this"]);
});

it("answers a session's retry of a multi that committed, its answer lost, from what the first try applied: nothing applies twice", async () => {
  const multi = { op: "multi", ops: [{ op: "setData", path: "/data/x", data: null }, { op: "create", path: "/y" }], cxid: 9 } as MultiOp;
  const first: Outcome = ok([{ op: "setData" }], { txn: "first-txn" });
  // The decider answers the retry's part from its stored reply (the cxid's): the first transaction committed.
  const replayed = recording({ prepare: (mount) => (mount.shard === "d" ? first : undefined) });
  const answer = await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, replayed.calls);
  await replayed.settled();
  expect(replayed.log).toEqual(["prepare d", "prepare root", "commit first-txn /y", "release root this"]);
  expect(answer).toEqual({ ok: true, zxid: 5, value: { results: [{ op: "setData" }, { op: "create", path: "/y" }] } });

  // Its part on the other shard fails now (the first try made /y): the decider's stored reply answers all the same.
  const exists: Outcome = { ok: false, zxid: 3, error: { name: "NodeExists", code: -110, message: "exists" }, results: [{ op: "error", error: { name: "NodeExists", code: -110, message: "exists" } }] };
  const applied = recording({ prepare: (mount) => (mount.shard === "d" ? first : exists) });
  expect(await runCrossShardMulti(planCrossShardMulti(TABLE, multi)!, multi, applied.calls)).toEqual(answer);
  await applied.settled();
  expect(applied.log).toEqual(["prepare d", "prepare root", "commit first-txn /y"]);
});
