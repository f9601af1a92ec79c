/**
 * A replica's pipelined pulls against its leader over an in-process network whose
 * answers travel only when the test lets them (plain Node; the simulator covers the
 * same under random faults): a commit reaches the replica in the answer to a pull
 * already parked, and an answer lost, duplicated or reordered neither skips nor
 * applies twice any entry; and no long poll or read wait leaves its timer behind.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, ReplicaCore,
  readMeta, type LeaderRequest, type LogEntry, type Network, type PullReply, type ZnodeRow,
} from "../../durable/replication/core/index.ts";
import { makeZxid } from "../../protocol/index.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";
import { manualClock } from "./manual-clock.ts";
import { manualNetwork } from "./manual-network.ts";

const PULLS_IN_FLIGHT = 4;
const settings = { ...DEFAULT_REPLICATION_SETTINGS, pullsInFlight: PULLS_IN_FLIGHT, longPollMs: 60_000, retryMs: 0 };

/** What the network does to the answer of the n-th pull (counted from 1). */
type Fate = "deliver" | "lose" | "run twice" | "hold";

function world(fates: Record<number, Fate> = {}) {
  const leaderClock = manualClock();
  const leaderStorage = new MemoryStorage();
  const leader = new LeaderCore(leaderStorage.handle({ alive: true }), leaderClock, settings);
  leader.activate(1);
  let pulls = 0;
  /** Pulls on their way to the leader and answers on their way back, released by `hop` and `deliver`. */
  const inTransit: Array<() => void> = [];
  const held: Array<() => void> = [];
  /** Whether the next answer carrying entries is held (as `hold` does by the pull's number). */
  let holdNext = false;
  const network: Network = {
    request: async <Q, A>(_peer: string, message: Q): Promise<A> => {
      const request = JSON.parse(JSON.stringify(message)) as LeaderRequest;
      if (request.type === "snapshot") return JSON.parse(JSON.stringify(leader.snapshotPage(request))) as A;
      const fate = fates[++pulls] ?? "deliver";
      await new Promise<void>((arrive) => inTransit.push(arrive)); // the pull travels to the leader
      // A duplicated request: the leader answers both copies; only the first answer reaches the replica.
      if (fate === "run twice") void leader.pull(request);
      const reply: PullReply = await leader.pull(request);
      const holding = fate === "hold" || (holdNext && reply.kind === "entries" && reply.entries.length > 0);
      if (holding) holdNext = false;
      return new Promise<A>((resolve, reject) => {
        const arrive = () => (fate === "lose" ? reject(new Error("answer lost")) : resolve(JSON.parse(JSON.stringify(reply)) as A));
        (holding ? held : inTransit).push(arrive);
      });
    },
  };
  const replicaStorage = new MemoryStorage();
  const replicaClock = manualClock();
  const replica = new ReplicaCore("r1", "leader", { storage: replicaStorage.handle({ alive: true }), clock: replicaClock, random: { next: () => 0.5 }, network }, settings);
  const appliedInOrder: number[] = [];
  replica.commits.listen((entries) => appliedInOrder.push(...entries.map((e) => e.zxid)));
  let running = true;
  let loopEnded = false;
  const loop = replica.run(() => running).then(() => (loopEnded = true));

  const { settle, hop, deliver } = manualNetwork(inTransit, () => inTransit.length + held.length);
  const meta = (storage: MemoryStorage) => storage.read((txn) => readMeta(txn)!);
  const rows = (storage: MemoryStorage) => storage.read((txn) => JSON.stringify(txn.scan<ZnodeRow>("znode", undefined, 1_000)));
  const logZxids = (storage: MemoryStorage) => storage.read((txn) => txn.scan<LogEntry>("log", undefined, 1_000).map(([, e]) => e.zxid));
  let cxid = 0;
  const write = (path: string) => leader.write(1, ++cxid, { op: "create", path, data: "v" });
  return {
    leader, leaderStorage, replicaStorage, replica, appliedInOrder, held, write, hop, deliver, leaderClock, replicaClock,
    holdNextAnswer: () => (holdNext = true),
    /** The leader's parked pulls reach their long poll's end, and are answered (empty). */
    longPollsEnd: async () => {
      leaderClock.pass(settings.longPollMs);
      await deliver();
    },
    pulls: () => pulls,
    leaderZxid: () => meta(leaderStorage).appliedZxid,
    replicaZxid: () => meta(replicaStorage).appliedZxid,
    /** The replica's rows are the leader's, and its log the leader's from where its snapshot started. */
    rowsMatch: () => rows(replicaStorage) === rows(leaderStorage) && JSON.stringify(logZxids(leaderStorage).slice(-logZxids(replicaStorage).length)) === JSON.stringify(logZxids(replicaStorage)),
    /** Ends the loop: it stops at the next answer to a pull of its own (some parked may be of a loop before it). */
    stop: async () => {
      running = false;
      for (let i = 0; i <= 2 * PULLS_IN_FLIGHT && !loopEnded; i++) {
        write(`/stop-${i}`);
        await deliver();
      }
      await loop;
    },
  };
}

