/**
 * Watches at a read replica, for session hosts: set by the host's reads there
 * (replicaHostExecute) or by addWatch, fired as the replica applies its leader's
 * log (and by the setWatches rule when it installs a snapshot), pushed to the host
 * and carried on its next answer before any data showing the change; and syncHost,
 * at a replica or the leader, which sets a host's watches again from the zxid it was
 * last shown and hands over what they missed.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type ShardRequest, type WatchKind, type WatchNotification } from "../../protocol/index.ts";
import { REPLICA_TRIM_BATCH_ENTRIES } from "../../durable/replication/core/index.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { settingsFromEnv } from "../../durable/base/settings.ts";
import type { HostWatch, ReplicaHostAnswer, SyncHostAnswer } from "../../durable/shard/shard-do.ts";
import { ANON, type ShardStub, bytes, createAll, exec, lastZxid, ok, text } from "../harness/shard.ts";
import { type ShardPair, caughtUp, createMany, metaOf, newPair, rowsOf, stubsOf } from "../harness/replica.ts";

/** A host that takes no pushes: what it is owed waits in the outbox for its next answer. */
const HOST = { name: "t/sessions-0", push: false };

/** Reads through the host at the replica once it has applied `minZxid`; fails if it is not ready. */
async function hostRead(replica: ShardStub, minZxid: number, requests: ShardRequest[] = [], ackSeq = 0, host = HOST): Promise<Extract<ReplicaHostAnswer, { ready: true }>> {
  // Typed by hand: RPC typing cannot express Outcome's unknown value (as exec in shard.ts).
  const answer = (await replica.replicaHostExecute("/", host, ackSeq, ANON, requests, { minZxid, waitMs: 20_000 })) as unknown as ReplicaHostAnswer;
  if (!answer.ready) expect.fail(`the replica applied only ${answer.appliedZxid} of ${minZxid}`);
  return answer;
}

async function syncHost(stub: ShardStub, minZxid: number, watches: HostWatch[], waitMs = 20_000, ackSeq = 0): Promise<SyncHostAnswer> {
  return (await stub.syncHost("/", HOST, ackSeq, minZxid, watches, waitMs)) as SyncHostAnswer;
}

/** What the host is owed at the replica once it has applied everything its leader has now, as [event, path]. */
async function owedAtReplica(pair: ShardPair): Promise<[string, string][]> {
  return events((await hostRead(pair.replica, await lastZxid(pair.leader))).notifications);
}

const events = (notifications: WatchNotification[]): [string, string][] => notifications.map((n) => [n.event, n.path]);

/** Ends every object's instance; the pair gets fresh stubs. */
async function abortAll(pair: ShardPair): Promise<void> {
  await abortAllDurableObjects();
  Object.assign(pair, stubsOf(pair.leaderName));
}

/** The last seq of the replica's notifications a session host has processed (deliver with nothing new answers it). */
function processedBy(hostName: string, pair: ShardPair): Promise<number> {
  const replicaId = env.SHARD.idFromName(replicaObjectName(pair.leaderName, "weur")).toString();
  return env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostName)).deliver(replicaId, []);
}

