/**
 * A replica against its leader over an in-process network (plain Node; the simulator
 * covers both under faults): a new replica takes a snapshot, then follows the log in
 * order, and resumes from storage after a crash.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, REPLICA_TRIM_BATCH_ENTRIES, ReplicaCore, readMeta,
  type LeaderRequest, type Network, type ReplicationSettings, type Storage, type ZnodeRow,
} from "../../durable/replication/core/index.ts";
import { makeZxid } from "../../protocol/index.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";

const settings: ReplicationSettings = { ...DEFAULT_REPLICATION_SETTINGS, logMaxEntries: 8, pageMaxBytes: 600, longPollMs: 0 };
const clock = { now: () => 1_000, sleep: () => ({ elapsed: Promise.resolve(), cancel: () => undefined }) };
const random = { next: () => 0.5 };

/** The wire to whichever leader `current` answers, messages copied as JSON (as an RPC would). */
function networkTo(current: () => LeaderCore): Network {
  return {
    request: async <Q, A>(_peer: string, message: Q) => {
      const request = JSON.parse(JSON.stringify(message)) as LeaderRequest;
      const reply = request.type === "pull" ? await current().pull(request) : current().snapshotPage(request);
      return JSON.parse(JSON.stringify(reply)) as A;
    },
  };
}

function pair() {
  const leaderStorage = new MemoryStorage();
  const leader = new LeaderCore(leaderStorage.handle({ alive: true }), clock, settings);
  leader.activate(1);
  const network = networkTo(() => leader);
  const replicaStorage = new MemoryStorage();
  const replicaAt = (owner = { alive: true }) => new ReplicaCore("r1", "leader", { storage: replicaStorage.handle(owner), clock, random, network }, settings);
  return { leader, leaderStorage, replicaStorage, replicaAt };
}

const rows = (storage: MemoryStorage) => storage.read((txn) => JSON.stringify([txn.scan<ZnodeRow>("znode", undefined, 1_000), txn.scan("session", undefined, 1_000)]));
const meta = (storage: MemoryStorage) => storage.read((txn) => readMeta(txn)!);

async function catchUp(replica: ReplicaCore, leaderStorage: MemoryStorage, replicaStorage: MemoryStorage): Promise<void> {
  for (let step = 0; step < 100 && (meta(replicaStorage).snapshot || meta(replicaStorage).appliedZxid < meta(leaderStorage).appliedZxid); step++) await replica.step();
}

