/**
 * Watches at the shard, kept per session host: which reads leave one, which writes
 * fire which kinds (ZooKeeper's rules), one-shot versus persistent and recursive,
 * and the per-host outbox that carries notifications until the host acknowledges them.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type ShardRequest, type WatchNotification } from "../../protocol/index.ts";
import { ANON, type ShardStub, bytes, createAll, newShard, ok, reconnect } from "../harness/shard.ts";
import { WatchRegistry } from "../../durable/shard/watch-registry.ts";

// Hosts that take no pushes: what they are owed stays in the outbox until they ask.
const HOST_REF = { name: "ns/sessions-0", push: false };
const HOST = HOST_REF.name;
const OTHER_HOST = "ns/sessions-1";

/** A read (or anything) through a host, returning what the host is owed. */
async function viaHost(stub: ShardStub, host: string, ...requests: ShardRequest[]): Promise<{ outcomes: unknown[]; notifications: WatchNotification[] }> {
  return viaHostAcking(stub, host, 0, ...requests);
}

async function viaHostAcking(stub: ShardStub, host: string, ackSeq: number, ...requests: ShardRequest[]): Promise<{ outcomes: unknown[]; notifications: WatchNotification[] }> {
  return stub.hostExecute("/", { name: host, push: false }, ackSeq, ANON, requests) as Promise<{ outcomes: unknown[]; notifications: WatchNotification[] }>;
}

/** What the host is owed now, as [event, path]. */
async function owed(stub: ShardStub, host = HOST): Promise<[string, string][]> {
  const { notifications } = await viaHost(stub, host);
  return notifications.map((n) => [n.event, n.path]);
}

describe("one-shot watches", () => {
  it("a data watch fires once on setData", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/cfg");
    await viaHost(stub, HOST, { op: "getData", path: "/cfg", watch: true });
    expect(await stub.watchesOf(HOST)).toEqual([{ path: "/cfg", kind: "data" }]);
    await ok(stub, ANON, { op: "setData", path: "/cfg", data: bytes("1") });
    await ok(stub, ANON, { op: "setData", path: "/cfg", data: bytes("2") });
    expect(await owed(stub)).toEqual([["NodeDataChanged", "/cfg"]]);
    expect(await stub.watchesOf(HOST)).toEqual([]);
  });

  it("exists on a missing node watches for its creation; a failed getData leaves no watch", async () => {
    const { stub } = newShard();
    await viaHost(stub, HOST, { op: "exists", path: "/later", watch: true }, { op: "getData", path: "/never", watch: true });
    expect(await stub.watchesOf(HOST)).toEqual([{ path: "/later", kind: "data" }]);
    await createAll(stub, ANON, "/later", "/never");
    expect(await owed(stub)).toEqual([["NodeCreated", "/later"]]);
  });

  it("a child watch fires on a child's create, and on the node's own delete", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/jobs", "/gone");
    await viaHost(stub, HOST, { op: "getChildren", path: "/jobs", watch: true }, { op: "getChildren", path: "/gone", watch: true });
    await ok(stub, ANON, { op: "setData", path: "/jobs", data: bytes("not a child change") });
    await createAll(stub, ANON, "/jobs/j1", "/jobs/j2");
    await ok(stub, ANON, { op: "delete", path: "/gone" });
    expect(await owed(stub)).toEqual([
      ["NodeChildrenChanged", "/jobs"],
      ["NodeDeleted", "/gone"],
    ]);
  });

  it("reads without a host, or without watch, leave none", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/a");
    await ok(stub, ANON, { op: "getData", path: "/a", watch: true });
    await viaHost(stub, HOST, { op: "getData", path: "/a" });
    expect(await stub.watchesOf(HOST)).toEqual([]);
  });
});