describe("replication core: pipelined pulls", () => {
  it("keeps up under steady writes: each write reaches the replica in the answer to a pull already parked, one pull per write at most", async () => {
    const w = world();
    await w.deliver(); // the snapshot, then PULLS_IN_FLIGHT pulls parked at the head
    const pullsBefore = w.pulls();
    for (let i = 0; i < 40; i++) {
      w.write(`/steady-${i}`);
      // One way: a parked pull answered it; the pulls sent in the place of those answered are still travelling.
      await w.hop();
      expect(w.replicaZxid()).toBe(w.leaderZxid());
    }
    expect(w.pulls() - pullsBefore).toBeLessThanOrEqual(40);
    expect(w.rowsMatch()).toBe(true);
    await w.stop();
  });

  it("batches a burst of writes made while its answers travel into the pulls it has out, not one pull each", async () => {
    const w = world();
    await w.deliver();
    const pullsBefore = w.pulls();
    // 100 writes while no answer arrives: the parked pulls carry them all.
    for (let i = 0; i < 100; i++) w.write(`/burst-${i}`);
    await w.deliver();
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    // Each answer sent a pull in its place: at most as many as were out, twice (the burst, then the catch-up).
    expect(w.pulls() - pullsBefore).toBeLessThanOrEqual(2 * PULLS_IN_FLIGHT);
    await w.stop();
  });

  it("frees the timer of each long poll a commit answered, and of each read wait a commit ended", async () => {
    const w = world();
    await w.deliver();
    for (let i = 0; i < 40; i++) {
      const waited = w.replica.waitApplied(w.leaderZxid() + 1, 60_000);
      w.write(`/t-${i}`);
      await w.deliver();
      expect(await waited).toBe(true);
    }
    // Only the pulls parked now hold a timer; none is left by the 40 answered, nor by the reads.
    expect(w.leaderClock.pending()).toBe(PULLS_IN_FLIGHT);
    expect(w.replicaClock.pending()).toBe(0);
    await w.stop();
  });

  for (const [fate, why] of [
    ["lose", "an answer lost"],
    ["run twice", "a pull duplicated (its second answer, which moved the leader on, lost)"],
  ] as const) {
    it(`neither skips nor applies twice an entry after ${why}`, async () => {
      // Pulls 1-2 are the catch-up after the snapshot; the faults fall on pipelined pulls at the head.
      const w = world({ 4: fate, 9: fate, 13: fate });
      await w.deliver();
      for (let i = 0; i < 30; i++) {
        w.write(`/n-${i}`);
        if (i % 3 === 0) await w.deliver();
      }
      await w.deliver();
      // A duplicated pull leaves a second copy parked, whose answers go nowhere: the
      // long poll's empty answer shows the leader ahead, and a plain pull refetches.
      if (w.replicaZxid() < w.leaderZxid()) await w.longPollsEnd();
      expect(w.replicaZxid()).toBe(w.leaderZxid());
      expect(w.appliedInOrder).toEqual([...new Set(w.appliedInOrder)].sort((a, b) => a - b));
      expect(w.rowsMatch()).toBe(true);
      await w.stop();
    });
  }

  it("does not skip the end of an epoch whose answer is late: the next epoch's page waits for what it follows", async () => {
    const w = world();
    await w.deliver();
    w.write("/a");
    await w.deliver();
    w.holdNextAnswer();
    w.write("/b"); // its answer is held: the replica has not got the epoch's last entry
    await w.deliver();
    w.leader.seal(2);
    w.leader.activate(2); // (2, 0) follows any zxid of epoch 1 by its number alone
    w.write("/c");
    await w.deliver();
    expect(w.held).toHaveLength(1);
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    w.held.splice(0)[0]!();
    await w.deliver();
    expect(w.appliedInOrder).toEqual([...new Set(w.appliedInOrder)].sort((a, b) => a - b));
    expect(w.appliedInOrder).toContain(makeZxid(1, 2));
    expect(w.rowsMatch()).toBe(true);
    await w.stop();
  });

  it("neither skips nor applies twice an entry when answers arrive out of order", async () => {
    const w = world({ 5: "hold" });
    await w.deliver();
    for (let i = 0; i < 10; i++) {
      w.write(`/r-${i}`);
      await w.deliver();
    }
    // The held answer arrives last, after the ones sent behind it.
    expect(w.held).toHaveLength(1);
    w.held.splice(0)[0]!();
    await w.deliver();
    w.write("/after");
    await w.deliver();
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    expect(w.appliedInOrder).toEqual([...new Set(w.appliedInOrder)].sort((a, b) => a - b));
    expect(w.rowsMatch()).toBe(true);
    await w.stop();
  });
});
