/**
 * A geo-tier shard's pieces on their own (plain Node, over the simulator's storage):
 * acknowledgement through a sync replica, the promise that fences the old leader, the
 * promotion, the old leader's step down, and the failover's stored steps. The
 * simulator (test/sim/failover.test.ts) runs them together under faults.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, ReplicaCore, readMeta, recordFailover, runFailover,
  type CopyState, type FailoverCalls, type LeaderRequest, type Network, type Placement, type PlacementStore, type Reply, type ReplicationSettings,
} from "../../durable/replication/core/index.ts";
import { makeZxid } from "../../protocol/index.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";

const settings: ReplicationSettings = { ...DEFAULT_REPLICATION_SETTINGS, longPollMs: 0 };
const clock = { now: () => 1_000, sleep: () => ({ elapsed: Promise.resolve(), cancel: () => undefined }) };
const random = { next: Math.random };

/** A copy: its storage, its LeaderLog (every copy has one: the failover's calls go to it) and, as a replica, its pull loop. */
function copy(name: string, leaderOf: () => LeaderCore) {
  const storage = new MemoryStorage();
  const core = new LeaderCore(storage.handle({ alive: true }), clock, settings, undefined, random);
  const network: Network = {
    request: async <Q, A>(_peer: string, message: Q) => {
      const request = JSON.parse(JSON.stringify(message)) as LeaderRequest;
      const reply = request.type === "pull" ? await leaderOf().pull(request) : leaderOf().snapshotPage(request);
      return JSON.parse(JSON.stringify(reply)) as A;
    },
  };
  const replica = new ReplicaCore(name, "L", { storage: storage.handle({ alive: true }), clock, random, network }, settings);
  const meta = () => storage.read((txn) => readMeta(txn)!);
  /** Pulls until it holds the leader's head (or a pull fails). */
  const catchUp = async () => {
    for (let step = 0; step < 50 && (meta().snapshot || meta().appliedZxid < leaderOf().appliedZxid()); step++) await replica.step();
  };
  return { name, storage, core, replica, meta, catchUp };
}

function geoShard() {
  const leaderStorage = new MemoryStorage();
  const leader = new LeaderCore(leaderStorage.handle({ alive: true }), clock, settings, undefined, random);
  leader.activate(1);
  expect(leader.setSyncReplicas(["S1", "S2"])).toBe(true);
  const [s1, s2, reader] = ["S1", "S2", "R"].map((name) => copy(name, () => leader));
  return { leader, leaderStorage, s1: s1!, s2: s2!, reader: reader! };
}