describe("persistent watches (addWatch)", () => {
  it("a persistent watch fires on every change of the node, children included, and stays", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p");
    expect((await stub.addWatch("/", HOST_REF, ANON, "/p", "persistent")).ok).toBe(true);
    await ok(stub, ANON, { op: "setData", path: "/p", data: bytes("1") });
    await createAll(stub, ANON, "/p/c");
    await ok(stub, ANON, { op: "setData", path: "/p", data: bytes("2") });
    await ok(stub, ANON, { op: "setData", path: "/p/c", data: bytes("not watched") });
    expect(await owed(stub)).toEqual([
      ["NodeDataChanged", "/p"],
      ["NodeChildrenChanged", "/p"],
      ["NodeDataChanged", "/p"],
    ]);
    expect(await stub.watchesOf(HOST)).toEqual([{ path: "/p", kind: "persistent" }]);
  });

  it("a recursive watch sees the whole subtree, without child events, in commit order", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/app", "/other");
    await stub.addWatch("/", HOST_REF, ANON, "/app", "recursive");
    await createAll(stub, ANON, "/app/a", "/app/a/b", "/other/x");
    await ok(stub, ANON, { op: "setData", path: "/app/a/b", data: bytes("x") });
    await ok(stub, ANON, { op: "delete", path: "/app/a/b" });
    expect(await owed(stub)).toEqual([
      ["NodeCreated", "/app/a"],
      ["NodeCreated", "/app/a/b"],
      ["NodeDataChanged", "/app/a/b"],
      ["NodeDeleted", "/app/a/b"],
    ]);
  });

  it("removeWatches drops a watch, and answers NoWatcher when there is none", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p");
    await stub.addWatch("/", HOST_REF, ANON, "/p", "persistent");
    expect((await stub.removeWatches("/", HOST, "/p", "persistent")).ok).toBe(true);
    const again = await stub.removeWatches("/", HOST, "/p");
    expect(again.ok ? "ok" : again.error.name).toBe("NoWatcher");
    await ok(stub, ANON, { op: "setData", path: "/p", data: bytes("1") });
    expect(await owed(stub)).toEqual([]);
  });

  it("addWatch needs READ on an existing node and a valid path", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/secret", acl: [{ perms: 0b11110, scheme: "world", id: "anyone" }] });
    const refused = await stub.addWatch("/", HOST_REF, ANON, "/secret", "persistent");
    expect(refused.ok ? "ok" : refused.error.name).toBe("NoAuth");
    const bad = await stub.addWatch("/", HOST_REF, ANON, "/bad/", "recursive");
    expect(bad.ok ? "ok" : bad.error.name).toBe("BadArguments");
  });
});

