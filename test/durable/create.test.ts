/**
 * create in every CreateMode: names, sequence suffixes, owners, and the errors
 * ZooKeeper answers in the order it checks them; plus the value size limit.
 */
import { describe, expect, it } from "vitest";
import { type CreateMode, type ShardRequest, DEFAULT_LIMITS, MAX_TTL_MS } from "../../protocol/index.ts";
import { ANON, bytes, createAll, exec, exists, fails, lastZxid, newShard, ok, session, statOf, text } from "../harness/shard.ts";

const S1 = session(0x1234_5678_9a);

describe("create modes", () => {
  const cases: { mode: CreateMode; ttlMs?: number; sequential: boolean; owner: boolean }[] = [
    { mode: "PERSISTENT", sequential: false, owner: false },
    { mode: "EPHEMERAL", sequential: false, owner: true },
    { mode: "PERSISTENT_SEQUENTIAL", sequential: true, owner: false },
    { mode: "EPHEMERAL_SEQUENTIAL", sequential: true, owner: true },
    { mode: "CONTAINER", sequential: false, owner: false },
    { mode: "PERSISTENT_WITH_TTL", ttlMs: 60_000, sequential: false, owner: false },
    { mode: "PERSISTENT_SEQUENTIAL_WITH_TTL", ttlMs: 60_000, sequential: true, owner: false },
  ];

  it.each(cases)("$mode: name, data and ephemeralOwner", async ({ mode, ttlMs, sequential, owner }) => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p");
    const created = await ok(stub, S1, { op: "create", path: "/p/n", data: bytes("v"), mode, ttlMs });
    expect(created.path).toBe(sequential ? "/p/n0000000000" : "/p/n");
    // ephemeralOwner is the session for EPHEMERAL nodes only: 0 for containers and TTL nodes.
    expect(created.stat.ephemeralOwner).toBe(owner ? S1.sessionId : 0);
    const read = await ok(stub, ANON, { op: "getData", path: created.path });
    expect(text(read.data)).toBe("v");
    expect(read.stat).toEqual(created.stat);
  });

  it("takes wire flags as well as names, and refuses unknown flags", async () => {
    const { stub } = newShard();
    const created = await ok(stub, S1, { op: "create", path: "/e-", mode: 3 as unknown as CreateMode });
    expect(created.path).toBe("/e-0000000000");
    expect(created.stat.ephemeralOwner).toBe(S1.sessionId);
    expect(await fails(stub, S1, { op: "create", path: "/x", mode: 7 as unknown as CreateMode })).toBe("BadArguments");
    expect(await fails(stub, S1, { op: "create", path: "/x", mode: "FOREVER" as CreateMode })).toBe("BadArguments");
    expect(await exists(stub, "/x")).toBe(false);
  });
});

