/**
 * An object restart loses nothing acknowledged: the tree, the zxid sequence,
 * sequence counters, the change log, stored replies and pending reaps all come
 * back from SQLite.
 */
import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type Stat } from "../../protocol/index.ts";
import { ANON, bytes, exists, lastZxid, newShard, ok, reconnect, run, session, sleep, statOf, text, type ShardStub } from "../harness/shard.ts";

const S1 = session(0x77);

/** Writes a little of everything and returns the Stats it expects to find again. */
async function populate(stub: ShardStub): Promise<Map<string, Stat>> {
  await ok(stub, ANON, { op: "create", path: "/app", data: bytes("root") });
  await ok(stub, ANON, { op: "setData", path: "/app", data: bytes("v2") });
  await ok(stub, ANON, { op: "create", path: "/app/q-", mode: "PERSISTENT_SEQUENTIAL" });
  await ok(stub, S1, { op: "create", path: "/app/e", mode: "EPHEMERAL" });
  await ok(stub, ANON, { op: "create", path: "/app/c", mode: "CONTAINER" });
  await ok(stub, ANON, { op: "create", path: "/app/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 3_600_000 });
  await ok(stub, ANON, { op: "multi", ops: [{ op: "create", path: "/app/m" }, { op: "create", path: "/app/m/x", data: bytes("mx") }] });
  await ok(stub, ANON, { op: "setACL", path: "/app/m", acl: [{ perms: 31, scheme: "world", id: "anyone" }] });
  const stats = new Map<string, Stat>();
  for (const path of ["/", "/app", "/app/q-0000000000", "/app/e", "/app/c", "/app/t", "/app/m", "/app/m/x"]) stats.set(path, await statOf(stub, path));
  return stats;
}

async function expectIntact(stub: ShardStub, stats: Map<string, Stat>): Promise<void> {
  for (const [path, stat] of stats) expect(await statOf(stub, path)).toEqual(stat);
  expect(text((await ok(stub, ANON, { op: "getData", path: "/app" })).data)).toBe("v2");
  expect(text((await ok(stub, ANON, { op: "getData", path: "/app/m/x" })).data)).toBe("mx");
  expect((await ok(stub, S1, { op: "getEphemerals", prefix: "/" })).paths).toEqual(["/app/e"]);
}

describe.each([
  ["an eviction", async (stub: ShardStub) => evictDurableObject(stub)],
  ["an abort", async () => abortAllDurableObjects()],
] as const)("after %s", (_, restart) => {
  it("the tree, Stats and data are as acknowledged", async () => {
    const { id, stub } = newShard();
    const stats = await populate(stub);
    await restart(stub);
    await expectIntact(reconnect(id), stats);
  });

  it("the zxid sequence and sequence counters continue", async () => {
    const { id, stub } = newShard();
    await populate(stub);
    const last = await lastZxid(stub);
    await restart(stub);
    const again = reconnect(id);
    expect(await lastZxid(again)).toBe(last);
    const next = await run(again, ANON, { op: "create", path: "/app/q-", mode: "PERSISTENT_SEQUENTIAL" });
    if (!next.ok) throw new Error(next.error.message);
    expect(next.zxid).toBe(last + 1);
    // /app has had five child creates (q-, e, c, t, m): the next suffix is 5.
    expect((next.value as { path: string }).path).toBe("/app/q-0000000005");
  });

  it("the change log is kept", async () => {
    const { id, stub } = newShard();
    const start = await lastZxid(stub);
    await populate(stub);
    const before = await stub.changesSince(start);
    await restart(stub);
    expect(await reconnect(id).changesSince(start)).toEqual(before);
  });

  it("a retried write after the restart still applies once", async () => {
    const { id, stub } = newShard();
    const request = { op: "create", path: "/once", mode: "PERSISTENT_SEQUENTIAL", cxid: 42 } as const;
    const first = await run(stub, S1, request);
    await restart(stub);
    const again = reconnect(id);
    expect(await run(again, S1, request)).toEqual(first);
    expect((await ok(again, ANON, { op: "getChildren", path: "/" })).children.filter((n) => n.startsWith("once"))).toHaveLength(1);
  });

  it("ephemerals stay until their session is closed, then go", async () => {
    const { id, stub } = newShard();
    await ok(stub, S1, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await restart(stub);
    const again = reconnect(id);
    expect(await exists(again, "/e")).toBe(true);
    const closed = await again.closeSession("/", S1.sessionId);
    expect(closed.ok && closed.value.deleted).toEqual(["/e"]);
    expect(await exists(again, "/e")).toBe(false);
  });

  it("a pending TTL reap still happens", async () => {
    const { id, stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 100 });
    await restart(stub);
    await sleep(200);
    const again = reconnect(id);
    await runDurableObjectAlarm(again);
    expect(await exists(again, "/t")).toBe(false);
  });
});