describe("a geo-tier leader", () => {
  it("acknowledges a write once a sync replica holds it, and shows a read replica only what is acknowledged", async () => {
    const { leader, s1, reader } = geoShard();
    await s1.catchUp();
    await reader.catchUp();
    const reply = leader.write(7, 1, { op: "create", path: "/a", data: "x" }) as Reply;
    expect(await leader.whenAcked(reply.zxid, 0)).toBe(false);
    expect(leader.acknowledgedZxid()).toBeLessThan(reply.zxid);
    await reader.replica.step();
    expect(reader.meta().appliedZxid).toBeLessThan(reply.zxid);
    // The sync replica pulls the write, and its next pull says it holds it.
    await s1.replica.step();
    await s1.replica.step();
    expect(await leader.whenAcked(reply.zxid, 0)).toBe(true);
    await reader.replica.step();
    expect(reader.meta().appliedZxid).toBe(reply.zxid);
  });

  it("starts a new read replica's snapshot at what a sync replica holds: the replica serves a write only once it is acknowledged", async () => {
    const { leader, s1, reader } = geoShard();
    await s1.catchUp();
    const reply = leader.write(7, 1, { op: "create", path: "/a", data: "x" }) as Reply;
    // Its pages show the rows as they are now, but it replays from the acknowledged zxid: not readable at the write.
    for (let step = 0; step < 10; step++) await reader.replica.step();
    expect(reader.meta().snapshot).toBeNull();
    expect(reader.meta().appliedZxid).toBeLessThan(reply.zxid);
    expect(await reader.replica.waitApplied(reply.zxid, 0)).toBe(false);
    await s1.replica.step();
    await s1.replica.step();
    await reader.replica.step();
    expect(await reader.replica.waitApplied(reply.zxid, 0)).toBe(true);
  });

  it("gives a read replica whose snapshot showed writes a failover then dropped the new leader's snapshot, never those rows", async () => {
    let leads: LeaderCore;
    const leaderStorage = new MemoryStorage();
    leads = new LeaderCore(leaderStorage.handle({ alive: true }), clock, settings, undefined, random);
    const oldLeader = leads;
    oldLeader.activate(1);
    oldLeader.setSyncReplicas(["S1", "S2"]);
    const [s1, s2, reader] = ["S1", "S2", "R"].map((name) => copy(name, () => leads)) as [ReturnType<typeof copy>, ReturnType<typeof copy>, ReturnType<typeof copy>];
    oldLeader.write(7, 1, { op: "create", path: "/kept", data: "x" });
    await s1.catchUp();
    await s2.catchUp();
    await s1.replica.step(); // its pull says it holds /kept: acknowledged
    oldLeader.write(7, 2, { op: "create", path: "/dropped", data: "x" });
    // The reader's pages show /dropped; it replays from the acknowledged zxid, so it is not readable yet.
    for (let step = 0; step < 10 && reader.meta().snapshot !== null; step++) await reader.replica.step();
    expect(reader.replica.read("/dropped", 0)).toMatchObject({ behind: true });
    // S2 is promoted without /dropped, writes on, and S1 follows it.
    const keepThrough = s2.meta().appliedZxid;
    s1.core.promise(2);
    s2.core.promise(2);
    s2.core.promote(2, ["S1", "L"]);
    s1.core.stepDown("S2", 2, keepThrough);
    leads = s2.core;
    const after = s2.core.write(7, 3, { op: "create", path: "/after", data: "x" }) as Reply;
    await s1.catchUp();
    await s1.replica.step();
    expect(await s2.core.whenAcked(after.zxid, 0)).toBe(true);
    // Its replay goes from /kept to epoch 2, past the zxid its pages showed: it takes S2's snapshot.
    for (let step = 0; step < 10 && reader.meta().appliedZxid < after.zxid; step++) await reader.replica.step();
    expect(reader.replica.read("/after", 0)).toMatchObject({ row: { path: "/after" } });
    expect(reader.replica.read("/dropped", 0)).toMatchObject({ row: undefined });
    expect(reader.replica.read("/kept", 0)).toMatchObject({ row: { path: "/kept" } });
  });

  it("is fenced once its sync replicas promised a later epoch: they apply nothing more from it", async () => {
    const { leader, s1, s2 } = geoShard();
    await s1.catchUp();
    await s2.catchUp();
    const held = s1.meta().appliedZxid;
    expect(s1.core.promise(2)).toMatchObject({ role: "replica", promisedEpoch: 2, appliedZxid: held, snapshot: false });
    expect(s2.core.promise(2)).toMatchObject({ promisedEpoch: 2 });
    // Promised again (a lost answer): the same; a copy that leads, or an earlier epoch: refused.
    expect(s1.core.promise(2)).toMatchObject({ promisedEpoch: 2 });
    expect(s1.core.promise(1)).toMatchObject({ kind: "fenced" });
    expect(leader.promise(2)).toMatchObject({ kind: "fenced", role: "leader" });
    const reply = leader.write(7, 1, { op: "create", path: "/lost", data: "x" }) as Reply;
    await expect(s1.replica.step()).rejects.toThrow(/promised/);
    await expect(s2.replica.step()).rejects.toThrow(/promised/);
    expect(s1.meta().appliedZxid).toBe(held);
    expect(await leader.whenAcked(reply.zxid, 0)).toBe(false);
  });

  it("is replaced by the promoted sync replica, and once told, drops what no sync replica held for the new leader's snapshot", async () => {
    const { leader, leaderStorage, s1, s2 } = geoShard();
    leader.write(7, 1, { op: "create", path: "/kept", data: "x" });
    await s1.catchUp();
    await s2.catchUp();
    const unacknowledged = leader.write(7, 2, { op: "create", path: "/unacknowledged", data: "x" }) as Reply;
    const keepThrough = s1.meta().appliedZxid;
    s1.core.promise(2);
    s2.core.promise(2);
    expect(s2.core.promote(3, ["S1", "L"])).toMatchObject({ kind: "fenced" }); // it promised 2, not 3
    expect(s2.core.promote(2, ["S1", "L"])).toMatchObject({ role: "leader", epoch: 2, syncReplicas: ["S1", "L"] });
    expect(s2.core.promote(2, ["S1", "L"])).toMatchObject({ role: "leader", epoch: 2 }); // asked again
    const oldLogId = leaderStorage.read((txn) => readMeta(txn)!.logId);
    expect(leader.stepDown("S2", 2, keepThrough)).toEqual({ appliedZxid: makeZxid(1, 2) });
    expect(leader.stepDown("S2", 2, keepThrough)).toEqual({ appliedZxid: makeZxid(1, 2) }); // asked again
    // Its answer, still waiting for a sync replica, is never acknowledged: the write was dropped.
    expect(await leader.whenAcked(unacknowledged.zxid, 0)).toBe(false);
    const stepped = leaderStorage.read((txn) => readMeta(txn)!);
    expect(stepped).toMatchObject({ role: "replica", promisedEpoch: 2, following: "S2" });
    expect(stepped.syncReplicas).toBeUndefined();
    // It takes the new leader's snapshot at once, under a new identity: a later promise says so.
    expect(stepped.logId).not.toBe(oldLogId);
    expect(stepped.snapshot).toEqual({ startZxid: -1, endZxid: 0, cursor: null });
    expect(leader.promise(3)).toMatchObject({ snapshot: true });
    expect(leader.write(7, 3, { op: "create", path: "/late", data: "x" })).toMatchObject({ kind: "fenced" });
    expect(s2.core.stepDown("S1", 2, keepThrough)).toMatchObject({ kind: "fenced" }); // it leads that epoch
  });
});

