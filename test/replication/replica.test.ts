/**
 * A replica against its leader over an in-process network (plain Node; the simulator
 * covers both under faults): a new replica takes a snapshot, then follows the log in
 * order, and resumes from storage after a crash.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, ReplicaCore,
  type LeaderRequest, type Meta, type Network, type ReplicationSettings, type ZnodeRow,
} from "../../durable/replication/core/index.ts";
import { makeZxid } from "../../protocol/index.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";

const settings: ReplicationSettings = { ...DEFAULT_REPLICATION_SETTINGS, logMaxEntries: 8, pageMaxBytes: 600, longPollMs: 0 };
const clock = { now: () => 1_000, sleep: () => ({ elapsed: Promise.resolve(), cancel: () => undefined }) };
const random = { next: () => 0.5 };

function pair() {
  const leaderStorage = new MemoryStorage();
  const leader = new LeaderCore(leaderStorage.handle({ alive: true }), clock, settings);
  leader.activate(1);
  const network: Network = {
    request: async <Q, A>(_peer: string, message: Q) => {
      const request = JSON.parse(JSON.stringify(message)) as LeaderRequest;
      const reply = request.type === "pull" ? await leader.pull(request) : leader.snapshotPage(request);
      return JSON.parse(JSON.stringify(reply)) as A;
    },
  };
  const replicaStorage = new MemoryStorage();
  const replicaAt = (owner = { alive: true }) => new ReplicaCore("r1", "leader", { storage: replicaStorage.handle(owner), clock, random, network }, settings);
  return { leader, leaderStorage, replicaStorage, replicaAt };
}

const rows = (storage: MemoryStorage) => storage.read((txn) => JSON.stringify([txn.scan<ZnodeRow>("znode", undefined, 1_000), txn.scan("session", undefined, 1_000)]));
const meta = (storage: MemoryStorage) => storage.read((txn) => txn.get<Meta>("meta", "meta")!);

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
});
