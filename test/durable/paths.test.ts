/**
 * ZooKeeper's path rules (PathUtils.validatePath), the reserved /zookeeper
 * subtree, and our explicit length and depth limits.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, Perms } from "../../protocol/index.ts";
import { ANON, createAll, exec, exists, fails, newShard, ok, session, statOf, text } from "../harness/shard.ts";

const BAD_NAMES: [string, string][] = [
  ["trailing slash", "/a/"],
  ["empty component", "/a//b"],
  ["dot", "/a/."],
  ["dot-dot", "/a/.."],
  ["dot in the middle", "/a/./b"],
  ["dot-dot in the middle", "/a/../b"],
  ["NUL", "/a/x\u0000y"],
  ["control character", "/a/x\u0001"],
  ["unit separator", "/a/x\u001f"],
  ["DEL", "/a/x\u007f"],
  ["C1 control", "/a/x\u0085"],
  ["private use", "/a/x\ue000"],
  ["surrogate (non-BMP character)", "/a/x\u{1f600}"],
  ["specials range", "/a/x\ufff0"],
  ["noncharacter", "/a/x\uffff"],
];

describe("path validation", () => {
  it("refuses a relative path and an empty path with BadArguments", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "create", path: "a" })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "create", path: "" })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "getData", path: "a" })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "delete", path: "a" })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "setData", path: "a", data: new Uint8Array() })).toBe("BadArguments");
  });

  it.each(BAD_NAMES)("create refuses a path with a %s under an existing parent", async (_, bad) => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a");
    const name = await fails(stub, ANON, { op: "create", path: bad });
    // "/a//b" and "/a/../b" have a parent ("/a/", "/a/..") that cannot exist: ZooKeeper
    // looks the parent up first and answers NoNode.
    expect(name).toBe(bad === "/a//b" || bad === "/a/./b" || bad === "/a/../b" ? "NoNode" : "BadArguments");
    expect((await ok(stub, ANON, { op: "getChildren", path: "/a" })).children).toEqual([]);
  });

  it.each(BAD_NAMES)("reads and setData refuse a path with a %s", async (_, bad) => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a");
    expect(await fails(stub, ANON, { op: "getData", path: bad })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "exists", path: bad })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "getChildren", path: bad })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "setData", path: bad, data: new Uint8Array() })).toBe("BadArguments");
  });

  it("accepts names that only look unusual", async () => {
    const { stub } = newShard();
    for (const path of ["/.a", "/a.", "/...", "/a b", "/é", "/日本", "/x-y_z:1"]) {
      expect((await ok(stub, ANON, { op: "create", path })).path).toBe(path);
    }
  });

  it("answers NoNode for a bad path under a missing parent (the parent is checked first)", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "create", path: "/missing/x/" })).toBe("NoNode");
    expect(await fails(stub, ANON, { op: "create", path: "/missing/x\u0001" })).toBe("NoNode");
    expect(await fails(stub, ANON, { op: "create", path: "/missing/.." })).toBe("NoNode");
    // 100,000 levels deep: NoNode at once, nothing recurses over depth.
    expect(await fails(stub, ANON, { op: "create", path: "/d".repeat(100_000) })).toBe("NoNode");
  });

  it("create -s on '/parent/' names the child by the sequence alone", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/parent");
    const created = await ok(stub, ANON, { op: "create", path: "/parent/", mode: "PERSISTENT_SEQUENTIAL" });
    expect(created.path).toBe("/parent/0000000000");
  });

  it("enforces maxPathBytes, counting UTF-8 bytes and the sequence suffix", async () => {
    const { stub } = newShard();
    const max = DEFAULT_LIMITS.maxPathBytes;
    const longest = "/" + "x".repeat(max - 1);
    expect((await ok(stub, ANON, { op: "create", path: longest })).path).toBe(longest);
    expect(await fails(stub, ANON, { op: "create", path: longest + "y" })).toBe("BadArguments");
    // "é" is two bytes in UTF-8.
    expect(await fails(stub, ANON, { op: "create", path: "/" + "é".repeat(max / 2) })).toBe("BadArguments");
    // The suffix counts: a sequential create that would exceed the limit is refused.
    expect(await fails(stub, ANON, { op: "create", path: "/" + "s".repeat(max - 10), mode: "PERSISTENT_SEQUENTIAL" })).toBe("BadArguments");
    expect((await ok(stub, ANON, { op: "create", path: "/" + "s".repeat(max - 11), mode: "PERSISTENT_SEQUENTIAL" })).path).toHaveLength(max);
    expect(await exists(stub, "/" + "s".repeat(max - 10))).toBe(false);
  });

  it("enforces maxPathDepth", async () => {
    const { stub } = newShard();
    const depth = DEFAULT_LIMITS.maxPathDepth;
    const paths = Array.from({ length: depth }, (_, i) => "/d".repeat(i + 1));
    await createAll(stub, ANON, ...paths);
    expect(await exists(stub, "/d".repeat(depth))).toBe(true);
    expect(await fails(stub, ANON, { op: "create", path: "/d".repeat(depth + 1) })).toBe("BadArguments");
    expect(await fails(stub, ANON, { op: "getData", path: "/d".repeat(depth + 1) })).toBe("BadArguments");
  });
});

describe("the reserved /zookeeper subtree", () => {
  it("exists from the start with empty data, as ZooKeeper's does", async () => {
    const { stub } = newShard();
    for (const path of ["/zookeeper", "/zookeeper/config"]) {
      const { data, stat } = await ok(stub, ANON, { op: "getData", path });
      expect(text(data)).toBe("");
      expect(stat.dataLength).toBe(0);
      expect(stat.ephemeralOwner).toBe(0);
    }
    expect((await ok(stub, ANON, { op: "getChildren", path: "/" })).children).toEqual(["zookeeper"]);
    expect((await ok(stub, ANON, { op: "getChildren", path: "/zookeeper" })).children).toEqual(["config", "quota"]);
    expect((await statOf(stub, "/")).numChildren).toBe(1);
    expect((await statOf(stub, "/zookeeper")).numChildren).toBe(2);
  });

  it("/zookeeper/config is world-readable only (ZOOKEEPER-2014)", async () => {
    const { stub } = newShard();
    const { acl } = await ok(stub, ANON, { op: "getACL", path: "/zookeeper/config" });
    expect(acl).toEqual([{ perms: Perms.READ, scheme: "world", id: "anyone" }]);
  });

  it("refuses creates under /zookeeper, and leaves it unchanged", async () => {
    const { stub } = newShard();
    const before = await statOf(stub, "/zookeeper");
    expect(await fails(stub, ANON, { op: "create", path: "/zookeeper/mine" })).toBe("BadArguments");
    // /zookeeper/config grants only READ, so its ACL refuses first, as in ZooKeeper.
    expect(await fails(stub, ANON, { op: "create", path: "/zookeeper/config/x" })).toBe("NoAuth");
    expect(await fails(stub, ANON, { op: "create", path: "/zookeeper/s", mode: "PERSISTENT_SEQUENTIAL" })).toBe("BadArguments");
    expect(await fails(stub, session(7), { op: "create", path: "/zookeeper/e", mode: "EPHEMERAL" })).toBe("BadArguments");
    // Creating a node that already exists answers NodeExists, as in ZooKeeper.
    expect(await fails(stub, ANON, { op: "create", path: "/zookeeper" })).toBe("NodeExists");
    expect(await fails(stub, ANON, { op: "create", path: "/" })).toBe("NodeExists");
    expect(await statOf(stub, "/zookeeper")).toEqual(before);
  });

  it("refuses to delete /, /zookeeper and /zookeeper/config", async () => {
    const { stub } = newShard();
    for (const path of ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]) {
      expect(await fails(stub, ANON, { op: "delete", path })).toBe("BadArguments");
      expect(await exists(stub, path)).toBe(true);
    }
  });

  it("a multi touching /zookeeper fails as a whole", async () => {
    const { stub } = newShard();
    const [outcome] = await exec(stub, ANON, {
      op: "multi",
      ops: [{ op: "create", path: "/ok" }, { op: "create", path: "/zookeeper/no" }],
    });
    expect(outcome?.ok).toBe(false);
    expect(await exists(stub, "/ok")).toBe(false);
  });
});