describe("a failover's steps", () => {
  function storeOf(placement: Placement): PlacementStore & { writes: Placement[] } {
    let current = placement;
    const writes: Placement[] = [];
    return { writes, read: () => structuredClone(current), write: (next) => void writes.push((current = structuredClone(next))) };
  }
  const held = (counter: number): CopyState => ({ role: "replica", epoch: 1, promisedEpoch: 2, appliedZxid: makeZxid(1, counter), snapshot: false });
  const options = { waitMs: 1_000, retryMs: 10 };
  const steppingClock = () => {
    let now = 0;
    return { now: () => now, sleep: (ms: number) => ((now += ms), { elapsed: Promise.resolve(), cancel: () => undefined }) };
  };

  it("refuses a failover of a leader no longer placed, a second one under way, and one with no candidate", () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null, syncReplicas: ["S1", "S2"] });
    expect(recordFailover(store, { from: "X", copies: [] }, 0)).toMatch(/L leads the shard now/);
    expect(recordFailover(storeOf({ leader: "L", epoch: 1, move: null }), { from: "L", copies: [] }, 0)).toMatch(/no copy to promote/);
    expect(recordFailover(store, { from: "L", copies: ["S1", "S2", "R"] }, 0)).toMatchObject({ step: "promising", epoch: 2, candidates: ["S1", "S2"], toTell: ["S1", "S2", "R", "L"] });
    expect(recordFailover(store, { from: "L", copies: [] }, 0)).toMatch(/under way/);
    expect(store.writes).toHaveLength(1);
  });

  it("waits for every candidate's promise, promotes the one holding the most, and records what the old leader dropped once it is told", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null, syncReplicas: ["S1", "S2"] });
    recordFailover(store, { from: "L", copies: ["S1", "S2"] }, 0);
    let s2Reachable = false;
    let oldLeaderBack = false;
    const log: string[] = [];
    const calls: FailoverCalls = {
      reopen: async () => "led",
      promise: async (copy) => {
        if (copy === "S2" && !s2Reachable) throw new Error("unreachable");
        return held(copy === "S1" ? 5 : 9);
      },
      promote: async (copy, epoch, syncReplicas) => (log.push(`promote ${copy} ${epoch} ${syncReplicas.join(",")}`), "led"),
      stepDown: async (copy, leader, epoch, keepThrough) => {
        if (copy === "L" && !oldLeaderBack) throw new Error("unreachable");
        log.push(`stepDown ${copy} ${leader} ${epoch} ${keepThrough}`);
        return { appliedZxid: copy === "L" ? makeZxid(1, 12) : makeZxid(1, 5) };
      },
    };
    expect(await runFailover(store, calls, steppingClock(), options)).toMatchObject({ kind: "waiting", reason: expect.stringMatching(/S2 did not promise epoch 2/) });
    expect(log).toEqual([]);
    s2Reachable = true;
    expect(await runFailover(store, calls, steppingClock(), options)).toEqual({ kind: "failed-over", leader: "S2", epoch: 2, pending: ["L"] });
    expect(store.read()).toMatchObject({ leader: "S2", epoch: 2, syncReplicas: ["S1", "L"], failover: { step: "led", keepThrough: makeZxid(1, 9) } });
    oldLeaderBack = true;
    expect(await runFailover(store, calls, steppingClock(), options)).toEqual({ kind: "failed-over", leader: "S2", epoch: 2, pending: [] });
    expect(store.read()).toMatchObject({ ledFrom: makeZxid(1, 9), failover: { step: "done", toTell: [], dropped: { fromZxid: makeZxid(1, 9), toZxid: makeZxid(1, 12) } } });
    expect(log).toEqual([`promote S2 2 S1,L`, `stepDown S1 S2 2 ${makeZxid(1, 9)}`, `stepDown L S2 2 ${makeZxid(1, 9)}`]);
    expect(await runFailover(store, calls, steppingClock(), options)).toBeUndefined();
  });

  it("promotes no candidate taking a snapshot (its rows are partial); while every one is, the old leader, once reached, leads on", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null, syncReplicas: ["S1", "S2"] });
    recordFailover(store, { from: "L", copies: ["S1", "S2"] }, 0);
    let snapshotting = ["S1", "S2"];
    const calls: FailoverCalls = {
      // The one taking a snapshot says it holds more: its applied zxid is from before the snapshot.
      promise: async (copy) => ({ ...held(copy === "S1" ? 9 : 5), snapshot: snapshotting.includes(copy) }),
      reopen: () => Promise.reject(new Error("unreachable")),
      promote: async () => "led",
      stepDown: async () => ({ appliedZxid: 0 }),
    };
    expect(await runFailover(store, calls, steppingClock(), options)).toMatchObject({ kind: "waiting", reason: expect.stringMatching(/no candidate holds zxid 0 whole .*, and L did not lead on/) });
    expect(store.read()).toMatchObject({ leader: "L", failover: { step: "promising" } });
    snapshotting = ["S1"];
    expect(await runFailover(store, calls, steppingClock(), options)).toMatchObject({ kind: "failed-over", leader: "S2" });

    const second = storeOf({ leader: "L", epoch: 1, move: null, syncReplicas: ["S1", "S2"] });
    recordFailover(second, { from: "L", copies: ["S1", "S2"] }, 0);
    snapshotting = ["S1", "S2"];
    expect(await runFailover(second, { ...calls, reopen: async () => "led" }, steppingClock(), options)).toEqual({ kind: "failed-over", leader: "L", epoch: 2, pending: [] });
    expect(second.read()).toMatchObject({ leader: "L", epoch: 2, failover: { step: "done", abandoned: expect.stringMatching(/old leader leads on/) } });
  });

  it("ends as abandoned a failover whose old leader led its epoch before the directory stopped, though the candidates follow it now", async () => {
    const store = storeOf({ leader: "L", epoch: 1, move: null, syncReplicas: ["S1", "S2"] });
    recordFailover(store, { from: "L", copies: ["S1", "S2"] }, 0);
    // The old leader reopened epoch 2 (no candidate could lead), and the candidates went on following it in it;
    // the directory stopped before it stored that. Asked again, they are fenced by the epoch they hold.
    const calls: FailoverCalls = {
      promise: async () => ({ kind: "fenced", role: "replica", epoch: 2, leader: "L" }),
      reopen: async () => "led",
      promote: async () => "led",
      stepDown: async () => ({ appliedZxid: 0 }),
    };
    expect(await runFailover(store, calls, steppingClock(), options)).toEqual({ kind: "failed-over", leader: "L", epoch: 2, pending: [] });
    expect(store.read()).toMatchObject({ leader: "L", epoch: 2, failover: { step: "done", abandoned: expect.stringMatching(/old leader leads on/) } });
  });

  it("promotes no candidate behind what the leader counted acknowledged when it began to lead; the old leader, once reached, leads on", async () => {
    // L took over at 1:9 (a handover's sealed zxid, or a failover's promoted head): all of it counts acknowledged.
    const store = storeOf({ leader: "L", epoch: 1, move: null, syncReplicas: ["S1", "S2"], ledFrom: makeZxid(1, 9) });
    recordFailover(store, { from: "L", copies: ["S1", "S2"] }, 0);
    let s2At = 5;
    let oldLeaderBack = false;
    const calls: FailoverCalls = {
      promise: async (copy) => ({ ...held(copy === "S1" ? 9 : s2At), snapshot: copy === "S1" }),
      reopen: async () => (oldLeaderBack ? "led" : Promise.reject(new Error("unreachable"))),
      promote: async () => "led",
      stepDown: async () => ({ appliedZxid: 0 }),
    };
    // S1 holds it but is taking a snapshot; S2, whole, is behind it.
    expect(await runFailover(store, calls, steppingClock(), options)).toMatchObject({ kind: "waiting", reason: expect.stringMatching(/no candidate holds zxid 100000009 whole/) });
    s2At = 9;
    const caughtUp = structuredClone(store.read());
    expect(await runFailover(store, calls, steppingClock(), options)).toMatchObject({ kind: "failed-over", leader: "S2" });
    s2At = 5;
    const behind = storeOf(caughtUp);
    oldLeaderBack = true;
    expect(await runFailover(behind, calls, steppingClock(), options)).toEqual({ kind: "failed-over", leader: "L", epoch: 2, pending: [] });
  });
});
