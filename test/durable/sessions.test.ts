/**
 * What a shard does for sessions: (sessionId, cxid) makes a retried write apply
 * once with the same reply, and closeSession deletes exactly that session's
 * ephemerals, once.
 */
import { describe, expect, it } from "vitest";
import { type ShardRequest } from "../../protocol/index.ts";
import { rowsOf } from "../harness/replica.ts";
import { ANON, bytes, createAll, exec, exists, fails, lastZxid, newShard, ok, run, session, statOf, text } from "../harness/shard.ts";

const S1 = session(0x1_0000_0001);
const S2 = session(0x1_0000_0002);

const withCxid = <R extends ShardRequest>(request: R, cxid: number): R => ({ ...request, cxid });

describe("a retried write (same sessionId and cxid)", () => {
  it("applies once and returns the same reply", async () => {
    const { stub } = newShard();
    const request = withCxid({ op: "create", path: "/a", data: bytes("v") }, 1);
    const first = await run(stub, S1, request);
    expect(first.ok).toBe(true);
    const zxid = await lastZxid(stub);
    const retry = await run(stub, S1, request);
    // Not NodeExists: the original reply, zxid and all.
    expect(retry).toEqual(first);
    expect(await lastZxid(stub)).toBe(zxid);
  });

  it("a sequential create retried names no second node", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/q");
    const request = withCxid({ op: "create", path: "/q/n-", mode: "EPHEMERAL_SEQUENTIAL" }, 9);
    const first = await ok(stub, S1, request);
    const again = await ok(stub, S1, request);
    expect(again.path).toBe(first.path);
    expect((await ok(stub, ANON, { op: "getChildren", path: "/q" })).children).toEqual(["n-0000000000"]);
  });

  it("a setData retried bumps the version once", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    const request = withCxid({ op: "setData", path: "/n", data: bytes("x"), version: 0 }, 3);
    const first = await run(stub, S1, request);
    const again = await run(stub, S1, request);
    expect(again).toEqual(first);
    expect((await statOf(stub, "/n")).version).toBe(1);
  });

  it("a failed write retried returns the same failure, even if it would now succeed", async () => {
    const { stub } = newShard();
    const request = withCxid({ op: "create", path: "/x/y" }, 4);
    const first = await run(stub, S1, request);
    expect(first.ok ? "ok" : first.error.name).toBe("NoNode");
    await createAll(stub, ANON, "/x");
    const again = await run(stub, S1, request);
    expect(again.ok ? "ok" : again.error.name).toBe("NoNode");
    expect(await exists(stub, "/x/y")).toBe(false);
  });

  it("a multi retried applies once", async () => {
    const { stub } = newShard();
    const request = withCxid({ op: "multi", ops: [{ op: "create", path: "/m" }, { op: "create", path: "/m/s-", mode: "PERSISTENT_SEQUENTIAL" }] }, 5);
    const first = await run(stub, S1, request);
    const again = await run(stub, S1, request);
    expect(again).toEqual(first);
    expect((await statOf(stub, "/m")).numChildren).toBe(1);
  });

  it("a pipelined batch retried as a whole applies each write once", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/q");
    const batch = [
      withCxid({ op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" }, 10),
      withCxid({ op: "setData", path: "/q", data: bytes("x") }, 11),
      withCxid({ op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" }, 12),
    ];
    const first = await exec(stub, S1, ...batch);
    const zxid = await lastZxid(stub);
    // The reply to the whole batch was lost: the session sends it again.
    expect(await exec(stub, S1, ...batch)).toEqual(first);
    expect(await lastZxid(stub)).toBe(zxid);
    expect([...(await ok(stub, ANON, { op: "getChildren", path: "/q" })).children].sort()).toEqual(["n-0000000000", "n-0000000001"]);
    expect((await statOf(stub, "/q")).version).toBe(1);
  });

  it("a new cxid applies anew; other sessions' cxids are their own", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    await ok(stub, S1, withCxid({ op: "setData", path: "/n", data: bytes("1") }, 1));
    await ok(stub, S1, withCxid({ op: "setData", path: "/n", data: bytes("2") }, 2));
    await ok(stub, S2, withCxid({ op: "setData", path: "/n", data: bytes("3") }, 2));
    const { data, stat } = await ok(stub, ANON, { op: "getData", path: "/n" });
    expect(text(data)).toBe("3");
    expect(stat.version).toBe(3);
  });

  it("reads are never answered from the stored reply", async () => {
    const { stub } = newShard();
    await ok(stub, S1, withCxid({ op: "create", path: "/n", data: bytes("a") }, 1));
    await ok(stub, ANON, { op: "setData", path: "/n", data: bytes("b") });
    expect(text((await ok(stub, S1, withCxid({ op: "getData", path: "/n" }, 1))).data)).toBe("b");
  });

  it("sessionless callers are not deduplicated", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, withCxid({ op: "create", path: "/a" }, 1));
    const again = await run(stub, ANON, withCxid({ op: "create", path: "/a" }, 1));
    expect(again.ok ? "ok" : again.error.name).toBe("NodeExists");
  });
});

