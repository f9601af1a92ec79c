/**
 * delete, setData, getData, exists, getChildren, getAllChildrenNumber and
 * getEphemerals, with versions as compare-and-set.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ANON, bytes, createAll, exists, fails, newShard, ok, reconnect, session, statOf, text } from "../harness/shard.ts";

const S1 = session(101);
const S2 = session(202);

describe("delete", () => {
  it("removes a node; NoNode after, and for a missing parent", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a");
    await ok(stub, ANON, { op: "delete", path: "/a" });
    expect(await exists(stub, "/a")).toBe(false);
    expect(await fails(stub, ANON, { op: "delete", path: "/a" })).toBe("NoNode");
    expect(await fails(stub, ANON, { op: "delete", path: "/x/y" })).toBe("NoNode");
  });

  it("uses the version as compare-and-set: BadVersion keeps the node, -1 and undefined match any", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a", "/b", "/c");
    await ok(stub, ANON, { op: "setData", path: "/a", data: bytes("1") });
    expect(await fails(stub, ANON, { op: "delete", path: "/a", version: 0 })).toBe("BadVersion");
    expect(await fails(stub, ANON, { op: "delete", path: "/a", version: 2 })).toBe("BadVersion");
    expect(await exists(stub, "/a")).toBe(true);
    await ok(stub, ANON, { op: "delete", path: "/a", version: 1 });
    await ok(stub, ANON, { op: "delete", path: "/b", version: -1 });
    await ok(stub, ANON, { op: "delete", path: "/c" });
    for (const path of ["/a", "/b", "/c"]) expect(await exists(stub, path)).toBe(false);
  });

  it("refuses a node with children: NotEmpty, before or after the version check", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a", "/a/b");
    expect(await fails(stub, ANON, { op: "delete", path: "/a" })).toBe("NotEmpty");
    // ZooKeeper checks the version before the children.
    expect(await fails(stub, ANON, { op: "delete", path: "/a", version: 5 })).toBe("BadVersion");
    expect(await exists(stub, "/a/b")).toBe(true);
    await ok(stub, ANON, { op: "delete", path: "/a/b" });
    await ok(stub, ANON, { op: "delete", path: "/a", version: 0 });
  });

  it("deletes another session's ephemeral node (deleting is not owned)", async () => {
    const { stub } = newShard();
    await ok(stub, S1, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await ok(stub, S2, { op: "delete", path: "/e" });
    expect((await ok(stub, S1, { op: "getEphemerals", prefix: "/" })).paths).toEqual([]);
  });
});

describe("setData and getData", () => {
  it("round-trips arbitrary bytes, empty included", async () => {
    const { stub } = newShard();
    const binary = new Uint8Array([0, 255, 1, 128, 0]);
    await ok(stub, ANON, { op: "create", path: "/b", data: binary });
    expect([...(await ok(stub, ANON, { op: "getData", path: "/b" })).data!]).toEqual([...binary]);
    await ok(stub, ANON, { op: "setData", path: "/b", data: new Uint8Array() });
    const { data, stat } = await ok(stub, ANON, { op: "getData", path: "/b" });
    expect(data!.byteLength).toBe(0);
    expect(stat.dataLength).toBe(0);
  });

  it("uses the version as compare-and-set: a counter built on BadVersion", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/n", data: bytes("0") });
    const first = await ok(stub, ANON, { op: "setData", path: "/n", data: bytes("1"), version: 0 });
    expect(first.stat.version).toBe(1);
    // A writer holding the old version loses.
    expect(await fails(stub, ANON, { op: "setData", path: "/n", data: bytes("lost"), version: 0 })).toBe("BadVersion");
    const { data, stat } = await ok(stub, ANON, { op: "getData", path: "/n" });
    expect(text(data)).toBe("1");
    expect(stat.version).toBe(1);
    expect((await ok(stub, ANON, { op: "setData", path: "/n", data: bytes("2"), version: -1 })).stat.version).toBe(2);
    expect((await ok(stub, ANON, { op: "setData", path: "/n", data: bytes("3") })).stat.version).toBe(3);
  });

  it("answers NoNode for a missing node", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "getData", path: "/nope" })).toBe("NoNode");
    expect(await fails(stub, ANON, { op: "setData", path: "/nope", data: bytes("x") })).toBe("NoNode");
    expect(await fails(stub, ANON, { op: "setData", path: "/nope", data: bytes("x"), version: 3 })).toBe("NoNode");
    expect(await exists(stub, "/nope")).toBe(false);
  });
});

describe("null values", () => {
  it("a value created or set null reads back null, distinct from empty, with dataLength 0", async () => {
    const { stub } = newShard();
    const created = await ok(stub, ANON, { op: "create", path: "/n", data: null });
    expect(created.stat.dataLength).toBe(0);
    expect((await ok(stub, ANON, { op: "getData", path: "/n" })).data).toBeNull();
    await ok(stub, ANON, { op: "create", path: "/e" });
    expect((await ok(stub, ANON, { op: "getData", path: "/e" })).data).toEqual(new Uint8Array(0));

    await ok(stub, ANON, { op: "setData", path: "/e", data: null });
    expect((await ok(stub, ANON, { op: "getData", path: "/e" })).data).toBeNull();
    await ok(stub, ANON, { op: "setData", path: "/n", data: bytes("v") });
    expect(text((await ok(stub, ANON, { op: "getData", path: "/n" })).data)).toBe("v");

    await ok(stub, ANON, { op: "multi", ops: [{ op: "create", path: "/m", data: null }] });
    const [read] = (await ok(stub, ANON, { op: "multiRead", ops: [{ op: "getData", path: "/m" }] })).results;
    expect(read).toMatchObject({ op: "getData", data: null, stat: { dataLength: 0 } });
  });

  it("a shard whose table predates null values gains them at its next start, its nodes kept", async () => {
    const { id, stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/old", data: bytes("kept") });
    await runInDurableObject(stub, (_instance, state) => void state.storage.sql.exec("ALTER TABLE znodes DROP COLUMN data_null"));
    await evictDurableObject(stub);
    const restarted = reconnect(id);
    expect(text((await ok(restarted, ANON, { op: "getData", path: "/old" })).data)).toBe("kept");
    await ok(restarted, ANON, { op: "create", path: "/new", data: null });
    expect((await ok(restarted, ANON, { op: "getData", path: "/new" })).data).toBeNull();
  });
});

describe("exists", () => {
  it("returns the Stat or null, also under a missing parent", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a");
    expect((await ok(stub, ANON, { op: "exists", path: "/a" })).stat).not.toBeNull();
    expect((await ok(stub, ANON, { op: "exists", path: "/b" })).stat).toBeNull();
    expect((await ok(stub, ANON, { op: "exists", path: "/b/c/d" })).stat).toBeNull();
  });
});

describe("getChildren", () => {
  it("lists child names (not paths, not grandchildren) with the parent's Stat", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p", "/p/b", "/p/a", "/p/a/deep", "/pp", "/p-x");
    const { children, stat } = await ok(stub, ANON, { op: "getChildren", path: "/p" });
    expect([...children].sort()).toEqual(["a", "b"]);
    expect(stat).toEqual(await statOf(stub, "/p"));
    expect((await ok(stub, ANON, { op: "getChildren", path: "/p/b" })).children).toEqual([]);
    expect([...(await ok(stub, ANON, { op: "getChildren", path: "/" })).children].sort()).toEqual(["p", "p-x", "pp", "zookeeper"]);
  });

  it("answers NoNode for a missing node", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "getChildren", path: "/nope" })).toBe("NoNode");
  });
});

describe("getAllChildrenNumber", () => {
  it("counts every descendant, not siblings sharing a prefix", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p", "/p/a", "/p/a/x", "/p/a/x/y", "/p/b", "/pp", "/pp/z", "/p-1");
    expect((await ok(stub, ANON, { op: "getAllChildrenNumber", path: "/p" })).count).toBe(4);
    expect((await ok(stub, ANON, { op: "getAllChildrenNumber", path: "/p/a/x/y" })).count).toBe(0);
    // For "/", every node but the root: ZooKeeper's three system nodes included.
    expect((await ok(stub, ANON, { op: "getAllChildrenNumber", path: "/" })).count).toBe(8 + 3);
  });

  it("answers NoNode for a missing node", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "getAllChildrenNumber", path: "/nope" })).toBe("NoNode");
  });
});

describe("getEphemerals", () => {
  it("lists the calling session's ephemerals only, filtered by a string prefix", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a", "/ab", "/b");
    await ok(stub, S1, { op: "create", path: "/a/1", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "create", path: "/ab/2", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "create", path: "/b/s-", mode: "EPHEMERAL_SEQUENTIAL" });
    await ok(stub, S1, { op: "create", path: "/b/persistent" });
    await ok(stub, S2, { op: "create", path: "/a/other", mode: "EPHEMERAL" });

    const all = (await ok(stub, S1, { op: "getEphemerals", prefix: "/" })).paths;
    expect([...all].sort()).toEqual(["/a/1", "/ab/2", "/b/s-0000000000"]);
    // ZooKeeper filters with startsWith: "/a" also matches "/ab/...".
    expect([...(await ok(stub, S1, { op: "getEphemerals", prefix: "/a" })).paths].sort()).toEqual(["/a/1", "/ab/2"]);
    expect((await ok(stub, S1, { op: "getEphemerals", prefix: "/a/" })).paths).toEqual(["/a/1"]);
    expect((await ok(stub, S1, { op: "getEphemerals", prefix: "/zzz" })).paths).toEqual([]);
    expect((await ok(stub, S2, { op: "getEphemerals", prefix: "/" })).paths).toEqual(["/a/other"]);
    expect((await ok(stub, session(303), { op: "getEphemerals", prefix: "/" })).paths).toEqual([]);
    expect((await ok(stub, ANON, { op: "getEphemerals", prefix: "/" })).paths).toEqual([]);
  });

  it("forgets an ephemeral once it is deleted", async () => {
    const { stub } = newShard();
    await ok(stub, S1, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "delete", path: "/e" });
    expect((await ok(stub, S1, { op: "getEphemerals", prefix: "/" })).paths).toEqual([]);
  });
});