describe("watches at a read replica", () => {
  it("fire as it applies its leader's changes: one-shot once, persistent every time, recursive below", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/a", "/p", "/r");
    const zxid = await caughtUp(pair);
    await hostRead(pair.replica, zxid, [{ op: "getData", path: "/a", watch: true }, { op: "getChildren", path: "/a", watch: true }]);
    await pair.replica.addWatch("/", HOST, ANON, "/p", "persistent");
    await pair.replica.addWatch("/", HOST, ANON, "/r", "recursive");
    expect(await pair.replica.watchesOf(HOST.name)).toEqual([
      { path: "/a", kind: "child" },
      { path: "/a", kind: "data" },
      { path: "/p", kind: "persistent" },
      { path: "/r", kind: "recursive" },
    ]);
    // Nothing reached the leader: its registry stays empty whoever watches at the replica.
    expect(await pair.leader.watchesOf(HOST.name)).toEqual([]);

    await ok(pair.leader, ANON, { op: "setData", path: "/a", data: bytes("1") });
    await ok(pair.leader, ANON, { op: "setData", path: "/a", data: bytes("2") });
    await createAll(pair.leader, ANON, "/a/c");
    await ok(pair.leader, ANON, { op: "setData", path: "/p", data: bytes("1") });
    await ok(pair.leader, ANON, { op: "setData", path: "/p", data: bytes("2") });
    await createAll(pair.leader, ANON, "/r/x");
    await ok(pair.leader, ANON, { op: "setData", path: "/r/x", data: bytes("x") });

    const answer = await hostRead(pair.replica, await lastZxid(pair.leader));
    expect(events(answer.notifications)).toEqual([
      ["NodeDataChanged", "/a"],
      ["NodeChildrenChanged", "/a"],
      ["NodeDataChanged", "/p"],
      ["NodeDataChanged", "/p"],
      ["NodeCreated", "/r/x"],
      ["NodeDataChanged", "/r/x"],
    ]);
    // In zxid order, numbered per host; acknowledged, they are not sent again.
    const zxids = answer.notifications.map((n) => n.zxid);
    expect(zxids).toEqual([...zxids].sort((x, y) => x - y));
    expect(answer.notifications.map((n) => n.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await pair.replica.watchesOf(HOST.name)).toEqual([
      { path: "/p", kind: "persistent" },
      { path: "/r", kind: "recursive" },
    ]);
    expect((await hostRead(pair.replica, 0, [], 6)).notifications).toEqual([]);
  });

  it("are set only by reads the replica ran: writes among them are NotReadOnly, and a read not ready sets none", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/ro");
    const zxid = await caughtUp(pair);
    const notReady = (await pair.replica.replicaHostExecute("/", HOST, 0, ANON, [{ op: "getData", path: "/ro", watch: true }], { minZxid: zxid + 1, waitMs: 0 })) as unknown as ReplicaHostAnswer;
    expect(notReady).toEqual({ ready: false, appliedZxid: zxid, msSinceContact: expect.any(Number) });
    expect(await pair.replica.watchesOf(HOST.name)).toEqual([]);
    const answer = await hostRead(pair.replica, zxid, [{ op: "setData", path: "/ro", data: bytes("no") }, { op: "exists", path: "/ro", watch: true }]);
    expect(answer.outcomes.map((o) => (o.ok ? "ok" : o.error.name))).toEqual(["NotReadOnly", "ok"]);
    expect(await pair.replica.watchesOf(HOST.name)).toEqual([{ path: "/ro", kind: "data" }]);
    expect(await lastZxid(pair.leader)).toBe(zxid);
  });

  it("come before the answer of any later read there that shows their change", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/cfg");
    let zxid = await caughtUp(pair);
    let acked = 0;
    await hostRead(pair.replica, zxid, [{ op: "getData", path: "/cfg", watch: true }]);
    for (let i = 1; i <= 15; i++) {
      const { stat } = await ok(pair.leader, ANON, { op: "setData", path: "/cfg", data: bytes(String(i)) });
      zxid = stat.mzxid;
      // The read shows the change and re-arms the watch; its answer carries the event the change fired.
      const answer = await hostRead(pair.replica, zxid, [{ op: "getData", path: "/cfg", watch: true }], acked);
      const [read] = answer.outcomes;
      if (!read?.ok) throw new Error("getData failed");
      expect(text((read.value as { data: Uint8Array }).data)).toBe(String(i));
      expect(answer.notifications.map((n) => [n.event, n.zxid])).toEqual([["NodeDataChanged", zxid]]);
      acked = answer.notifications[0]!.seq;
    }
  });

  it("are pushed to a host that takes pushes, as the replica applies the change", async () => {
    const pair = newPair();
    const host = { name: `t/sessions-push-${crypto.randomUUID()}`, push: true };
    await createAll(pair.leader, ANON, "/pushed");
    await hostRead(pair.replica, await caughtUp(pair), [{ op: "exists", path: "/pushed", watch: true }], 0, host);
    await ok(pair.leader, ANON, { op: "delete", path: "/pushed" });
    await expect.poll(() => processedBy(host.name, pair), { timeout: 20_000 }).toBe(1);
  });

  it("outlive an abort of every object and still fire, with no read to wake the replica", async () => {
    const pair = newPair();
    const host = { name: `t/sessions-push-${crypto.randomUUID()}`, push: true };
    await createAll(pair.leader, ANON, "/kept");
    await hostRead(pair.replica, await caughtUp(pair), [{ op: "getData", path: "/kept", watch: true }], 0, host);
    await abortAll(pair);
    await ok(pair.leader, ANON, { op: "setData", path: "/kept", data: bytes("after the abort") });
    // Only the replica's watchdog alarm wakes it: it pulls, applies, fires and pushes.
    expect(await runDurableObjectAlarm(pair.replica)).toBe(true);
    await expect.poll(() => processedBy(host.name, pair), { timeout: 20_000 }).toBe(1);
    expect(await pair.replica.watchesOf(host.name)).toEqual([]);
  });

  it("miss no change while every object is aborted again and again under writes", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/n");
    await caughtUp(pair);
    await pair.replica.addWatch("/", HOST, ANON, "/n", "persistent");
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        // A write cut by an abort may or may not have applied; the watch must fire for each that did.
        await exec(stubsOf(pair.leaderName).leader, ANON, { op: "setData", path: "/n", data: bytes(String(i)) }).catch(() => undefined);
      }
    })();
    // Every notification the host has been handed, by seq (one handed again after a lost acknowledgement is the same).
    const handed = new Map<number, WatchNotification>();
    const settle = async (minZxid: number) => {
      const acked = Math.max(0, ...handed.keys());
      const answer = await syncHost(stubsOf(pair.leaderName).replica, minZxid, [], 20_000, acked);
      if (answer.ready) for (const n of answer.notifications) handed.set(n.seq, n);
    };
    for (let round = 0; round < 5; round++) {
      await settle(0).catch(() => undefined);
      await abortAll(pair);
      await runDurableObjectAlarm(pair.replica);
    }
    writing = false;
    await writer;
    await settle(await lastZxid(pair.leader));
    const { stat } = await ok(pair.leader, ANON, { op: "exists", path: "/n" });
    // One NodeDataChanged per setData applied (its version), numbered without a gap, in zxid order.
    const notifications = [...handed.values()].sort((a, b) => a.seq - b.seq);
    expect(stat!.version).toBeGreaterThan(5);
    expect(notifications.map((n) => n.seq)).toEqual(Array.from({ length: stat!.version }, (_, i) => i + 1));
    expect(notifications.every((n) => n.event === "NodeDataChanged" && n.path === "/n")).toBe(true);
    const zxids = notifications.map((n) => n.zxid);
    expect(zxids).toEqual([...new Set(zxids)].sort((a, b) => a - b));
    expect(zxids.at(-1)).toBe(stat!.mzxid);
  }, 60_000);

  it("keep their replica pulling after nobody has read it for the idle time", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/idle");
    const startedAt = Date.now();
    await pair.replica.addWatch("/", HOST, ANON, "/idle", "persistent");
    await caughtUp(pair);
    // Its watchdog, run as its alarm would fire, a second past the idle time the objects read.
    const pastIdleMs = settingsFromEnv(env).replicaIdleMs + 1_000;
    await expect
      .poll(async () => {
        await runDurableObjectAlarm(pair.replica);
        return Date.now() - startedAt;
      }, { timeout: 20_000, interval: 500 })
      .toBeGreaterThan(pastIdleMs);
    expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: true });
    await ok(pair.leader, ANON, { op: "setData", path: "/idle", data: bytes("still watched") });
    // No read: the outbox fills as it applies.
    await expect.poll(() => rowsOf(pair.replica, "SELECT event, path FROM watch_outbox"), { timeout: 20_000 }).toEqual([{ event: "NodeDataChanged", path: "/idle" }]);
  }, 60_000);

  it("are removed with removeWatches, as at the leader", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/rm");
    await caughtUp(pair);
    await pair.replica.addWatch("/", HOST, ANON, "/rm", "persistent");
    expect(await pair.replica.removeWatches("/", HOST.name, "/rm", "persistent")).toMatchObject({ ok: true });
    expect(await pair.replica.removeWatches("/", HOST.name, "/rm")).toMatchObject({ ok: false, error: { name: "NoWatcher" } });
    await ok(pair.leader, ANON, { op: "setData", path: "/rm", data: bytes("unwatched") });
    expect(await owedAtReplica(pair)).toEqual([]);
  });

  it("fire by the setWatches rule when the replica installs a new snapshot", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/changed", "/same", "/kids", "/gone");
    const pausedAt = await caughtUp(pair);
    await hostRead(pair.replica, 0, ["/changed", "/same", "/gone"].map((path): ShardRequest => ({ op: "getData", path, watch: true })));
    await hostRead(pair.replica, 0, [{ op: "getChildren", path: "/kids", watch: true }]);
    await pair.replica.addWatch("/", HOST, ANON, "/same", "persistent");
    // The replica is gone while its leader trims past it (as in replica.test.ts's re-snapshot).
    await runInDurableObject(pair.replica, (_, state) => state.abort("test")).catch(() => undefined);
    Object.assign(pair, stubsOf(pair.leaderName));
    await ok(pair.leader, ANON, { op: "setData", path: "/changed", data: bytes("meanwhile") });
    await runInDurableObject(pair.leader, (_, state) => state.storage.sql.exec("DELETE FROM replication_peers"));
    await createAll(pair.leader, ANON, "/kids/k");
    await ok(pair.leader, ANON, { op: "delete", path: "/gone" });
    await createMany(pair, 100);
    await caughtUp(pair);
    expect((await metaOf(pair.replica)).readableZxid).toBeGreaterThan(pausedAt);
    expect(await owedAtReplica(pair)).toEqual([
      ["NodeDataChanged", "/changed"],
      ["NodeChildrenChanged", "/kids"],
      ["NodeDeleted", "/gone"],
    ]);
    expect(await pair.replica.watchesOf(HOST.name)).toEqual([
      { path: "/same", kind: "data" },
      { path: "/same", kind: "persistent" },
    ]);
  });

  it("fire for every watched node when a snapshot replaces another log's state (its leader freed and made anew under its name)", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/a", "/gone");
    await createMany(pair, 10);
    const zxid = await caughtUp(pair);
    await hostRead(pair.replica, zxid, ["/a", "/gone"].map((path): ShardRequest => ({ op: "getData", path, watch: true })));
    await pair.leader.destroy();
    await expect.poll(async () => (await pair.replica.replicaStatus())?.pulling, { timeout: 20_000 }).toBe(false);
    // The new log makes /a again at a zxid below the one the replica applied (zxids of two logs compare as nothing), and writes past it.
    await ok(pair.leader, ANON, { op: "create", path: "/a", data: bytes("new") });
    await createMany(pair, 15);
    expect(await owedAtReplica(pair)).toEqual([
      ["NodeCreated", "/a"],
      ["NodeDeleted", "/gone"],
    ]);
  });

  it("refuses bad syncHost input as BadArguments, and a leader answers host reads addressed to its region's copy", async () => {
    const pair = newPair();
    const refusal = async (call: () => Promise<unknown>): Promise<string> => {
      try {
        await call();
        return "answered";
      } catch (err) {
        return `${(err as { keeperName?: string }).keeperName}: ${(err as Error).message}`;
      }
    };
    const sync = (stub: ShardStub, minZxid: number, watches: unknown[], host: unknown = HOST) => () =>
      stub.syncHost("/", host as typeof HOST, 0, minZxid, watches as HostWatch[], 0);
    // A leader is the copy in its region: a host's reads addressed there are answered at once.
    await ok(pair.leader, ANON, { op: "create", path: "/led" });
    expect(await pair.leader.replicaHostExecute("/", HOST, 0, ANON, [], { minZxid: 0, waitMs: 0 })).toMatchObject({ ready: true });
    for (const stub of [pair.leader, pair.replica]) {
      expect(await refusal(sync(stub, 0, [{ path: "/a", kind: "exists", sinceZxid: 0 }]))).toMatch(/^BadArguments: .*kind/);
      expect(await refusal(sync(stub, 0, [{ path: "a", kind: "data", sinceZxid: 0 }]))).toMatch(/^BadArguments/);
      expect(await refusal(sync(stub, 0, [{ path: "/a", kind: "data", sinceZxid: 1.5 }]))).toMatch(/^BadArguments: .*sinceZxid/);
      expect(await refusal(sync(stub, 0, [null]))).toMatch(/^BadArguments/);
      expect(await refusal(sync(stub, -1, []))).toMatch(/^BadArguments: .*zxid/);
      expect(await refusal(sync(stub, 0, [], { name: "" }))).toMatch(/^BadArguments: .*watch host/);
    }
    expect(await pair.replica.watchesOf(HOST.name)).toEqual([]);
  });
});