describe("replication core: a replica", () => {
  it("starts by a paged snapshot, then serves reads once it has applied the caller's zxid", async () => {
    const { leader, leaderStorage, replicaStorage, replicaAt } = pair();
    for (let i = 0; i < 20; i++) leader.write(1, i + 1, { op: "create", path: `/n${i}`, data: "v".repeat(50) });
    const replica = replicaAt();
    expect(replica.read("/n1", 0)).toMatchObject({ behind: true });
    await replica.step();
    expect(meta(replicaStorage).snapshot).not.toBeNull(); // more than one page
    await catchUp(replica, leaderStorage, replicaStorage);
    expect(rows(replicaStorage)).toBe(rows(leaderStorage));
    const last = meta(leaderStorage).appliedZxid;
    expect(replica.read("/n1", last)).toMatchObject({ zxid: last, row: { data: "v".repeat(50) } });
    expect(replica.read("/n1", last + 1)).toMatchObject({ behind: true });
  });

  it("trims its log in batches: up to REPLICA_TRIM_BATCH_ENTRIES past its bound, then back to the bound", async () => {
    const { leader, leaderStorage, replicaStorage, replicaAt } = pair();
    const replica = replicaAt();
    await catchUp(replica, leaderStorage, replicaStorage);
    const sizes: number[] = [];
    const trimPoints = new Set<number>();
    for (let i = 0; i <= settings.logMaxEntries + REPLICA_TRIM_BATCH_ENTRIES; i++) {
      leader.write(1, i + 1, { op: "create", path: `/t${i}`, data: "v" });
      await catchUp(replica, leaderStorage, replicaStorage);
      sizes.push(meta(replicaStorage).logEntries);
      trimPoints.add(meta(replicaStorage).trimmedZxid);
    }
    expect(Math.max(...sizes)).toBe(settings.logMaxEntries + REPLICA_TRIM_BATCH_ENTRIES);
    expect(sizes.at(-1)).toBe(settings.logMaxEntries);
    expect(trimPoints.size).toBe(2); // the snapshot's, then one trim of the whole batch
    expect(rows(replicaStorage)).toBe(rows(leaderStorage));
  });

  it("applies strictly in zxid order across an epoch change, and resumes after a crash", async () => {
    const { leader, leaderStorage, replicaStorage, replicaAt } = pair();
    const first = replicaAt();
    await catchUp(first, leaderStorage, replicaStorage);
    leader.write(1, 1, { op: "create", path: "/a", data: "1" });
    leader.seal(2);
    leader.activate(2);
    leader.write(1, 2, { op: "setData", path: "/a", data: "2", version: -1 });
    const crashed = { alive: true };
    const before = replicaAt(crashed);
    await before.step();
    crashed.alive = false;
    await expect(before.step()).rejects.toThrow();
    const after = replicaAt();
    await catchUp(after, leaderStorage, replicaStorage);
    expect(meta(replicaStorage).appliedZxid).toBe(makeZxid(2, 1));
    expect(rows(replicaStorage)).toBe(rows(leaderStorage));
    const logged = replicaStorage.read((txn) => txn.scan<{ zxid: number }>("log", undefined, 100).map(([, e]) => e.zxid));
    expect(logged.slice(-3)).toEqual([makeZxid(1, 1), makeZxid(2, 0), makeZxid(2, 1)]);
  });

  it("tells of a snapshot's install once its replay reaches the zxid its pages show, the entries replayed up to there marked as such", async () => {
    const { leader, leaderStorage, replicaStorage } = pair();
    for (let i = 0; i < 20; i++) leader.write(1, i + 1, { op: "create", path: `/n${i}`, data: "v".repeat(50) });
    const startZxid = meta(leaderStorage).appliedZxid;
    /** Each log entry the replica appends, whether it was marked as replaying the snapshot's range. */
    const appended: Array<[zxid: number, replaying: boolean]> = [];
    const installs: Array<{ previousZxid: number; rowsZxid: number; lastAppended: number | undefined }> = [];
    const inner = replicaStorage.handle({ alive: true });
    const storage: Storage = {
      transact: (body) => inner.transact((txn) => body({
        ...txn,
        put: (table, key, row) => {
          if (table === "log") appended.push([key as number, replica.replayingSnapshot]);
          txn.put(table, key, row);
        },
      })),
    };
    const installed = (previousZxid: number, rowsZxid: number) => installs.push({ previousZxid, rowsZxid, lastAppended: appended.at(-1)?.[0] });
    const replica: ReplicaCore = new ReplicaCore("r1", "leader", { storage, clock, random, network: networkTo(() => leader) }, settings, installed);
    await replica.step(); // the first page, at startZxid
    // Writes while the snapshot is paged: the later pages show them.
    for (let i = 0; i < 3; i++) leader.write(1, 100 + i, { op: "setData", path: `/n${i}`, data: "changed", version: -1 });
    const endZxid = meta(leaderStorage).appliedZxid;
    await catchUp(replica, leaderStorage, replicaStorage);
    leader.write(1, 200, { op: "setData", path: "/n5", data: "after", version: -1 });
    await catchUp(replica, leaderStorage, replicaStorage);
    expect(installs).toEqual([{ previousZxid: 0, rowsZxid: endZxid, lastAppended: endZxid }]);
    expect(appended).toEqual([[startZxid + 1, true], [startZxid + 2, true], [startZxid + 3, true], [endZxid + 1, false]]);
  });
});

