/**
 * Stat bookkeeping, field by field: which operation moves which field, and the
 * zxid sequence. cversion is reported as ZooKeeper's DataNode.copyStat reports
 * it: 2 x child creates - numChildren, so a child delete moves it too.
 */
import { describe, expect, it } from "vitest";
import { OPEN_ACL_UNSAFE, type Stat, zxidCounter, zxidEpoch } from "../../protocol/index.ts";
import { ANON, bytes, createAll, exec, lastZxid, newShard, ok, run, session, sleep, statOf } from "../harness/shard.ts";

const S1 = session(0x51);

/** The fields of `after` that differ from `before`. */
function changed(before: Stat, after: Stat): string[] {
  return (Object.keys(before) as (keyof Stat)[]).filter((k) => before[k] !== after[k]).sort();
}

describe("Stat of a new node", () => {
  it("carries the create's zxid three times, its time twice, and zero counters", async () => {
    const { stub } = newShard();
    const t0 = Date.now();
    const [outcome] = await exec(stub, ANON, { op: "create", path: "/a", data: bytes("héllo") });
    const t1 = Date.now();
    if (!outcome?.ok) throw new Error("create failed");
    const { stat } = outcome.value as { stat: Stat };
    expect(stat.czxid).toBe(outcome.zxid);
    expect(stat.mzxid).toBe(outcome.zxid);
    expect(stat.pzxid).toBe(outcome.zxid);
    expect(stat.ctime).toBe(stat.mtime);
    expect(stat.ctime).toBeGreaterThanOrEqual(t0);
    expect(stat.ctime).toBeLessThanOrEqual(t1);
    expect(stat).toMatchObject({ version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0, numChildren: 0 });
    // dataLength counts bytes, not characters.
    expect(stat.dataLength).toBe(6);
    expect(await statOf(stub, "/a")).toEqual(stat);
  });

  it("the system nodes look as on a new ZooKeeper (root cversion -1, /zookeeper -2)", async () => {
    const { stub } = newShard();
    expect(await statOf(stub, "/")).toMatchObject({ czxid: 0, mzxid: 0, pzxid: 0, version: 0, cversion: -1, numChildren: 1 });
    expect(await statOf(stub, "/zookeeper")).toMatchObject({ czxid: 0, cversion: -2, numChildren: 2 });
    expect(await statOf(stub, "/zookeeper/config")).toMatchObject({ czxid: 0, aversion: -1, numChildren: 0 });
  });
});

describe("which op moves which field", () => {
  it("setData: data, dataLength, version +1, mzxid and mtime; nothing else, and not the parent", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p", "/p/n");
    const before = await statOf(stub, "/p/n");
    const parentBefore = await statOf(stub, "/p");
    await sleep(5);
    const [outcome] = await exec(stub, ANON, { op: "setData", path: "/p/n", data: bytes("abc") });
    if (!outcome?.ok) throw new Error("setData failed");
    const after = (outcome.value as { stat: Stat }).stat;
    expect(changed(before, after)).toEqual(["dataLength", "mtime", "mzxid", "version"]);
    expect(after.version).toBe(before.version + 1);
    expect(after.mzxid).toBe(outcome.zxid);
    expect(after.mtime).toBeGreaterThan(before.mtime);
    expect(after.dataLength).toBe(3);
    expect(await statOf(stub, "/p/n")).toEqual(after);
    expect(await statOf(stub, "/p")).toEqual(parentBefore);
  });

  it("setData with the same bytes still counts a version", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    for (let i = 1; i <= 3; i++) {
      expect((await ok(stub, ANON, { op: "setData", path: "/n", data: new Uint8Array() })).stat.version).toBe(i);
    }
  });

  it("a child create: the parent's cversion +1, numChildren +1, pzxid; not its mzxid or version", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p");
    const before = await statOf(stub, "/p");
    const [outcome] = await exec(stub, ANON, { op: "create", path: "/p/c" });
    const after = await statOf(stub, "/p");
    expect(changed(before, after)).toEqual(["cversion", "numChildren", "pzxid"]);
    expect(after).toMatchObject({ cversion: 1, numChildren: 1, pzxid: outcome?.zxid });
  });

  it("a child delete: the parent's pzxid and numChildren; cversion as ZooKeeper reports it (+1)", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p", "/p/c", "/p/d");
    const before = await statOf(stub, "/p");
    expect(before).toMatchObject({ cversion: 2, numChildren: 2 });
    const [outcome] = await exec(stub, ANON, { op: "delete", path: "/p/c" });
    const after = await statOf(stub, "/p");
    expect(changed(before, after)).toEqual(["cversion", "numChildren", "pzxid"]);
    // copyStat: 2 x creates - numChildren = 2 x 2 - 1.
    expect(after).toMatchObject({ cversion: 3, numChildren: 1, pzxid: outcome?.zxid });
    await ok(stub, ANON, { op: "delete", path: "/p/d" });
    expect(await statOf(stub, "/p")).toMatchObject({ cversion: 4, numChildren: 0 });
    // The sequence suffix still counts creates only.
    expect((await ok(stub, ANON, { op: "create", path: "/p/s", mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/p/s0000000002");
  });

  it("a grandchild's changes leave the grandparent alone", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/g", "/g/p");
    const before = await statOf(stub, "/g");
    await createAll(stub, ANON, "/g/p/c");
    await ok(stub, ANON, { op: "setData", path: "/g/p/c", data: bytes("x") });
    await ok(stub, ANON, { op: "delete", path: "/g/p/c" });
    expect(await statOf(stub, "/g")).toEqual(before);
  });

  it("setACL: aversion +1 only (not mzxid, mtime or version)", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    const before = await statOf(stub, "/n");
    const [outcome] = await exec(stub, ANON, { op: "setACL", path: "/n", acl: [...OPEN_ACL_UNSAFE] });
    expect(outcome?.ok).toBe(true);
    expect(outcome!.zxid).toBeGreaterThan(before.czxid);
    const after = await statOf(stub, "/n");
    expect(changed(before, after)).toEqual(["aversion"]);
    expect(after.aversion).toBe(1);
  });

  it("reads and a passing check move nothing", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n", "/n/c");
    const before = await statOf(stub, "/n");
    const zxid = await lastZxid(stub);
    await exec(
      stub,
      ANON,
      { op: "getData", path: "/n" },
      { op: "getChildren", path: "/n" },
      { op: "getACL", path: "/n" },
      { op: "getAllChildrenNumber", path: "/n" },
      { op: "check", path: "/n", version: 0 },
    );
    expect(await statOf(stub, "/n")).toEqual(before);
    expect(await lastZxid(stub)).toBe(zxid);
    // A multi of checks is a write (it takes a zxid, as in ZooKeeper) but changes no node.
    await ok(stub, ANON, { op: "multi", ops: [{ op: "check", path: "/n", version: 0 }] });
    expect(await statOf(stub, "/n")).toEqual(before);
  });

  it("ephemeralOwner is the session for EPHEMERAL nodes only", async () => {
    const { stub } = newShard();
    await ok(stub, S1, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "create", path: "/p", mode: "PERSISTENT" });
    await ok(stub, S1, { op: "create", path: "/c", mode: "CONTAINER" });
    await ok(stub, S1, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 10_000 });
    expect((await statOf(stub, "/e")).ephemeralOwner).toBe(S1.sessionId);
    for (const path of ["/p", "/c", "/t"]) expect((await statOf(stub, path)).ephemeralOwner).toBe(0);
  });
});

