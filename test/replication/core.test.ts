/**
 * The replication core on its own, over the simulator's storage (plain Node: the
 * core uses no platform API). The simulator (test/sim/) covers it under faults.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_REPLICATION_SETTINGS, LeaderCore, type LogEntry, type Meta, type Reply, type ReplicationSettings } from "../../durable/replication/core/index.ts";
import { entriesAfter } from "../../durable/replication/core/log.ts";
import type { RowKey, StorageTxn, TableName } from "../../durable/replication/core/ports.ts";
import { makeZxid } from "../../protocol/index.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";

const clock = { now: () => 1_000, sleep: () => ({ elapsed: Promise.resolve(), cancel: () => undefined }) };

function leaderWith(settings: Partial<ReplicationSettings> = {}) {
  const storage = new MemoryStorage();
  const core = new LeaderCore(storage.handle({ alive: true }), clock, { ...DEFAULT_REPLICATION_SETTINGS, ...settings });
  core.activate(1);
  return { storage, core };
}

const log = (storage: MemoryStorage): LogEntry[] => storage.read((txn) => txn.scan<LogEntry>("log", undefined, 10_000).map(([, e]) => e));
const meta = (storage: MemoryStorage): Meta => storage.read((txn) => txn.get<Meta>("meta", "meta")!);

describe("replication core: the leader", () => {
  it("logs the initial tree as a snapshot at (epoch, 0)", () => {
    const { storage } = leaderWith();
    const [first] = log(storage);
    expect(first).toMatchObject({ zxid: makeZxid(1, 0), kind: "snapshot", effects: [{ table: "znode", key: "/" }] });
  });

  it("logs every write with no holes: failed writes, check-only multis and closeSession included", () => {
    const { storage, core } = leaderWith();
    core.write(5, 1, { op: "create", path: "/a", data: "x" });
    const failed = core.write(5, 2, { op: "create", path: "/a", data: "y" }) as Reply;
    expect(failed.error).toBe("NodeExists");
    core.write(5, 3, { op: "multi", ops: [{ op: "check", path: "/a", version: 0 }] });
    core.write(5, 4, { op: "create", path: "/e", data: "", ephemeral: true });
    core.write(5, 5, { op: "closeSession" });
    const zxids = log(storage).map((e) => e.zxid);
    expect(zxids).toEqual([0, 1, 2, 3, 4, 5].map((c) => makeZxid(1, c)));
    const close = log(storage).at(-1)!;
    expect(close.kind).toBe("close-session");
    expect(close.effects).toContainEqual({ table: "znode", key: "/e", row: null });
    expect((core.write(5, 6, { op: "create", path: "/b", data: "" }) as Reply).error).toBe("SessionExpired");
  });

  it("answers a retried (session, cxid) from its commit record instead of running it again", () => {
    const { core } = leaderWith();
    const first = core.write(9, 1, { op: "create", path: "/a", data: "x" }) as Reply;
    core.write(8, 1, { op: "delete", path: "/a", version: -1 });
    expect(core.write(9, 1, { op: "create", path: "/a", data: "x" })).toEqual(first);
    expect(core.read("/a")).toMatchObject({ row: undefined });
  });

  it("is fenced by storage once sealed, and leads again only at a higher epoch", () => {
    const { storage, core } = leaderWith();
    core.write(1, 1, { op: "create", path: "/a", data: "x" });
    expect(core.seal(2)).toBe(makeZxid(1, 1));
    expect(core.write(1, 2, { op: "setData", path: "/a", data: "y", version: -1 })).toMatchObject({ kind: "fenced", role: "sealed" });
    expect(core.read("/a")).toMatchObject({ kind: "fenced" });
    expect(core.activate(1)).toMatchObject({ kind: "fenced" });
    core.activate(2);
    expect(core.write(1, 2, { op: "setData", path: "/a", data: "y", version: -1 })).toMatchObject({ zxid: makeZxid(2, 1) });
    expect(log(storage).map((e) => e.kind).slice(-2)).toEqual(["epoch-start", "write"]);
  });

  it("trims by count in log order across an epoch change, never the whole previous epoch", () => {
    const { storage, core } = leaderWith({ logMaxEntries: 10 });
    for (let cxid = 1; cxid <= 5; cxid++) core.write(1, cxid, { op: "setData", path: "/", data: String(cxid), version: -1 });
    core.seal(2);
    core.activate(2);
    core.write(1, 6, { op: "setData", path: "/", data: "6", version: -1 });
    expect(log(storage)).toHaveLength(8);
    for (let cxid = 7; cxid <= 12; cxid++) core.write(1, cxid, { op: "setData", path: "/", data: String(cxid), version: -1 });
    const kept = log(storage);
    expect(kept).toHaveLength(10);
    expect(kept[0]!.zxid).toBe(makeZxid(1, 4));
    expect(meta(storage)).toMatchObject({ logEntries: 10, trimmedZxid: makeZxid(1, 3) });
  });

  it("trims by bytes, but never past what a live replica has applied", async () => {
    const { storage, core } = leaderWith({ logMaxBytes: 2_000, longPollMs: 0 });
    await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 0), maxBytes: 1 << 20 });
    for (let cxid = 1; cxid <= 40; cxid++) core.write(1, cxid, { op: "setData", path: "/", data: "x".repeat(100), version: -1 });
    expect(log(storage)[0]!.zxid).toBe(makeZxid(1, 1));
    await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 30), maxBytes: 1 << 20 });
    core.write(1, 41, { op: "setData", path: "/", data: "y", version: -1 });
    expect(log(storage)[0]!.zxid).toBe(makeZxid(1, 31));
    core.forgetReplica("r1");
    core.write(1, 42, { op: "setData", path: "/", data: "z", version: -1 });
    expect(meta(storage).logBytes).toBeLessThanOrEqual(2_000);
    expect(meta(storage).logBytes).toBe(log(storage).reduce((n, e) => n + e.size, 0));
  });

  it("keeps a replica's progress where it was when a pipelined pull sent before it arrives late", async () => {
    const { storage, core } = leaderWith({ logMaxEntries: 10, longPollMs: 0 });
    for (let cxid = 1; cxid <= 20; cxid++) core.write(1, cxid, { op: "setData", path: "/", data: String(cxid), version: -1 });
    await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 15), maxBytes: 1 << 20 });
    // Sent before the replica applied through 15, it arrives after: the replica is at 15 still.
    await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 12), maxBytes: 1 << 20, pipelined: true });
    expect(storage.read((txn) => txn.get<{ appliedZxid: number }>("peer", "r1"))?.appliedZxid).toBe(makeZxid(1, 15));
    // A plain pull says where the replica is: it may be behind (it started again from a snapshot).
    await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 12), maxBytes: 1 << 20 });
    expect(storage.read((txn) => txn.get<{ appliedZxid: number }>("peer", "r1"))?.appliedZxid).toBe(makeZxid(1, 12));
  });

  it("sends pages bounded in bytes and asks a replica it has trimmed past for a snapshot", async () => {
    const { core } = leaderWith({ logMaxEntries: 20, longPollMs: 0 });
    for (let cxid = 1; cxid <= 30; cxid++) core.write(1, cxid, { op: "setData", path: "/", data: "x".repeat(200), version: -1 });
    const reply = await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 15), maxBytes: 3_000 });
    expect(reply.kind).toBe("entries");
    const entries = reply.kind === "entries" ? reply.entries : [];
    expect(entries[0]!.zxid).toBe(makeZxid(1, 16));
    expect(entries.length).toBeGreaterThan(1);
    expect(entries.length).toBeLessThan(15);
    expect(entries.reduce((n, e) => n + e.size, 0)).toBeLessThanOrEqual(3_000);
    expect(await core.pull({ type: "pull", replica: "r1", fromZxid: makeZxid(1, 2), maxBytes: 1_000 })).toMatchObject({ kind: "snapshot-needed" });
  });

  it("has a snapshot whose start it trimmed past started over, and does not count its replica as being there", () => {
    const { storage, core } = leaderWith({ logMaxEntries: 20, longPollMs: 0 });
    const first = core.snapshotPage({ type: "snapshot", replica: "r1", cursor: null, maxBytes: 1 });
    if (first.kind !== "page") expect.fail(`first page: ${first.kind}`);
    // Its replica stops longer than its lease (forgotten), and the log is trimmed past the snapshot's start.
    core.forgetReplica("r1");
    for (let cxid = 1; cxid <= 30; cxid++) core.write(1, cxid, { op: "setData", path: "/", data: "x", version: -1 });
    expect(meta(storage).trimmedZxid).toBeGreaterThan(first.startZxid);
    // Its pages could never be replayed from here: the snapshot starts over.
    expect(core.snapshotPage({ type: "snapshot", replica: "r1", startZxid: first.startZxid, cursor: first.next, maxBytes: 1 })).toMatchObject({ kind: "snapshot-needed", leaderZxid: makeZxid(1, 30) });
    expect(storage.read((txn) => txn.get("peer", "r1"))).toBeUndefined();
  });
});

describe("replication core: a page of the log", () => {
  it("decodes only the entries of the page it ships, choosing them by their sizes", () => {
    const { storage, core } = leaderWith();
    for (let i = 0; i < 20; i++) core.write(5, i + 1, { op: "create", path: `/p-${i}`, data: "x".repeat(100) });
    const first = makeZxid(1, 0);
    const size = log(storage)[1]!.size;
    const decoded: number[] = [];
    const page = storage.read((txn) => {
      // Every entry decoded passes through get or scan of the log.
      const watched: StorageTxn = {
        ...txn,
        get: (table, key) => (table === "log" && decoded.push(key as number), txn.get(table, key)),
        scan: <R>(table: TableName, after: RowKey | undefined, limit: number) => {
          const rows = txn.scan<R>(table, after, limit);
          if (table === "log") decoded.push(...rows.map(([key]) => key as number));
          return rows;
        },
      };
      return entriesAfter(watched, first, 2 * size);
    });
    expect(page.map((e) => e.zxid)).toEqual([makeZxid(1, 1), makeZxid(1, 2)]);
    expect(decoded).toEqual([makeZxid(1, 1), makeZxid(1, 2)]);
  });
});
