/**
 * A replica's streaming pulls against its leader over an in-process network whose
 * messages travel only when the test lets them (plain Node; the simulator covers the
 * same under random faults): a pull woken by a commit within streamMs of its arrival
 * pushes that commit and each later one to its replica rather than being answered
 * with one write and replaced by a new pull; a write leaves at once while its
 * pushes' window (entries, and bytes) has room, and those made once it is full go
 * together; a push lost neither skips nor applies twice an entry; and applied
 * pushes move the replica's progress at its leader (at most once per
 * PROGRESS_NOTE_MS), never past what it applied, and the trim with it.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, PROGRESS_NOTE_MS, ReplicaCore,
  readMeta, type LeaderRequest, type Network, type PeerRow, type PullReply,
} from "../../durable/replication/core/index.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";
import { manualClock } from "./manual-clock.ts";
import { manualNetwork } from "./manual-network.ts";

const PULLS_IN_FLIGHT = 4;
/** More than PULLS_IN_FLIGHT: pushes have their own window, in entries. */
const PUSH_ENTRIES = 6;
/** Longer than PROGRESS_NOTE_MS: a stream outlives a note of its replica's progress. */
const STREAM_MS = 5 * PROGRESS_NOTE_MS;
const settings = { ...DEFAULT_REPLICATION_SETTINGS, pullsInFlight: PULLS_IN_FLIGHT, pushEntriesInFlight: PUSH_ENTRIES, streamMs: STREAM_MS, longPollMs: 60_000, retryMs: 0 };

/** `lostPushes`: the pushes (counted from 1) that never reach the replica. */
function world(lostPushes: ReadonlySet<number> = new Set(), worldSettings = settings) {
  const leaderClock = manualClock();
  const leaderStorage = new MemoryStorage();
  const leader = new LeaderCore(leaderStorage.handle({ alive: true }), leaderClock, worldSettings);
  leader.activate(1);
  let pulls = 0;
  let pushes = 0;
  /** Messages on their way, either way, released by `hop`. */
  const inTransit: Array<() => void> = [];
  const travel = () => new Promise<void>((arrive) => inTransit.push(arrive));
  const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  const network: Network = {
    request: async <Q, A>(_peer: string, message: Q, pushed?: (push: A) => boolean): Promise<A> => {
      const request = copy(message) as LeaderRequest;
      if (request.type === "snapshot") return copy(leader.snapshotPage(request)) as A;
      pulls++;
      const push = pushed && (async (page: PullReply) => {
        const lost = lostPushes.has(++pushes);
        await travel();
        if (lost) throw new Error("push lost");
        const applied = pushed(copy(page) as A);
        await travel(); // its answer, back to the leader
        return applied;
      });
      await travel();
      const reply = await leader.pull(request, push);
      await travel();
      return copy(reply) as A;
    },
  };
  const replicaStorage = new MemoryStorage();
  const replica = new ReplicaCore("r1", "leader", { storage: replicaStorage.handle({ alive: true }), clock: manualClock(), random: { next: () => 0.5 }, network }, worldSettings);
  const appliedInOrder: number[] = [];
  replica.commits.listen((entries) => appliedInOrder.push(...entries.map((e) => e.zxid)));
  void replica.run();

  const { settle, hop, deliver } = manualNetwork(inTransit);
  const applied = (storage: MemoryStorage) => storage.read((txn) => readMeta(txn)!.appliedZxid);
  let cxid = 0;
  return {
    leader, appliedInOrder, hop, deliver, settle,
    write: (path: string) => leader.write(1, ++cxid, { op: "create", path, data: "v" }),
    pulls: () => pulls,
    pushes: () => pushes,
    leaderZxid: () => applied(leaderStorage),
    replicaZxid: () => applied(replicaStorage),
    /** The replica's applied zxid as its leader last noted it (what holds the trim back). */
    notedProgress: () => leaderStorage.read((txn) => txn.get<PeerRow>("peer", "r1")!.appliedZxid),
    trimmedZxid: () => leader.bounds().trimmedZxid,
    /** Time passes at the leader (its streams' ends) and everything travelling arrives. */
    pass: async (ms: number) => {
      leaderClock.pass(ms);
      await deliver();
    },
  };
}

const inOrderOnce = (zxids: number[]) => [...new Set(zxids)].sort((a, b) => a - b);