describe("zxids", () => {
  it("increase by one per committed write, in epoch 1; failures take none", async () => {
    const { stub } = newShard();
    const start = await lastZxid(stub);
    expect(zxidEpoch(start)).toBe(1);
    const outcomes = await exec(
      stub,
      ANON,
      { op: "create", path: "/a" },
      { op: "create", path: "/a" }, // NodeExists
      { op: "setData", path: "/a", data: bytes("1") },
      { op: "setData", path: "/a", data: bytes("2"), version: 7 }, // BadVersion
      { op: "create", path: "/a/b" },
      { op: "setACL", path: "/a", acl: [...OPEN_ACL_UNSAFE] },
      { op: "delete", path: "/a/b" },
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, false, true, true, true]);
    const committed = outcomes.filter((o) => o.ok).map((o) => o.zxid);
    expect(committed.map(zxidCounter)).toEqual([1, 2, 3, 4, 5].map((i) => zxidCounter(start) + i));
    expect(committed.every((z) => zxidEpoch(z) === 1)).toBe(true);
    // A failure answers with the last committed zxid.
    expect(outcomes[1]!.zxid).toBe(committed[0]);
    expect(outcomes[3]!.zxid).toBe(committed[1]);
    expect(await lastZxid(stub)).toBe(committed[4]);
  });

  it("one multi takes one zxid for all its ops", async () => {
    const { stub } = newShard();
    const start = await lastZxid(stub);
    const [outcome] = await exec(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/m" },
        { op: "create", path: "/m/a" },
        { op: "setData", path: "/m/a", data: bytes("x") },
        { op: "create", path: "/m/b" },
      ],
    });
    expect(outcome?.ok).toBe(true);
    expect(outcome!.zxid).toBe(start + 1);
    const m = await statOf(stub, "/m");
    const a = await statOf(stub, "/m/a");
    expect(m).toMatchObject({ czxid: start + 1, pzxid: start + 1, cversion: 2, numChildren: 2 });
    expect(a).toMatchObject({ czxid: start + 1, mzxid: start + 1, version: 1 });
    expect(await lastZxid(stub)).toBe(start + 1);
  });

  it("every answer carries the last committed zxid, reads included", async () => {
    const { stub } = newShard();
    const created = await run(stub, ANON, { op: "create", path: "/a" });
    const read = await run(stub, ANON, { op: "getData", path: "/a" });
    const missing = await run(stub, ANON, { op: "getData", path: "/nope" });
    expect(read.zxid).toBe(created.zxid);
    expect(missing.zxid).toBe(created.zxid);
  });
});
