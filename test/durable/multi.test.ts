/**
 * multi: all or nothing, in order, with ZooKeeper's per-op results; check ops;
 * multiRead with independent per-op results.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type MultiItemResult, type MultiWriteOp, type Stat } from "../../protocol/index.ts";
import { ANON, bytes, codes, createAll, digestCaller, exists, lastZxid, newShard, ok, run, session, statOf, text } from "../harness/shard.ts";

describe("a multi that succeeds", () => {
  it("applies its ops in order: later ops see earlier ones", async () => {
    const { stub } = newShard();
    const { results } = await ok(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/a", data: bytes("a") },
        { op: "create", path: "/a/b" },
        { op: "setData", path: "/a/b", data: bytes("b1"), version: 0 },
        { op: "check", path: "/a/b", version: 1 },
        { op: "create", path: "/a/s-", mode: "PERSISTENT_SEQUENTIAL" },
        { op: "create", path: "/a/s-", mode: "PERSISTENT_SEQUENTIAL" },
        { op: "delete", path: "/a/s-0000000001" },
      ],
    });
    expect(results.map((r) => r.op)).toEqual(["create", "create", "setData", "check", "create", "create", "delete"]);
    const [a, b, set, , s0, s1] = results as [
      MultiItemResult & { path: string; stat: Stat },
      MultiItemResult & { path: string; stat: Stat },
      MultiItemResult & { stat: Stat },
      MultiItemResult,
      MultiItemResult & { path: string },
      MultiItemResult & { path: string },
    ];
    expect(a.path).toBe("/a");
    expect(b.path).toBe("/a/b");
    expect(set.stat.version).toBe(1);
    expect(s0.path).toBe("/a/s-0000000001");
    expect(s1.path).toBe("/a/s-0000000002");
    expect(text((await ok(stub, ANON, { op: "getData", path: "/a/b" })).data)).toBe("b1");
    expect([...(await ok(stub, ANON, { op: "getChildren", path: "/a" })).children].sort()).toEqual(["b", "s-0000000002"]);
  });

  it("can delete and re-create the same path", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/x", data: bytes("old") });
    await ok(stub, ANON, {
      op: "multi",
      ops: [
        { op: "delete", path: "/x", version: 0 },
        { op: "create", path: "/x", data: bytes("new") },
      ],
    });
    expect(text((await ok(stub, ANON, { op: "getData", path: "/x" })).data)).toBe("new");
  });

  it("an empty multi succeeds with no results and no zxid", async () => {
    const { stub } = newShard();
    const before = await lastZxid(stub);
    expect((await ok(stub, ANON, { op: "multi", ops: [] })).results).toEqual([]);
    expect(await lastZxid(stub)).toBe(before);
  });
});

describe("a multi that fails", () => {
  it("applies nothing, and reports 0 before the failing op, its error, then RuntimeInconsistency", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/keep");
    await ok(stub, ANON, { op: "setData", path: "/keep", data: bytes("v1") });
    const keepBefore = await statOf(stub, "/keep");
    const rootBefore = await statOf(stub, "/");
    const zxidBefore = await lastZxid(stub);

    const outcome = await run(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/new" },
        { op: "setData", path: "/keep", data: bytes("v2") },
        { op: "delete", path: "/keep/missing" },
        { op: "create", path: "/new2" },
        { op: "check", path: "/keep", version: 0 },
      ],
    });
    if (outcome.ok) throw new Error("the multi should fail");
    expect(outcome.error.name).toBe("NoNode");
    expect(outcome.error.code).toBe(-101);
    expect(codes(outcome.results)).toEqual([0, 0, -101, -2, -2]);
    expect(outcome.zxid).toBe(zxidBefore);

    expect(await exists(stub, "/new")).toBe(false);
    expect(await exists(stub, "/new2")).toBe(false);
    expect(text((await ok(stub, ANON, { op: "getData", path: "/keep" })).data)).toBe("v1");
    expect(await statOf(stub, "/keep")).toEqual(keepBefore);
    expect(await statOf(stub, "/")).toEqual(rootBefore);
    expect(await lastZxid(stub)).toBe(zxidBefore);
  });

  it("rolls back the sequence counter too", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/q");
    const failed = await run(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" },
        { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" },
        { op: "create", path: "/nope/x" },
      ],
    });
    expect(failed.ok).toBe(false);
    expect((await ok(stub, ANON, { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/q/n-0000000000");
  });

  const failing: [string, MultiWriteOp[], number[], string][] = [
    ["a check with a stale version", [{ op: "create", path: "/a" }, { op: "check", path: "/base", version: 3 }], [0, -103], "BadVersion"],
    ["a check of a missing node", [{ op: "check", path: "/none" }, { op: "create", path: "/a" }], [-101, -2], "NoNode"],
    ["a duplicate create", [{ op: "create", path: "/a" }, { op: "create", path: "/a" }, { op: "create", path: "/b" }], [0, -110, -2], "NodeExists"],
    ["a delete of a node an earlier op filled", [{ op: "create", path: "/base/c" }, { op: "delete", path: "/base" }], [0, -111], "NotEmpty"],
    ["a stale setData version", [{ op: "setData", path: "/base", data: bytes("x"), version: 0 }, { op: "setData", path: "/base", data: bytes("y"), version: 0 }], [0, -103], "BadVersion"],
    ["a bad path", [{ op: "create", path: "/a" }, { op: "create", path: "/a/" }], [0, -8], "BadArguments"],
    ["a child of an ephemeral", [{ op: "create", path: "/e", mode: "EPHEMERAL" }, { op: "create", path: "/e/c" }], [0, -108], "NoChildrenForEphemerals"],
  ];

  it.each(failing)("fails on %s with per-op codes", async (_, ops, expected, name) => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/base");
    const before = await statOf(stub, "/base");
    const outcome = await run(stub, session(9), { op: "multi", ops });
    if (outcome.ok) throw new Error("the multi should fail");
    expect(outcome.error.name).toBe(name);
    expect(codes(outcome.results)).toEqual(expected);
    for (const path of ["/a", "/b", "/e", "/base/c"]) expect(await exists(stub, path)).toBe(false);
    expect(await statOf(stub, "/base")).toEqual(before);
  });

  it("fails on NoAuth in the middle", async () => {
    const { stub } = newShard();
    const alice = await digestCaller("alice:pw");
    await ok(stub, alice, { op: "create", path: "/locked", acl: [{ perms: 31, scheme: "auth", id: "" }] });
    const outcome = await run(stub, ANON, {
      op: "multi",
      ops: [{ op: "create", path: "/a" }, { op: "setData", path: "/locked", data: bytes("x") }, { op: "create", path: "/b" }],
    });
    expect(outcome.ok).toBe(false);
    expect(codes(outcome.ok ? [] : outcome.results)).toEqual([0, -102, -2]);
    expect(await exists(stub, "/a")).toBe(false);
  });

  it("refuses more than maxMultiOps ops with BadArguments", async () => {
    const { stub } = newShard();
    const ops: MultiWriteOp[] = Array.from({ length: DEFAULT_LIMITS.maxMultiOps + 1 }, (_, i) => ({ op: "create", path: `/n${i}` }));
    const outcome = await run(stub, ANON, { op: "multi", ops });
    expect(outcome.ok ? "ok" : outcome.error.name).toBe("BadArguments");
    expect(await exists(stub, "/n0")).toBe(false);
  });
});

describe("multiRead", () => {
  it("answers each op on its own: a failing op does not fail the others", async () => {
    const { stub } = newShard();
    const alice = await digestCaller("alice:pw");
    await ok(stub, ANON, { op: "create", path: "/a", data: bytes("A") });
    await createAll(stub, ANON, "/a/x", "/a/y");
    await ok(stub, alice, { op: "create", path: "/secret", data: bytes("s"), acl: [{ perms: 31, scheme: "auth", id: "" }] });
    const { results } = await ok(stub, ANON, {
      op: "multiRead",
      ops: [
        { op: "getData", path: "/a" },
        { op: "getData", path: "/missing" },
        { op: "getChildren", path: "/a" },
        { op: "getData", path: "/secret" },
        { op: "getChildren", path: "/missing" },
      ],
    });
    expect(results.map((r) => (r.op === "error" ? r.error.name : r.op))).toEqual(["getData", "NoNode", "getChildren", "NoAuth", "NoNode"]);
    const [data, , children] = results as [MultiItemResult & { data: Uint8Array; stat: Stat }, unknown, MultiItemResult & { children: string[] }];
    expect(text(data.data)).toBe("A");
    expect(data.stat.numChildren).toBe(2);
    expect([...children.children].sort()).toEqual(["x", "y"]);
  });

  it("writes nothing", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a");
    const before = await lastZxid(stub);
    await ok(stub, ANON, { op: "multiRead", ops: [{ op: "getData", path: "/a" }] });
    expect(await lastZxid(stub)).toBe(before);
  });
});