describe("syncHost with no watches (the host's settle) at a replica", () => {
  it("waits until the replica has applied minZxid, then hands over what the host is owed up to there", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/s");
    await hostRead(pair.replica, await caughtUp(pair), [{ op: "getData", path: "/s", watch: true }]);
    await runInDurableObject(pair.replica, (_, state) => state.abort("test")).catch(() => undefined);
    Object.assign(pair, stubsOf(pair.leaderName));
    const { stat } = await ok(pair.leader, ANON, { op: "setData", path: "/s", data: bytes("1") });
    const answer = await syncHost(pair.replica, stat.mzxid, []);
    expect(answer).toMatchObject({ ready: true, zxid: stat.mzxid });
    if (!answer.ready) throw new Error("not ready");
    expect(answer.notifications.map((n) => [n.event, n.path, n.zxid])).toEqual([["NodeDataChanged", "/s", stat.mzxid]]);
    // Not ready when it cannot apply in time: it says how far it has.
    expect(await syncHost(pair.replica, stat.mzxid + 100, [], 0)).toEqual({ ready: false, appliedZxid: stat.mzxid });
  });
});

describe.each([
  ["a replica", (pair: ShardPair) => pair.replica],
  ["the leader", (pair: ShardPair) => pair.leader],
] as const)("syncHost at %s", (_, at) => {
  /** Watches set at `since`, then the changes; what syncHost hands over and which watches it sets. */
  async function resync(pair: ShardPair, watches: { path: string; kind: WatchKind }[], since: number): Promise<{ owed: [string, string][]; set: { path: string; kind: WatchKind }[] }> {
    const answer = await syncHost(at(pair), await lastZxid(pair.leader), watches.map((w) => ({ ...w, sinceZxid: since })));
    if (!answer.ready) throw new Error("not ready");
    return { owed: events(answer.notifications), set: await at(pair).watchesOf(HOST.name) };
  }

  /** Nodes, then the zxid a host was shown, then a change of each kind. */
  async function changeEachKind(pair: ShardPair): Promise<number> {
    await createAll(pair.leader, ANON, "/d", "/c", "/gone", "/same", "/p", "/r");
    const since = await caughtUp(pair);
    await ok(pair.leader, ANON, { op: "setData", path: "/d", data: bytes("d") });
    await createAll(pair.leader, ANON, "/c/new", "/born", "/r/x");
    await ok(pair.leader, ANON, { op: "delete", path: "/gone" });
    await ok(pair.leader, ANON, { op: "setData", path: "/p", data: bytes("1") });
    await ok(pair.leader, ANON, { op: "setData", path: "/p", data: bytes("2") });
    await ok(pair.leader, ANON, { op: "setData", path: "/r/x", data: bytes("x") });
    return since;
  }

  const ONE_SHOT = [
    { path: "/d", kind: "data" },
    { path: "/c", kind: "child" },
    { path: "/gone", kind: "data" },
    { path: "/born", kind: "data" },
    { path: "/same", kind: "data" },
    { path: "/absent", kind: "data" },
  ] as const;

  it("fires each one-shot watch that missed a change (changed, children changed, deleted, created) and sets the rest", async () => {
    const pair = newPair();
    const since = await changeEachKind(pair);
    const { owed, set } = await resync(pair, [...ONE_SHOT], since);
    expect(owed).toEqual([
      ["NodeDataChanged", "/d"],
      ["NodeChildrenChanged", "/c"],
      ["NodeCreated", "/born"],
      ["NodeDeleted", "/gone"],
    ]);
    expect(set).toEqual([
      { path: "/absent", kind: "data" },
      { path: "/same", kind: "data" },
    ]);
    // Set, they fire on the next change.
    await ok(pair.leader, ANON, { op: "setData", path: "/same", data: bytes("now") });
    const settled = await syncHost(at(pair), await lastZxid(pair.leader), []);
    if (!settled.ready) throw new Error("not ready");
    expect(events(settled.notifications).slice(-1)).toEqual([["NodeDataChanged", "/same"]]);
  });

  it("replays the change log's events to persistent and recursive watches, and keeps them", async () => {
    const pair = newPair();
    const since = await changeEachKind(pair);
    const { owed, set } = await resync(pair, [{ path: "/p", kind: "persistent" }, { path: "/r", kind: "recursive" }], since);
    expect(owed).toEqual([
      ["NodeCreated", "/r/x"],
      ["NodeDataChanged", "/p"],
      ["NodeDataChanged", "/p"],
      ["NodeDataChanged", "/r/x"],
    ]);
    expect(set).toEqual([
      { path: "/p", kind: "persistent" },
      { path: "/r", kind: "recursive" },
    ]);
  });

  it("hands over once a change the host's watch there already fired and the host has not acknowledged", async () => {
    const pair = newPair();
    await createAll(pair.leader, ANON, "/p");
    const since = await caughtUp(pair);
    const persistent = [{ path: "/p", kind: "persistent" as const, sinceZxid: since }];
    expect(await syncHost(at(pair), since, persistent)).toMatchObject({ ready: true, notifications: [] });
    await ok(pair.leader, ANON, { op: "setData", path: "/p", data: bytes("1") });
    await ok(pair.leader, ANON, { op: "setData", path: "/p", data: bytes("2") });
    // Set again from `since` (a move back here): the two changes it fired are owed once each.
    const answer = await syncHost(at(pair), await lastZxid(pair.leader), persistent);
    if (!answer.ready) throw new Error("not ready");
    expect(events(answer.notifications)).toEqual([
      ["NodeDataChanged", "/p"],
      ["NodeDataChanged", "/p"],
    ]);
    expect(new Set(answer.notifications.map((n) => n.zxid)).size).toBe(2);
  });

  it("judges by the rows once the change log no longer reaches back to the host's zxid", async () => {
    const pair = newPair();
    const since = await changeEachKind(pair);
    // Past the log's bound (64 entries in the test pool) and the batch a replica trims at once, the events after `since` are trimmed.
    await createMany(pair, 64 + REPLICA_TRIM_BATCH_ENTRIES + 16);
    await caughtUp(pair);
    const { owed, set } = await resync(pair, [...ONE_SHOT.filter((w) => w.path !== "/absent"), { path: "/p", kind: "persistent" }, { path: "/r", kind: "recursive" }], since);
    expect(owed.sort()).toEqual(
      [
        ["NodeDataChanged", "/d"],
        ["NodeChildrenChanged", "/c"],
        ["NodeCreated", "/born"],
        ["NodeDeleted", "/gone"],
        ["NodeDataChanged", "/p"],
        ["NodeCreated", "/r/x"],
      ].sort(),
    );
    expect(set).toEqual([
      { path: "/p", kind: "persistent" },
      { path: "/r", kind: "recursive" },
      { path: "/same", kind: "data" },
    ]);
  });
});