describe("replication core: streaming pulls", () => {
  it("pushes each write one way after its commit over the pull it woke, with no new pull, until streamMs has passed", async () => {
    const w = world();
    await w.deliver(); // the snapshot, the catch-up, then pulls parked at the head
    const pullsBefore = w.pulls();
    for (let i = 0; i < 20; i++) {
      w.write(`/s-${i}`);
      await w.hop(); // one way: the push
      expect(w.replicaZxid()).toBe(w.leaderZxid());
    }
    await w.deliver();
    expect(w.pushes()).toBe(20);
    expect(w.pulls()).toBe(pullsBefore);
    // Its time up, the streaming pull is answered at the next commit's turn, and one pull takes its place.
    await w.pass(STREAM_MS);
    w.write("/after");
    await w.deliver();
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    expect(w.pulls()).toBe(pullsBefore + 1);
    expect(w.appliedInOrder).toEqual(inOrderOnce(w.appliedInOrder));
  });

  it("pushes each write at once while fewer than pushEntriesInFlight entries are unanswered, and the writes made once they are together in the next", async () => {
    const w = world();
    await w.deliver();
    const pushesBefore = w.pushes();
    // Each write is pushed at once, more pushes out than pulls, until PUSH_ENTRIES entries are; none arrives meanwhile.
    for (let i = 0; i < 30; i++) {
      w.write(`/b-${i}`);
      await w.settle();
    }
    expect(w.pushes() - pushesBefore).toBe(PUSH_ENTRIES);
    await w.deliver();
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    // The 24 others went in the push sent as the first answer came back.
    expect(w.pushes() - pushesBefore).toBe(PUSH_ENTRIES + 1);
    expect(w.appliedInOrder).toEqual(inOrderOnce(w.appliedInOrder));
  });

  it("keeps the bytes of unanswered pushes within pullsInFlight pages, however few entries they hold", async () => {
    // Pages of 1 byte (each holds one entry, larger): one push fills the PULLS_IN_FLIGHT pages' bytes.
    const w = world(new Set(), { ...settings, pageMaxBytes: 1 });
    await w.deliver();
    const pushesBefore = w.pushes();
    for (let i = 0; i < 10; i++) {
      w.write(`/big-${i}`);
      await w.settle();
    }
    expect(w.pushes() - pushesBefore).toBe(1);
    await w.deliver();
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    expect(w.appliedInOrder).toEqual(inOrderOnce(w.appliedInOrder));
  });

  it("neither skips nor applies twice an entry after a push is lost: the next is a gap, and a plain pull refetches", async () => {
    const w = world(new Set([3, 7]));
    await w.deliver();
    for (let i = 0; i < 20; i++) {
      w.write(`/l-${i}`);
      await w.deliver();
    }
    expect(w.replicaZxid()).toBe(w.leaderZxid());
    expect(w.appliedInOrder).toEqual(inOrderOnce(w.appliedInOrder));
  });

  it("notes the replica's progress from the pushes it applied within PROGRESS_NOTE_MS, never past what it applied, and trims the log only that far", async () => {
    const LOG_ENTRIES = 4;
    const w = world(new Set(), { ...settings, logMaxEntries: LOG_ENTRIES });
    await w.deliver();
    const pullsBefore = w.pulls();
    for (let i = 0; i < 3 * LOG_ENTRIES; i++) {
      w.write(`/p-${i}`);
      await w.deliver();
      expect(w.notedProgress()).toBeLessThanOrEqual(w.replicaZxid());
      expect(w.trimmedZxid()).toBeLessThanOrEqual(w.notedProgress());
    }
    // Not written at every push: the log holds more than its bound meanwhile.
    expect(w.leaderZxid() - w.trimmedZxid()).toBeGreaterThan(LOG_ENTRIES);
    await w.pass(PROGRESS_NOTE_MS);
    w.write("/p-noted");
    await w.deliver();
    expect(w.notedProgress()).toBe(w.leaderZxid());
    // The next write's trim goes as far as the replica has applied: the log is back within its bound.
    w.write("/p-trimmed");
    await w.deliver();
    expect(w.leaderZxid() - w.trimmedZxid()).toBeLessThanOrEqual(LOG_ENTRIES);
    expect(w.pulls()).toBe(pullsBefore);
  });
});
