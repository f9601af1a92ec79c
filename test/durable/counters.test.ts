/**
 * A shard's counters (nodes, ephemerals, data size, last zxid), which monitoring
 * reads instead of scanning the tree: every way a node comes or goes moves them in
 * the write's transaction, and a failed write moves nothing.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { initializeCounters } from "../../durable/base/row-counters.ts";
import { ZNODE_COUNTERS, migrateShardSchema } from "../../durable/shard/schema.ts";
import type { ShardDO } from "../../durable/shard/shard-do.ts";
import { makeZxid } from "../../protocol/index.ts";
import { ANON, bytes, exec, newShard, ok, session } from "../harness/shard.ts";

/** What a new tree holds: /, /zookeeper, /zookeeper/config, /zookeeper/quota (paths 1+10+17+16 chars, no data). */
const FRESH = { nodes: 4, ephemerals: 0, dataBytes: 44 };

describe("shard counters", () => {
  it("a new shard counts ZooKeeper's system nodes, before any write", async () => {
    const { stub } = newShard();
    expect(await stub.stats("/")).toEqual({ ...FRESH, lastZxid: makeZxid(1, 0) });
  });

  it("creates, sets, deletes and session closes move nodes, ephemerals and data size", async () => {
    const { stub } = newShard();
    const s = session(0x4200000001);
    await ok(stub, ANON, { op: "create", path: "/app", data: bytes("hello") }); // 4 + 5
    await ok(stub, s, { op: "create", path: "/app/e1", mode: "EPHEMERAL", data: bytes("x") }); // 7 + 1
    await ok(stub, s, { op: "create", path: "/app/e2", mode: "EPHEMERAL" }); // 7
    await ok(stub, ANON, { op: "setData", path: "/app", data: bytes("hi") }); // 5 -> 2
    expect(await stub.stats("/")).toMatchObject({ nodes: 7, ephemerals: 2, dataBytes: 44 + 4 + 2 + 8 + 7 });

    await ok(stub, s, { op: "delete", path: "/app/e1" });
    await stub.closeSession("/", s.sessionId);
    const after = await stub.stats("/");
    expect(after).toMatchObject({ nodes: 5, ephemerals: 0, dataBytes: 44 + 4 + 2 });
    const [read] = await exec(stub, ANON, { op: "exists", path: "/" });
    expect(after.lastZxid).toBe(read?.zxid);
  });

  it("a failed multi moves nothing", async () => {
    const { stub } = newShard();
    const [outcome] = await exec(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/a", data: bytes("abc") },
        { op: "create", path: "/missing/b" },
      ],
    });
    expect(outcome?.ok).toBe(false);
    expect(await stub.stats("/")).toEqual({ ...FRESH, lastZxid: makeZxid(1, 0) });
  });

  it("a tree made before the counters is summed once when they are set up, then kept by its writes", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/old", data: bytes("abc") });
    const counted = await stub.stats("/");
    await runInDurableObject(stub, async (_shard: ShardDO, state) => {
      // As a shard written by a version without counters: no counter rows.
      state.storage.sql.exec("DELETE FROM meta WHERE key IN ('node_count', 'ephemeral_count', 'data_bytes')");
      initializeCounters(state.storage.sql, "znodes", ZNODE_COUNTERS);
    });
    expect(await stub.stats("/")).toEqual(counted);
    await ok(stub, ANON, { op: "delete", path: "/old" });
    expect(await stub.stats("/")).toMatchObject({ nodes: FRESH.nodes, dataBytes: FRESH.dataBytes });
  });

  it("a shard upgraded from the earlier triggers counts each change once", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/up", data: bytes("abc") }); // 3 + 3
    await runInDurableObject(stub, async (_shard: ShardDO, state) => {
      // As a shard started by an earlier version: its triggers under their old names.
      for (const [event, sign] of [["insert", "+"], ["delete", "-"]]) {
        state.storage.sql.exec(`CREATE TRIGGER znodes_counted_${event} AFTER ${event} ON znodes BEGIN UPDATE meta SET value = value ${sign} 1 WHERE key = 'node_count'; END`);
      }
      migrateShardSchema(state.storage.sql);
    });
    await ok(stub, ANON, { op: "create", path: "/up/child", data: bytes("xy") }); // 9 + 2
    await ok(stub, ANON, { op: "setData", path: "/up", data: bytes("abcd") }); // 3 -> 4
    expect(await stub.stats("/")).toMatchObject({ nodes: FRESH.nodes + 2, dataBytes: FRESH.dataBytes + 3 + 4 + 9 + 2 });
    await ok(stub, ANON, { op: "delete", path: "/up/child" });
    expect(await stub.stats("/")).toMatchObject({ nodes: FRESH.nodes + 1, dataBytes: FRESH.dataBytes + 3 + 4 });
  });
});