describe("a session's stored replies", () => {
  it("keep its last 1024 cxids, and no more than a prune's step beyond them, however many it writes", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    const writes = 1200;
    for (let from = 1; from <= writes; from += 100) {
      const batch = Array.from({ length: 100 }, (_, i) => withCxid({ op: "setData", path: "/n", data: bytes(String(from + i)) }, from + i));
      expect((await exec(stub, S1, ...batch)).every((outcome) => outcome.ok)).toBe(true);
    }
    // The oldest cxid of the window is still answered from its stored reply: nothing applies again.
    const oldestKept = writes - 1023;
    const retry = await run(stub, S1, withCxid({ op: "setData", path: "/n", data: bytes("again") }, oldestKept));
    expect(retry.ok && (retry.value as { stat: { version: number } }).stat.version).toBe(oldestKept);
    expect((await statOf(stub, "/n")).version).toBe(writes);
    const [{ n }] = (await rowsOf(stub, `SELECT count(*) AS n FROM write_replies WHERE session_id = ${S1.sessionId}`)) as [{ n: number }];
    expect(n).toBeGreaterThanOrEqual(1024);
    expect(n).toBeLessThanOrEqual(1024 + 64);
  });
});

describe("closeSession", () => {
  it("deletes exactly that session's ephemerals, in one zxid", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/app", "/app/locks");
    await ok(stub, S1, { op: "create", path: "/app/e1", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "create", path: "/app/locks/n-", mode: "EPHEMERAL_SEQUENTIAL" });
    await ok(stub, S1, { op: "create", path: "/app/mine", mode: "PERSISTENT" });
    await ok(stub, S2, { op: "create", path: "/app/e2", mode: "EPHEMERAL" });
    await ok(stub, S2, { op: "create", path: "/app/locks/n-", mode: "EPHEMERAL_SEQUENTIAL" });
    const before = await lastZxid(stub);

    const closed = await stub.closeSession("/", S1.sessionId);
    expect(closed.ok).toBe(true);
    if (!closed.ok) return;
    expect([...closed.value.deleted].sort()).toEqual(["/app/e1", "/app/locks/n-0000000000"]);
    expect(closed.zxid).toBe(before + 1);

    expect([...(await ok(stub, ANON, { op: "getChildren", path: "/app" })).children].sort()).toEqual(["e2", "locks", "mine"]);
    expect((await ok(stub, ANON, { op: "getChildren", path: "/app/locks" })).children).toEqual(["n-0000000001"]);
    expect((await ok(stub, S1, { op: "getEphemerals", prefix: "/" })).paths).toEqual([]);
    expect([...(await ok(stub, S2, { op: "getEphemerals", prefix: "/" })).paths].sort()).toEqual(["/app/e2", "/app/locks/n-0000000001"]);
    expect(await statOf(stub, "/app")).toMatchObject({ numChildren: 3, pzxid: before + 1 });
  });

  it("a second close is a no-op: nothing deleted, no zxid taken", async () => {
    const { stub } = newShard();
    await ok(stub, S1, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await stub.closeSession("/", S1.sessionId);
    const zxid = await lastZxid(stub);
    // Someone else's node at the same path is not the session's to delete.
    await ok(stub, S2, { op: "create", path: "/e", mode: "EPHEMERAL" });
    const again = await stub.closeSession("/", S1.sessionId);
    expect(again.ok && again.value.deleted).toEqual([]);
    expect(await exists(stub, "/e")).toBe(true);
    expect(await lastZxid(stub)).toBe(zxid + 1);
  });

  it("for a session with no ephemerals logs its closure only, once", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p");
    const zxid = await lastZxid(stub);
    const closed = await stub.closeSession("/", 0xdead);
    expect(closed.ok && closed.value.deleted).toEqual([]);
    expect(await lastZxid(stub)).toBe(zxid + 1);
    await stub.closeSession("/", 0xdead);
    expect(await lastZxid(stub)).toBe(zxid + 1);
    expect(await exists(stub, "/p")).toBe(true);
  });

  it("refuses the closed session's ephemeral creates still in flight, so none outlives it", async () => {
    const { stub } = newShard();
    await stub.closeSession("/", S1.sessionId);
    expect(await fails(stub, S1, { op: "create", path: "/late", mode: "EPHEMERAL" })).toBe("SessionExpired");
    const multi = await run(stub, S1, { op: "multi", ops: [{ op: "create", path: "/late", mode: "EPHEMERAL_SEQUENTIAL" }] });
    expect(multi.ok ? "ok" : multi.error.name).toBe("SessionExpired");
    expect(await exists(stub, "/late")).toBe(false);
    // Other sessions are unaffected.
    await ok(stub, S2, { op: "create", path: "/late", mode: "EPHEMERAL" });
  });

  it("leaves ephemerals that were already deleted alone", async () => {
    const { stub } = newShard();
    await ok(stub, S1, { op: "create", path: "/a", mode: "EPHEMERAL" });
    await ok(stub, S1, { op: "create", path: "/b", mode: "EPHEMERAL" });
    await ok(stub, ANON, { op: "delete", path: "/a" });
    const closed = await stub.closeSession("/", S1.sessionId);
    expect(closed.ok && closed.value.deleted).toEqual(["/b"]);
  });
});
