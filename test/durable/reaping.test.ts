/**
 * The shard's alarm reaps TTL nodes (after their TTL since their last change,
 * never while they have children) and containers (once emptied after having had
 * a child). Real alarms, real waits; EDGEKEEPER_CONTAINER_REAP_MS is 50 in tests.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ANON, bytes, createAll, exists, newShard, ok, session, sleep, type ShardStub } from "../harness/shard.ts";

/** Waits `ms`, then runs the object's alarm if one is still pending. */
async function afterReap(stub: ShardStub, ms: number): Promise<void> {
  await sleep(ms);
  await runDurableObjectAlarm(stub);
}

describe("TTL nodes", () => {
  it("are reaped once their TTL has passed, and not before", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 300 });
    await ok(stub, ANON, { op: "create", path: "/s-", mode: "PERSISTENT_SEQUENTIAL_WITH_TTL", ttlMs: 300 });
    await createAll(stub, ANON, "/plain");
    // Running the alarm early reaps nothing.
    await runDurableObjectAlarm(stub);
    expect(await exists(stub, "/t")).toBe(true);
    expect(await exists(stub, "/s-0000000001")).toBe(true);
    await afterReap(stub, 450);
    expect(await exists(stub, "/t")).toBe(false);
    expect(await exists(stub, "/s-0000000001")).toBe(false);
    expect(await exists(stub, "/plain")).toBe(true);
  });

  it("count the TTL from the last setData", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 400 });
    await sleep(250);
    await ok(stub, ANON, { op: "setData", path: "/t", data: bytes("touch") });
    await afterReap(stub, 250); // 500 ms after the create, 250 after the write
    expect(await exists(stub, "/t")).toBe(true);
    await afterReap(stub, 300);
    expect(await exists(stub, "/t")).toBe(false);
  });

  it("are kept while they have children, and reaped once the last child goes", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 100 });
    await createAll(stub, ANON, "/t/child");
    await afterReap(stub, 250);
    expect(await exists(stub, "/t")).toBe(true);
    expect(await exists(stub, "/t/child")).toBe(true);
    // A child's changes do not count as the TTL node's: its TTL has long passed.
    await ok(stub, ANON, { op: "delete", path: "/t/child" });
    await afterReap(stub, 50);
    expect(await exists(stub, "/t")).toBe(false);
  });

  it("are reaped by the alarm alone, without a test runner's nudge", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 50 });
    const deadline = Date.now() + 5_000;
    while ((await exists(stub, "/t")) && Date.now() < deadline) await sleep(50);
    expect(await exists(stub, "/t")).toBe(false);
  });
});

describe("containers", () => {
  it("are reaped once emptied after having had a child", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/c", mode: "CONTAINER" });
    await createAll(stub, ANON, "/c/a", "/c/b");
    await ok(stub, ANON, { op: "delete", path: "/c/a" });
    await afterReap(stub, 100);
    expect(await exists(stub, "/c")).toBe(true); // still has /c/b
    await ok(stub, ANON, { op: "delete", path: "/c/b" });
    await afterReap(stub, 100);
    expect(await exists(stub, "/c")).toBe(false);
  });

  it("are reaped when their last child is an ephemeral whose session closes", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/lock", mode: "CONTAINER" });
    await ok(stub, session(77), { op: "create", path: "/lock/n-", mode: "EPHEMERAL_SEQUENTIAL" });
    await stub.closeSession("/", 77);
    await afterReap(stub, 100);
    expect(await exists(stub, "/lock")).toBe(false);
  });

  it("that were never used are kept", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/unused", mode: "CONTAINER" });
    await ok(stub, ANON, { op: "create", path: "/used", mode: "CONTAINER" });
    await createAll(stub, ANON, "/used/x");
    await ok(stub, ANON, { op: "delete", path: "/used/x" });
    await afterReap(stub, 150);
    expect(await exists(stub, "/used")).toBe(false);
    expect(await exists(stub, "/unused")).toBe(true);
  });

  it("that gain a new child before the reaper runs are kept", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/c", mode: "CONTAINER" });
    await ok(stub, ANON, {
      op: "multi",
      ops: [
        { op: "create", path: "/c/a" },
        { op: "delete", path: "/c/a" },
        { op: "create", path: "/c/b" },
      ],
    });
    await afterReap(stub, 150);
    expect(await exists(stub, "/c")).toBe(true);
    expect(await exists(stub, "/c/b")).toBe(true);
  });

  it("cascade: a TTL child reaped empties its container, which goes too", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/c", mode: "CONTAINER" });
    await ok(stub, ANON, { op: "create", path: "/c/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 100 });
    await afterReap(stub, 250);
    expect(await exists(stub, "/c/t")).toBe(false);
    await afterReap(stub, 100);
    expect(await exists(stub, "/c")).toBe(false);
  });

  it("are never reaped while they have a child, however long", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/c", mode: "CONTAINER" });
    await createAll(stub, ANON, "/c/x", "/c/y");
    await ok(stub, ANON, { op: "delete", path: "/c/x" });
    await afterReap(stub, 200);
    await afterReap(stub, 100);
    expect(await exists(stub, "/c/y")).toBe(true);
  });
});