describe("the outbox", () => {
  it("keeps one row per host however often it is watched, and notifies each host once", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/hot");
    for (let i = 0; i < 5; i++) await viaHost(stub, HOST, { op: "getData", path: "/hot", watch: true });
    await viaHost(stub, OTHER_HOST, { op: "exists", path: "/hot", watch: true });
    expect(await stub.watchesOf(HOST)).toHaveLength(1);
    await ok(stub, ANON, { op: "setData", path: "/hot", data: bytes("1") });
    expect(await owed(stub, HOST)).toEqual([["NodeDataChanged", "/hot"]]);
    expect(await owed(stub, OTHER_HOST)).toEqual([["NodeDataChanged", "/hot"]]);
  });

  it("numbers a host's notifications 1, 2, 3 and forgets them once acknowledged", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/p");
    await stub.addWatch("/", HOST_REF, ANON, "/p", "persistent");
    for (const v of ["1", "2", "3"]) await ok(stub, ANON, { op: "setData", path: "/p", data: bytes(v) });
    const { notifications } = await viaHost(stub, HOST);
    expect(notifications.map((n) => n.seq)).toEqual([1, 2, 3]);
    const after = await viaHostAcking(stub, HOST, 2);
    expect(after.notifications.map((n) => n.seq)).toEqual([3]);
  });

  it("deletes what a host acknowledged with the shard's next write; until then a restart owes it again", async () => {
    const { id, stub } = newShard();
    await createAll(stub, ANON, "/p", "/other");
    await stub.addWatch("/", HOST_REF, ANON, "/p", "persistent");
    for (const v of ["1", "2"]) await ok(stub, ANON, { op: "setData", path: "/p", data: bytes(v) });
    expect((await viaHostAcking(stub, HOST, 2)).notifications).toEqual([]);
    // The acknowledgement cost no write of its own: a restart now sends them again (the host skips them by seq).
    await evictDurableObject(stub);
    const restarted = reconnect(id);
    expect((await viaHost(restarted, HOST)).notifications.map((n) => n.seq)).toEqual([1, 2]);
    await viaHostAcking(restarted, HOST, 2);
    await ok(restarted, ANON, { op: "setData", path: "/other", data: bytes("x") });
    await evictDurableObject(restarted);
    expect((await viaHost(reconnect(id), HOST)).notifications).toEqual([]);
  });

  it("a failed multi fires nothing; a committed one fires with its one zxid", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/m");
    await stub.addWatch("/", HOST_REF, ANON, "/m", "recursive");
    await stub.execute("/", ANON, [{ op: "multi", ops: [{ op: "create", path: "/m/a" }, { op: "create", path: "/m/a" }] }]);
    expect(await owed(stub)).toEqual([]);
    await stub.execute("/", ANON, [{ op: "multi", ops: [{ op: "create", path: "/m/a" }, { op: "create", path: "/m/b" }] }]);
    const { notifications } = await viaHost(stub, HOST);
    expect(notifications.map((n) => n.path)).toEqual(["/m/a", "/m/b"]);
    expect(notifications[0]!.zxid).toBe(notifications[1]!.zxid);
  });

  it("survives a restart: nothing owed is lost, watches stay", async () => {
    const { id, stub } = newShard();
    await createAll(stub, ANON, "/p", "/q");
    await stub.addWatch("/", HOST_REF, ANON, "/p", "persistent");
    await viaHost(stub, HOST, { op: "getData", path: "/q", watch: true });
    await ok(stub, ANON, { op: "setData", path: "/p", data: bytes("1") });
    await evictDurableObject(stub);
    const again = reconnect(id);
    expect(await owed(again)).toEqual([["NodeDataChanged", "/p"]]);
    await ok(again, ANON, { op: "setData", path: "/q", data: bytes("1") });
    expect(await owed(again)).toEqual([
      ["NodeDataChanged", "/p"],
      ["NodeDataChanged", "/q"],
    ]);
  });
});

describe("deep paths", () => {
  it("a recursive watch sees a change 256 levels below it", async () => {
    const { stub } = newShard();
    const paths: string[] = [];
    for (let p = ""; paths.length < 256; ) paths.push((p = `${p}/d`));
    await createAll(stub, ANON, ...paths.slice(0, 255));
    await stub.addWatch("/", HOST_REF, ANON, "/d", "recursive");
    await createAll(stub, ANON, paths[255]!);
    expect(await owed(stub)).toEqual([["NodeCreated", paths[255]]]);
  });
});

describe("a shard that holds no watch", () => {
  it("fires a watch whose firing a rolled-back transaction undid, though that transaction saw the table empty", async () => {
    const { stub } = newShard();
    await runInDurableObject(stub, async (_instance, state) => {
      const registry = new WatchRegistry(state.storage.sql);
      const changed = (path: string) => ({ zxid: 1, event: "NodeDataChanged" as const, path, acl: undefined });
      registry.add(HOST, "/cfg", "data");
      expect(() =>
        state.storage.transactionSync(() => {
          expect([...registry.fire(changed("/cfg"))]).toEqual([HOST]); // its one-shot watch is deleted
          expect([...registry.fire(changed("/other"))]).toEqual([]);
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      await Promise.resolve();
      expect([...registry.fire(changed("/other"))]).toEqual([]);
      expect([...registry.fire(changed("/cfg"))]).toEqual([HOST]);
    });
  });
});