describe("replication core: a replica whose leader is recreated empty under the same name", () => {
  /** A leader over new storage, its log new (a new identity), with `count` creates under `tag`. */
  function newLeader(tag: string, count: number) {
    const storage = new MemoryStorage();
    const core = new LeaderCore(storage.handle({ alive: true }), clock, settings, undefined, { next: Math.random });
    core.activate(1);
    for (let i = 0; i < count; i++) core.write(1, i + 1, { op: "create", path: `/${tag}-${i}`, data: "v".repeat(50) });
    return { core, storage };
  }

  /** A replica of a leader that `recreate` replaces by a new one under the same name. */
  function recreatable(tag: string, count: number) {
    let leader = newLeader(tag, count);
    const replicaStorage = new MemoryStorage();
    const replica = new ReplicaCore("r1", "leader", { storage: replicaStorage.handle({ alive: true }), clock, random, network: networkTo(() => leader.core) }, settings);
    return { replica, replicaStorage, leader: () => leader, recreate: (newTag: string, newCount: number) => (leader = newLeader(newTag, newCount)) };
  }

  it("takes its snapshot again from the new log when it happens between two pages", async () => {
    const { replica, replicaStorage, recreate } = recreatable("old", 20);
    await replica.step();
    expect(meta(replicaStorage).snapshot?.cursor).not.toBeNull(); // one page in, more to come

    const leader = recreate("new", 25);
    // The next page, the new log's, is not taken as the old snapshot's next: the snapshot starts again.
    await replica.step();
    expect(meta(replicaStorage).snapshot).toEqual({ startZxid: -1, endZxid: 0, cursor: null });
    await catchUp(replica, leader.storage, replicaStorage);
    expect(rows(replicaStorage)).toBe(rows(leader.storage));
    expect(meta(replicaStorage).logId).toBe(meta(leader.storage).logId);
  });

  it("discards what it applied from the old log for a snapshot, though the new log holds its zxid", async () => {
    const { replica, replicaStorage, leader: old, recreate } = recreatable("old", 5);
    await catchUp(replica, old().storage, replicaStorage);
    const appliedFromOld = meta(replicaStorage).appliedZxid;

    const leader = recreate("new", 7);
    expect(meta(leader.storage).appliedZxid).toBeGreaterThan(appliedFromOld);
    await catchUp(replica, leader.storage, replicaStorage);
    expect(rows(replicaStorage)).toBe(rows(leader.storage));
  });
});

