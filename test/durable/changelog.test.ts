/**
 * The change log: changesSince(zxid) lists each committed write's events in
 * commit order, the one source for watches, resume and replicas.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OPEN_ACL_UNSAFE, limitsFromEnv } from "../../protocol/index.ts";
import { ANON, bytes, exec, lastZxid, newShard, ok, session, sleep, type ShardStub } from "../harness/shard.ts";

async function eventsSince(stub: ShardStub, zxid: number): Promise<[number, string, string][]> {
  const { events } = await stub.changesSince(zxid);
  return events.map((e) => [e.zxid - zxid, e.event, e.path]);
}

describe("changesSince", () => {
  it("lists NodeCreated, NodeDataChanged, NodeChildrenChanged and NodeDeleted in commit order", async () => {
    const { stub } = newShard();
    const start = await lastZxid(stub);
    await exec(
      stub,
      ANON,
      { op: "create", path: "/a", data: bytes("1") },
      { op: "setData", path: "/a", data: bytes("2") },
      { op: "create", path: "/a/b" },
      { op: "delete", path: "/a/b" },
      { op: "delete", path: "/a" },
    );
    expect(await eventsSince(stub, start)).toEqual([
      [1, "NodeCreated", "/a"],
      [1, "NodeChildrenChanged", "/"],
      [2, "NodeDataChanged", "/a"],
      [3, "NodeCreated", "/a/b"],
      [3, "NodeChildrenChanged", "/a"],
      [4, "NodeDeleted", "/a/b"],
      [4, "NodeChildrenChanged", "/a"],
      [5, "NodeDeleted", "/a"],
      [5, "NodeChildrenChanged", "/"],
    ]);
  });

  it("lists only what came after the given zxid", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/a" });
    const mid = await lastZxid(stub);
    await ok(stub, ANON, { op: "setData", path: "/a", data: bytes("x") });
    expect(await eventsSince(stub, mid)).toEqual([[1, "NodeDataChanged", "/a"]]);
    expect(await eventsSince(stub, mid + 1)).toEqual([]);
  });

  it("a multi's events share its zxid, in op order", async () => {
    const { stub } = newShard();
    const start = await lastZxid(stub);
    await ok(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/m" },
        { op: "create", path: "/m/c" },
        { op: "setData", path: "/m", data: bytes("x") },
        { op: "check", path: "/m" },
      ],
    });
    expect(await eventsSince(stub, start)).toEqual([
      [1, "NodeCreated", "/m"],
      [1, "NodeChildrenChanged", "/"],
      [1, "NodeCreated", "/m/c"],
      [1, "NodeChildrenChanged", "/m"],
      [1, "NodeDataChanged", "/m"],
    ]);
  });

  it("a write of many events logs every one, in op order", async () => {
    const { stub } = newShard();
    const paths = Array.from({ length: 30 }, (_, i) => `/m${String(i).padStart(2, "0")}`);
    const start = await lastZxid(stub);
    await ok(stub, ANON, { op: "multi", ops: paths.map((path) => ({ op: "create" as const, path })) });
    expect(await eventsSince(stub, start)).toEqual(paths.flatMap((path) => [[1, "NodeCreated", path], [1, "NodeChildrenChanged", "/"]]));
  });

  it("failed writes log nothing", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/a" });
    const start = await lastZxid(stub);
    await exec(
      stub,
      ANON,
      { op: "create", path: "/a" },
      { op: "setData", path: "/a", data: bytes("x"), version: 4 },
      { op: "delete", path: "/missing" },
      { op: "multi", ops: [{ op: "create", path: "/b" }, { op: "create", path: "/b" }] },
    );
    expect(await eventsSince(stub, start)).toEqual([]);
  });

  it("setACL fires no data or child event", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/a" });
    const start = await lastZxid(stub);
    await ok(stub, ANON, { op: "setACL", path: "/a", acl: [...OPEN_ACL_UNSAFE] });
    const events = await eventsSince(stub, start);
    expect(events.filter(([, e]) => e.startsWith("Node"))).toEqual([]);
  });

  it("logs closeSession's deletes under one zxid", async () => {
    const { stub } = newShard();
    await ok(stub, session(5), { op: "create", path: "/e1", mode: "EPHEMERAL" });
    await ok(stub, session(5), { op: "create", path: "/e2", mode: "EPHEMERAL" });
    const start = await lastZxid(stub);
    await stub.closeSession("/", 5);
    const events = await eventsSince(stub, start);
    expect(events.filter(([, e]) => e === "NodeDeleted").map(([z, , p]) => [z, p]).sort()).toEqual([
      [1, "/e1"],
      [1, "/e2"],
    ]);
    expect(events.every(([z]) => z === 1)).toBe(true);
  });

  it("logs nodes the reaper deletes", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 50 });
    const start = await lastZxid(stub);
    await sleep(150);
    await runDurableObjectAlarm(stub);
    expect(await eventsSince(stub, start)).toEqual([
      [1, "NodeDeleted", "/t"],
      [1, "NodeChildrenChanged", "/"],
    ]);
  });
});

describe("the log's byte bound (EDGEKEEPER_MAX_CHANGE_LOG_BYTES, 4 MiB in these tests)", () => {
  const { maxChangeLogBytes, maxValueBytes } = limitsFromEnv(env);

  /** What the replication log holds (entries as stored: rows, values, replies), and the total the shard keeps for it. */
  async function logBytes(id: DurableObjectId): Promise<{ rows: number; kept: number; databaseBytes: number }> {
    return runInDurableObject(env.SHARD.get(id), (_instance, state) => {
      const sql = state.storage.sql;
      const rows = sql.exec<{ n: number }>("SELECT coalesce(sum(json_extract(row, '$.size')), 0) AS n FROM replication_log").one().n;
      const kept = sql.exec<{ n: number }>("SELECT json_extract(row, '$.logBytes') AS n FROM replication_meta WHERE key = 'meta'").one().n;
      return { rows, kept, databaseBytes: sql.databaseSize };
    });
  }

  it("keeps at most its bytes of values, dropping whole writes from the oldest", async () => {
    const { id, stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/big" });
    const start = await lastZxid(stub);
    const writes = Math.ceil((3 * maxChangeLogBytes) / maxValueBytes);
    for (let i = 0; i < writes; i++) await ok(stub, ANON, { op: "setData", path: "/big", data: new Uint8Array(maxValueBytes).fill(i) });
    const { rows, kept, databaseBytes } = await logBytes(id);
    expect(kept).toBe(rows);
    expect(rows).toBeLessThanOrEqual(maxChangeLogBytes);
    expect(rows).toBeGreaterThan(maxChangeLogBytes - 2 * maxValueBytes);
    // Freed pages are reused: the database holds the log, the node and slack, not every write.
    expect(databaseBytes).toBeLessThan(maxChangeLogBytes + 4 * maxValueBytes);
    const { events, oldest, last } = await stub.changesSince(start);
    expect(last).toBe(start + writes);
    expect(oldest).toBeGreaterThan(start + 1);
    // Whole writes: every zxid from the oldest kept to the last, one event each.
    expect(events.map((e) => e.zxid)).toEqual(Array.from({ length: last - oldest! + 1 }, (_, i) => oldest! + i));
  });

  it("a reader from before the oldest kept zxid is told at once that it cannot tell", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/big" });
    const start = await lastZxid(stub);
    const writes = Math.ceil((2 * maxChangeLogBytes) / maxValueBytes);
    for (let i = 0; i < writes; i++) await ok(stub, ANON, { op: "setData", path: "/big", data: new Uint8Array(maxValueBytes) });
    expect(await stub.waitForChange("/", ANON, "/other", "node", start, 60_000)).toMatchObject({ ok: true, value: { changed: true, zxid: start + writes } });
    // A reader within the log still waits: nothing after the last zxid concerns /other.
    expect(await stub.waitForChange("/", ANON, "/other", "node", start + writes, 50)).toMatchObject({ ok: true, value: { changed: false, zxid: start + writes } });
  });
});