describe("sequence suffixes", () => {
  it("are ten digits from the parent's create count, per parent", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/q", "/r");
    const names: string[] = [];
    for (let i = 0; i < 3; i++) names.push((await ok(stub, ANON, { op: "create", path: "/q/item-", mode: "PERSISTENT_SEQUENTIAL" })).path);
    expect(names).toEqual(["/q/item-0000000000", "/q/item-0000000001", "/q/item-0000000002"]);
    // Another parent counts on its own.
    expect((await ok(stub, ANON, { op: "create", path: "/r/x", mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/r/x0000000000");
    // Every child create counts, sequential or not, whatever its name prefix.
    await createAll(stub, ANON, "/q/plain");
    expect((await ok(stub, S1, { op: "create", path: "/q/other-", mode: "EPHEMERAL_SEQUENTIAL" })).path).toBe("/q/other-0000000004");
  });

  it("are never reused after deletes", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/q");
    const a = await ok(stub, ANON, { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" });
    const b = await ok(stub, ANON, { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" });
    await ok(stub, ANON, { op: "delete", path: a.path });
    await ok(stub, ANON, { op: "delete", path: b.path });
    expect((await ok(stub, ANON, { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/q/n-0000000002");
  });

  it("a sequential create that meets an existing name answers NodeExists", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/q", "/q/n0000000001");
    // One create so far, so the suffix is 0000000001: taken already.
    expect(await fails(stub, ANON, { op: "create", path: "/q/n", mode: "PERSISTENT_SEQUENTIAL" })).toBe("NodeExists");
    // A failed create does not move the count: the same name is met again.
    expect(await fails(stub, ANON, { op: "create", path: "/q/n", mode: "PERSISTENT_SEQUENTIAL" })).toBe("NodeExists");
    expect((await ok(stub, ANON, { op: "create", path: "/q/m", mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/q/m0000000001");
  });
});

describe("create errors", () => {
  it("needs the parent: NoNode, and nothing is written", async () => {
    const { stub } = newShard();
    const before = await lastZxid(stub);
    expect(await fails(stub, ANON, { op: "create", path: "/a/b" })).toBe("NoNode");
    expect(await fails(stub, ANON, { op: "create", path: "/a/b/c", mode: "PERSISTENT_SEQUENTIAL" })).toBe("NoNode");
    expect(await exists(stub, "/a")).toBe(false);
    expect(await lastZxid(stub)).toBe(before);
  });

  it("refuses an existing path with NodeExists and keeps its data", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/a", data: bytes("first") });
    expect(await fails(stub, ANON, { op: "create", path: "/a", data: bytes("second") })).toBe("NodeExists");
    expect(await fails(stub, S1, { op: "create", path: "/a", mode: "EPHEMERAL" })).toBe("NodeExists");
    const { data, stat } = await ok(stub, ANON, { op: "getData", path: "/a" });
    expect(text(data)).toBe("first");
    expect(stat.ephemeralOwner).toBe(0);
  });

  it.each(["EPHEMERAL", "EPHEMERAL_SEQUENTIAL"] as const)("refuses children of a %s node with NoChildrenForEphemerals", async (mode) => {
    const { stub } = newShard();
    const parent = await ok(stub, S1, { op: "create", path: "/eph", mode });
    for (const child of ["PERSISTENT", "EPHEMERAL", "PERSISTENT_SEQUENTIAL", "CONTAINER"] as const) {
      expect(await fails(stub, S1, { op: "create", path: `${parent.path}/c`, mode: child })).toBe("NoChildrenForEphemerals");
    }
    expect((await statOf(stub, parent.path)).numChildren).toBe(0);
  });

  it("children of containers and TTL nodes are allowed", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/c", mode: "CONTAINER" });
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 60_000 });
    await ok(stub, S1, { op: "create", path: "/c/e", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "create", path: "/t/e", mode: "EPHEMERAL" });
    expect((await statOf(stub, "/c")).numChildren).toBe(1);
    expect((await statOf(stub, "/t")).numChildren).toBe(1);
  });

  it.each(["EPHEMERAL", "EPHEMERAL_SEQUENTIAL"] as const)("%s needs a session (sessionId != 0)", async (mode) => {
    const { stub } = newShard();
    const before = await lastZxid(stub);
    expect(await fails(stub, ANON, { op: "create", path: "/e", mode })).toBe("BadArguments");
    expect((await ok(stub, ANON, { op: "getChildren", path: "/" })).children).toEqual(["zookeeper"]);
    expect(await lastZxid(stub)).toBe(before);
  });
});

describe("TTL validation", () => {
  const refused: [string, ShardRequest][] = [
    ["ttl 0", { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 0 }],
    ["a negative ttl", { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: -5 }],
    ["ttl -1", { op: "create", path: "/t", mode: "PERSISTENT_SEQUENTIAL_WITH_TTL", ttlMs: -1 }],
    ["a missing ttl", { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL" }],
    ["a missing ttl (sequential)", { op: "create", path: "/t", mode: "PERSISTENT_SEQUENTIAL_WITH_TTL" }],
    ["a fractional ttl", { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 1.5 }],
    ["a ttl above 2^40 - 1", { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: MAX_TTL_MS + 1 }],
    ["a ttl with PERSISTENT", { op: "create", path: "/t", mode: "PERSISTENT", ttlMs: 1000 }],
    ["a ttl with PERSISTENT_SEQUENTIAL", { op: "create", path: "/t", mode: "PERSISTENT_SEQUENTIAL", ttlMs: 1000 }],
    ["a ttl with CONTAINER", { op: "create", path: "/t", mode: "CONTAINER", ttlMs: 1000 }],
    ["a ttl with EPHEMERAL", { op: "create", path: "/t", mode: "EPHEMERAL", ttlMs: 1000 }],
    ["a ttl of 0 with PERSISTENT", { op: "create", path: "/t", mode: "PERSISTENT", ttlMs: 0 }],
  ];

  it.each(refused)("refuses %s with BadArguments", async (_, request) => {
    const { stub } = newShard();
    expect(await fails(stub, S1, request)).toBe("BadArguments");
    expect((await ok(stub, ANON, { op: "getChildren", path: "/" })).children).toEqual(["zookeeper"]);
  });

  it("accepts the largest TTL, and -1 (no TTL) with other modes", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/max", mode: "PERSISTENT_WITH_TTL", ttlMs: MAX_TTL_MS });
    await ok(stub, ANON, { op: "create", path: "/plain", mode: "PERSISTENT", ttlMs: -1 });
  });

  it("checks the TTL before the parent (ZooKeeper's validateCreateRequest comes first)", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "create", path: "/missing/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 0 })).toBe("BadArguments");
  });
});

describe("value size", () => {
  const max = DEFAULT_LIMITS.maxValueBytes;

  it("accepts a value of exactly maxValueBytes in create and setData", async () => {
    const { stub } = newShard();
    const big = new Uint8Array(max).fill(7);
    const created = await ok(stub, ANON, { op: "create", path: "/big", data: big });
    expect(created.stat.dataLength).toBe(max);
    const { data } = await ok(stub, ANON, { op: "getData", path: "/big" });
    expect(data!.byteLength).toBe(max);
    expect(data![max - 1]).toBe(7);
    await ok(stub, ANON, { op: "create", path: "/small" });
    expect((await ok(stub, ANON, { op: "setData", path: "/small", data: big })).stat.dataLength).toBe(max);
  });

  it("refuses one byte more with BadArguments and writes nothing", async () => {
    const { stub } = newShard();
    const tooBig = new Uint8Array(max + 1);
    await ok(stub, ANON, { op: "create", path: "/small", data: bytes("keep") });
    const before = await lastZxid(stub);
    expect(await fails(stub, ANON, { op: "create", path: "/big", data: tooBig })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "setData", path: "/small", data: tooBig })).toBe("BadArguments");
    const [multi] = await exec(stub, ANON, { op: "multi", ops: [{ op: "create", path: "/m" }, { op: "setData", path: "/small", data: tooBig }] });
    expect(multi?.ok).toBe(false);
    expect(await exists(stub, "/big")).toBe(false);
    expect(await exists(stub, "/m")).toBe(false);
    const { data, stat } = await ok(stub, ANON, { op: "getData", path: "/small" });
    expect(text(data)).toBe("keep");
    expect(stat.version).toBe(0);
    expect(await lastZxid(stub)).toBe(before);
  });
});
