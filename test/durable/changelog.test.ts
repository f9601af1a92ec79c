/**
 * The change log: changesSince(zxid) lists each committed write's events in
 * commit order, the one source for watches, resume and replicas.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OPEN_ACL_UNSAFE } from "../../protocol/index.ts";
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