describe("replication core: a handover of the leader to a replica", () => {
  it("seals the old leader, makes the caught-up replica lead the next epoch with its stored replies, and points the old one at it", async () => {
    const { leader, leaderStorage, replicaStorage, replicaAt } = pair();
    const first = leader.write(7, 1, { op: "create", path: "/a", data: "x" }) as { zxid: number };
    const replica = replicaAt();
    await catchUp(replica, leaderStorage, replicaStorage);
    const sealedZxid = leader.seal(2) as number;
    expect(leader.seal(2)).toBe(sealedZxid); // a retried seal answers the same zxid
    expect(leader.write(7, 2, { op: "create", path: "/b", data: "" })).toMatchObject({ kind: "fenced", role: "sealed" });

    const target = new LeaderCore(replicaStorage.handle({ alive: true }), clock, settings);
    expect(target.takeOver(2, sealedZxid)).toMatchObject({ role: "leader", epoch: 2 });
    expect(target.takeOver(2, sealedZxid)).toMatchObject({ role: "leader", epoch: 2 }); // asked again
    // The write the old leader acknowledged is answered from its stored reply, not run again.
    expect(target.write(7, 1, { op: "create", path: "/a", data: "x" })).toEqual(first);
    expect(target.write(7, 2, { op: "create", path: "/b", data: "" })).toMatchObject({ zxid: makeZxid(2, 1) });
    expect(meta(replicaStorage).logId).toBe(meta(leaderStorage).logId); // one log, continued

    expect(leader.follow("r1", 2)).toBe(true);
    expect(leader.write(7, 3, { op: "create", path: "/c", data: "" })).toMatchObject({ kind: "fenced", role: "replica", leader: "r1" });
    expect(await leader.pull({ type: "pull", replica: "r2", fromZxid: 0, maxBytes: 1_000 })).toMatchObject({ kind: "fenced", leader: "r1" });
  });

  it("answers the pulls it holds at once when it hands over, naming its successor, not when their long polls end", async () => {
    const never = { now: () => 1_000, sleep: () => ({ elapsed: new Promise<void>(() => {}), cancel: () => undefined }) };
    const leader = new LeaderCore(new MemoryStorage().handle({ alive: true }), never, { ...settings, longPollMs: 60_000 });
    leader.activate(1);
    const head = leader.appliedZxid();
    const parked = leader.pull({ type: "pull", replica: "r2", fromZxid: head, maxBytes: 1_000 });
    leader.seal(2);
    expect(leader.follow("r9", 2)).toBe(true);
    const answer = await Promise.race([parked, new Promise((resolve) => setTimeout(() => resolve("still held"), 200))]);
    expect(answer).toMatchObject({ kind: "fenced", role: "replica", leader: "r9" });
  });

  it("makes no replica lead before it has applied the sealed zxid, nor below an epoch it promised", async () => {
    const { leader, leaderStorage, replicaStorage, replicaAt } = pair();
    const replica = replicaAt();
    await catchUp(replica, leaderStorage, replicaStorage);
    leader.write(7, 1, { op: "create", path: "/a", data: "x" });
    const sealedZxid = leader.seal(2) as number;
    const target = new LeaderCore(replicaStorage.handle({ alive: true }), clock, settings);
    expect(target.takeOver(2, sealedZxid)).toBe("behind");
    await replica.step();
    expect(target.takeOver(1, sealedZxid)).toMatchObject({ kind: "fenced" });
    expect(target.takeOver(2, sealedZxid)).toMatchObject({ role: "leader", epoch: 2 });
    expect(leader.write(7, 2, { op: "create", path: "/b", data: "" })).toMatchObject({ kind: "fenced", role: "sealed" });
  });

  it("lets an abandoned move's old leader lead again at its epoch, after which the seal on its way is refused", () => {
    const { leader } = pair();
    leader.write(7, 1, { op: "create", path: "/a", data: "x" });
    expect(leader.reopen(2)).toMatchObject({ role: "leader", epoch: 2 });
    expect(leader.reopen(2)).toMatchObject({ role: "leader", epoch: 2 });
    expect(leader.seal(2)).toMatchObject({ kind: "fenced" });
    expect(leader.write(7, 2, { op: "setData", path: "/a", data: "y", version: -1 })).toMatchObject({ zxid: makeZxid(2, 1) });
  });

  it("follows the successor a fenced answer names, and remembers it across a restart", async () => {
    const { leader, leaderStorage, replicaStorage } = pair();
    const successorStorage = new MemoryStorage();
    const asked: string[] = [];
    const network: Network = {
      request: async <Q, A>(peer: string, message: Q) => {
        asked.push(peer);
        const request = JSON.parse(JSON.stringify(message)) as LeaderRequest;
        const core = peer === "leader" ? leader : new LeaderCore(successorStorage.handle({ alive: true }), clock, settings);
        const reply = request.type === "pull" ? await core.pull(request) : core.snapshotPage(request);
        return JSON.parse(JSON.stringify(reply)) as A;
      },
    };
    const replica = new ReplicaCore("r2", "leader", { storage: replicaStorage.handle({ alive: true }), clock, random, network }, settings);
    await catchUp(replica, leaderStorage, replicaStorage);
    leader.seal(2);
    leader.follow("r9", 2);
    await expect(replica.step()).rejects.toThrow(/handed its shard to r9/);
    expect(meta(replicaStorage).following).toBe("r9");
    const restarted = new ReplicaCore("r2", "leader", { storage: replicaStorage.handle({ alive: true }), clock, random, network }, settings);
    expect(restarted.leaderName).toBe("r9");
    await restarted.step().catch(() => undefined);
    expect(asked.at(-1)).toBe("r9");
  });
});
