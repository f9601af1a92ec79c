/**
 * The handover's steps on their own (core/handover.ts), against copies whose answers
 * each test scripts: what is stored at each step, when a move ends moved or abandoned,
 * and what it refuses. The simulator (test/sim/) runs it against real cores under faults.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_HANDOVER_SETTINGS, recordHandover, runHandover, type CopyState, type HandoverCalls, type HandoverStep, type Placement, type PlacementStore } from "../../durable/replication/core/index.ts";
import { makeZxid } from "../../protocol/index.ts";

/** A clock whose sleeps pass at once, moving time on by their length. */
function steppingClock() {
  let now = 0;
  return { now: () => now, sleep: (ms: number) => ((now += ms), { elapsed: Promise.resolve(), cancel: () => undefined }) };
}

function storeOf(placement: Placement): PlacementStore & { writes: Placement[] } {
  let current = placement;
  const writes: Placement[] = [];
  return { writes, read: () => structuredClone(current), write: (next) => void writes.push((current = structuredClone(next))) };
}

const replicaAt = (counter: number): CopyState => ({ role: "replica", epoch: 1, promisedEpoch: 0, appliedZxid: makeZxid(1, counter), snapshot: false });
const leaderAt = (counter: number): CopyState => ({ role: "leader", epoch: 1, promisedEpoch: 1, appliedZxid: makeZxid(1, counter), snapshot: false });

/** Copies that answer as a willing leader "L" and a caught-up replica "R", with `changes` over them; each call is noted. */
function copies(changes: Partial<HandoverCalls> = {}): HandoverCalls & { log: string[] } {
  const log: string[] = [];
  const noted = <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) => (...args: A) => (log.push(`${name} ${args[0]}`), call(...args));
  const calls: HandoverCalls = {
    state: async (copy) => (copy === "L" ? leaderAt(10) : replicaAt(9)),
    seal: async () => makeZxid(1, 10),
    takeOver: async () => "led",
    reopen: async () => "led",
    follow: async () => true,
    ...changes,
  };
  return { log, state: calls.state, seal: noted("seal", calls.seal), takeOver: noted("takeOver", calls.takeOver), reopen: noted("reopen", calls.reopen), follow: noted("follow", calls.follow) };
}

const steps = (store: { writes: Placement[] }): Array<HandoverStep | "done"> => store.writes.map((p) => p.move?.step ?? "done");

describe("a handover of a shard's leader", () => {
  it("stores each step before it acts on it, and ends with the target leading the next epoch and the old leader following it", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    const calls = copies();
    expect(recordHandover(store, "R", 0)).toMatchObject({ step: "intent", from: "L", target: "R" });
    expect(await runHandover(store, calls, steppingClock(), DEFAULT_HANDOVER_SETTINGS)).toEqual({ kind: "moved", leader: "R", epoch: 2 });
    expect(steps(store)).toEqual(["intent", "sealing", "sealed", "led", "done"]);
    expect(store.writes[2]!.move).toMatchObject({ epoch: 2, sealedZxid: makeZxid(1, 10) });
    // The target counts what it took over as acknowledged: a later failover promotes only a copy holding it.
    expect(store.read()).toEqual({ leader: "R", epoch: 2, move: null, ledFrom: makeZxid(1, 10) });
    expect(calls.log).toEqual(["seal L", "takeOver R", "follow L"]);
  });

  it("refuses a second move of the same shard while one is under way, and a move to the leader itself", () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    expect(recordHandover(store, "L", 0)).toMatch(/leads the shard already/);
    recordHandover(store, "R", 0);
    expect(recordHandover(store, "S", 0)).toMatch(/under way/);
    expect(store.writes).toHaveLength(1);
  });

  it("waits for the target to catch up, and abandons the move with nothing sealed when it does not in time", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    const calls = copies({ state: async (copy) => (copy === "L" ? leaderAt(500) : replicaAt(9)) });
    recordHandover(store, "R", 0);
    const outcome = await runHandover(store, calls, steppingClock(), { ...DEFAULT_HANDOVER_SETTINGS, catchUpMs: 1_000 });
    expect(outcome).toMatchObject({ kind: "abandoned", leader: "L", reason: expect.stringMatching(/did not catch up/) });
    expect(calls.log).toEqual([]);
    expect(store.read()).toEqual({ leader: "L", epoch: 1, move: null });
  });

  it("abandons the move when the old leader leaves the seal unanswered, and has it lead the move's epoch itself", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    let reopenTries = 0;
    const calls = copies({
      seal: () => Promise.reject(new Error("unreachable")),
      reopen: async () => (++reopenTries < 3 ? Promise.reject(new Error("still unreachable")) : "led"),
    });
    recordHandover(store, "R", 0);
    const outcome = await runHandover(store, calls, steppingClock(), { ...DEFAULT_HANDOVER_SETTINGS, sealMs: 500 });
    expect(outcome).toMatchObject({ kind: "abandoned", leader: "L", epoch: 2, reason: expect.stringMatching(/did not answer the seal/) });
    expect(steps(store)).toEqual(["intent", "sealing", "abandoning", "done"]);
    expect(store.read()).toEqual({ leader: "L", epoch: 2, move: null });
    expect(calls.log.filter((c) => c === "takeOver R")).toEqual([]);
  });

  it("once sealed only goes forward: it asks the target again while it is behind, and never asks the old leader to lead", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    let asked = 0;
    const calls = copies({ takeOver: async () => (++asked < 4 ? "behind" : "led") });
    recordHandover(store, "R", 0);
    expect(await runHandover(store, calls, steppingClock(), DEFAULT_HANDOVER_SETTINGS)).toMatchObject({ kind: "moved", leader: "R" });
    expect(asked).toBe(4);
    expect(calls.log.some((c) => c.startsWith("reopen"))).toBe(false);
  });

  it("resumes a stored move from its step, and picks an epoch above every one either copy promised", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    const calls = copies({ state: async (copy) => (copy === "L" ? { ...leaderAt(10), promisedEpoch: 4, epoch: 4 } : replicaAt(9)) });
    recordHandover(store, "R", 0);
    // A restart after the seal was stored: the next runner seals again (the same zxid) and goes on.
    const crashed = storeOf(store.read());
    let stop = false;
    await runHandover(crashed, calls, steppingClock(), DEFAULT_HANDOVER_SETTINGS, (step) => {
      if (step === "sealing") stop = true;
      if (stop) throw new Error("crash");
    }).catch(() => undefined);
    expect(crashed.read().move).toMatchObject({ step: "sealing", epoch: 5 });
    expect(await runHandover(crashed, calls, steppingClock(), DEFAULT_HANDOVER_SETTINGS)).toEqual({ kind: "moved", leader: "R", epoch: 5 });
  });

  it("abandons a move to a copy that is not a replica of the shard", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null });
    const calls = copies({ state: async (copy) => (copy === "L" ? leaderAt(10) : { ...replicaAt(10), role: "sealed" }) });
    recordHandover(store, "R", 0);
    expect(await runHandover(store, calls, steppingClock(), DEFAULT_HANDOVER_SETTINGS)).toMatchObject({ kind: "abandoned", reason: expect.stringMatching(/not a replica/) });
    expect(calls.log).toEqual([]);
  });
});
