/**
 * A read replica (a ShardDO in the replica role, named `<shard>@<region>`) follows
 * its leader: it catches up from nothing by snapshot then log, keeps up, resumes
 * after aborts by its watchdog alarm, re-snapshots when trimmed past, never writes,
 * holds its leader's log back only as the trim rule allows, and stops pulling when
 * nobody reads it (EDGEKEEPER_REPLICA_IDLE_MS, 3 s in the test pool) or its leader is gone.
 */
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ShardRequest } from "../../protocol/index.ts";
import { REPLICA_TRIM_BATCH_ENTRIES } from "../../durable/replication/core/index.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { ANON, type ShardStub, bytes, exec, lastZxid, ok, run, session, text } from "../harness/shard.ts";
import { type ShardPair, asLogBeforeSizeColumns, caughtUp, createMany, logZxids, metaOf, newPair, readAt, rowsOf, stubsOf, znodes } from "../harness/replica.ts";

/** A little of everything: data, a sequential, an ephemeral, a multi, a delete. */
async function populate(pair: ShardPair): Promise<void> {
  await ok(pair.leader, ANON, { op: "create", path: "/app", data: bytes("v1") });
  await ok(pair.leader, ANON, { op: "setData", path: "/app", data: bytes("v2") });
  await ok(pair.leader, ANON, { op: "create", path: "/app/q-", mode: "PERSISTENT_SEQUENTIAL" });
  await ok(pair.leader, session(0x51), { op: "create", path: "/app/e", mode: "EPHEMERAL" });
  await ok(pair.leader, ANON, { op: "multi", ops: [{ op: "create", path: "/app/m" }, { op: "create", path: "/app/m/x", data: bytes("mx") }] });
  await ok(pair.leader, ANON, { op: "create", path: "/app/gone" });
  await ok(pair.leader, ANON, { op: "delete", path: "/app/gone" });
}

async function expectSameRows(pair: ShardPair): Promise<void> {
  expect(await znodes(pair.replica)).toEqual(await znodes(pair.leader));
}

/** Ends the replica's instance (its pull loop with it), as a crash would; the pair gets fresh stubs. */
async function abortReplica(pair: ShardPair): Promise<void> {
  await runInDurableObject(pair.replica, (_, state) => state.abort("test")).catch(() => undefined);
  Object.assign(pair, stubsOf(pair.leaderName));
}

/** Ends every object's instance; the pair gets fresh stubs. */
async function abortAll(pair: ShardPair): Promise<void> {
  await abortAllDurableObjects();
  Object.assign(pair, stubsOf(pair.leaderName));
}

describe("a read replica", () => {
  it("logs each entry it applies as its leader logged it, text for text (values as base64), under a session's write too", async () => {
    const pair = newPair();
    await populate(pair);
    const snapshotAt = await caughtUp(pair);
    await ok(pair.leader, ANON, { op: "setData", path: "/app/m/x", data: new Uint8Array([0, 255, 128, 10]) });
    await ok(pair.leader, session(0x52), { op: "create", path: "/app/bin", data: new Uint8Array([255, 0]) });
    await caughtUp(pair);
    const logged = "SELECT key, size, row FROM replication_log WHERE key > ? ORDER BY key";
    const atReplica = await rowsOf(pair.replica, logged, snapshotAt);
    expect(atReplica).toHaveLength(2);
    expect(atReplica).toEqual(await rowsOf(pair.leader, logged, snapshotAt));
  });

  it("catches up from nothing by a snapshot, then by the log, to rows equal to its leader's", async () => {
    const pair = newPair();
    await populate(pair);
    const snapshotAt = await caughtUp(pair);
    expect((await metaOf(pair.replica)).trimmedZxid).toBe(snapshotAt);
    await expectSameRows(pair);

    await ok(pair.leader, ANON, { op: "setData", path: "/app/m/x", data: bytes("after") });
    await ok(pair.leader, ANON, { op: "delete", path: "/app/q-0000000000" });
    const now = await caughtUp(pair);
    expect(await logZxids(pair.replica)).toEqual([snapshotAt + 1, snapshotAt + 2]);
    expect(now).toBe(snapshotAt + 2);
    await expectSameRows(pair);
  });

  it("takes a snapshot of more than one page (1 MiB each) whole", async () => {
    const pair = newPair();
    const big = (fill: number) => new Uint8Array(700 * 1024).fill(fill);
    await ok(pair.leader, ANON, { op: "create", path: "/big1", data: big(1) });
    await ok(pair.leader, ANON, { op: "create", path: "/big2", data: big(2) });
    await ok(pair.leader, ANON, { op: "create", path: "/big3", data: big(3) });
    await caughtUp(pair);
    await expectSameRows(pair);
  });

  it("serves reads at the zxid asked for, and says not-ready when it cannot in time", async () => {
    const pair = newPair();
    await populate(pair);
    const zxid = await caughtUp(pair);
    const answer = await readAt(pair.replica, zxid, [{ op: "getData", path: "/app" }, { op: "getChildren", path: "/app" }]);
    if (!answer.ready) throw new Error("not ready");
    expect(answer.zxid).toBe(zxid);
    expect(answer.msSinceContact).not.toBeNull();
    const [data, children] = answer.outcomes;
    if (!data?.ok || !children?.ok) throw new Error("a read failed");
    expect(text((data.value as { data: Uint8Array }).data)).toBe("v2");
    expect((children.value as { children: string[] }).children.sort()).toEqual(["e", "m", "q-0000000000"]);

    const later = await readAt(pair.replica, zxid + 1, [{ op: "exists", path: "/" }], 0);
    expect(later).toMatchObject({ ready: false, appliedZxid: zxid });
  });

  it("keeps up under writes: every read shows at least the write it waited for", async () => {
    const pair = newPair();
    await ok(pair.leader, ANON, { op: "create", path: "/n", data: bytes("0") });
    await caughtUp(pair);
    const reads: Promise<void>[] = [];
    for (let i = 1; i <= 40; i++) {
      const { stat } = await ok(pair.leader, ANON, { op: "setData", path: "/n", data: bytes(String(i)) });
      const written = i;
      reads.push((async () => {
        const answer = await readAt(pair.replica, stat.mzxid, [{ op: "getData", path: "/n" }]);
        if (!answer.ready) throw new Error(`not ready at ${stat.mzxid}`);
        expect(answer.zxid).toBeGreaterThanOrEqual(stat.mzxid);
        const [outcome] = answer.outcomes;
        if (!outcome?.ok) throw new Error("getData failed");
        expect(Number(text((outcome.value as { data: Uint8Array }).data))).toBeGreaterThanOrEqual(written);
      })());
    }
    await Promise.all(reads);
    await caughtUp(pair);
    await expectSameRows(pair);
  });

  it("answers its leader's watch events from its own change log", async () => {
    const pair = newPair();
    await ok(pair.leader, ANON, { op: "create", path: "/w" });
    const snapshotAt = await caughtUp(pair);
    await ok(pair.leader, ANON, { op: "create", path: "/w/a", data: bytes("a") });
    await ok(pair.leader, ANON, { op: "setData", path: "/w/a", data: bytes("b") });
    await ok(pair.leader, ANON, { op: "setACL", path: "/w/a", acl: [{ perms: 31, scheme: "world", id: "anyone" }], version: -1 });
    await ok(pair.leader, ANON, { op: "delete", path: "/w/a" });
    await caughtUp(pair);
    const replicaEvents = await pair.replica.changesSince(snapshotAt);
    expect(replicaEvents.events.map((e) => e.event)).toEqual(["NodeCreated", "NodeChildrenChanged", "NodeDataChanged", "ACLChanged", "NodeDeleted", "NodeChildrenChanged"]);
    const leaderEvents = await pair.leader.changesSince(snapshotAt);
    expect(replicaEvents.events).toEqual(leaderEvents.events);
    // It answers for every zxid after its snapshot, as far as its leader.
    expect(replicaEvents).toMatchObject({ oldest: snapshotAt + 1, last: leaderEvents.last });
  });

  it("never writes: writes sent to it are refused and its rows stay its leader's", async () => {
    const pair = newPair();
    await populate(pair);
    const zxid = await caughtUp(pair);
    const answer = await readAt(pair.replica, zxid, [{ op: "create", path: "/nope" }, { op: "exists", path: "/app" }, { op: "setData", path: "/app", data: bytes("x") }]);
    if (!answer.ready) throw new Error("not ready");
    expect(answer.outcomes.map((o) => (o.ok ? "ok" : o.error.name))).toEqual(["NotReadOnly", "ok", "NotReadOnly"]);
    const direct = await run(pair.replica, ANON, { op: "create", path: "/nope" });
    expect(direct.ok).toBe(false);
    await expectSameRows(pair);
    expect((await metaOf(pair.replica)).appliedZxid).toBe(zxid);
  });

  describe.each([
    ["every object is aborted", abortAll],
    ["the replica is aborted", abortReplica],
  ] as const)("when %s", (_, abort) => {
    it("its watchdog alarm resumes the loop, which catches up with what was written meanwhile", async () => {
      const pair = newPair();
      await populate(pair);
      await caughtUp(pair);
      await abort(pair);
      await ok(pair.leader, ANON, { op: "setData", path: "/app", data: bytes("meanwhile") });
      const zxid = await lastZxid(pair.leader);
      // Nothing but the alarm wakes the replica: then it pulls by itself.
      expect(await runDurableObjectAlarm(pair.replica)).toBe(true);
      await expect.poll(async () => (await pair.replica.replicaStatus())?.appliedZxid, { timeout: 20_000 }).toBe(zxid);
      await expectSameRows(pair);
    });
  });

  it("ends equal to its leader after every object is aborted again and again under writes", async () => {
    const pair = newPair();
    await populate(pair);
    const before = await caughtUp(pair);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        // A write cut by an abort may or may not have applied; either way the replica must follow.
        await exec(stubsOf(pair.leaderName).leader, ANON, { op: "setData", path: "/app", data: bytes(String(i)) }).catch(() => undefined);
      }
    })();
    for (let round = 0; round < 5; round++) {
      // The replica is reading (pulling) when the abort comes.
      await readAt(stubsOf(pair.leaderName).replica, 0).catch(() => undefined);
      await abortAll(pair);
      await runDurableObjectAlarm(pair.replica);
    }
    writing = false;
    await writer;
    expect(await caughtUp(pair)).toBeGreaterThan(before + 5);
    await expectSameRows(pair);
  });

  it("holds its leader's log back while it pulls, and catches up from the log after a pause", async () => {
    const pair = newPair();
    await populate(pair);
    const pausedAt = await caughtUp(pair);
    // Set by a snapshot only (the zxid reads wait for after one): unchanged, no new snapshot was taken.
    const { readableZxid } = await metaOf(pair.replica);
    await abortReplica(pair);
    await createMany(pair, 100, "held");
    // Past its entry bound (64 here) the leader trims only what the replica has applied.
    expect((await metaOf(pair.leader)).logEntries).toBeGreaterThanOrEqual(100);
    expect((await logZxids(pair.leader))[0]).toBeLessThanOrEqual(pausedAt + 1);
    await caughtUp(pair);
    expect((await metaOf(pair.replica)).readableZxid).toBe(readableZxid);
    await expectSameRows(pair);
    // Caught up, it no longer holds anything back: the next write trims to the bound.
    await ok(pair.leader, ANON, { op: "create", path: "/after" });
    expect((await metaOf(pair.leader)).logEntries).toBe(64);
    // Its own log keeps the same bound, trimmed back to it once a batch past it
    // (REPLICA_TRIM_BATCH_ENTRIES), its count and bytes those of the entries it keeps.
    await createMany(pair, REPLICA_TRIM_BATCH_ENTRIES, "batch");
    await caughtUp(pair);
    const [kept] = await rowsOf(pair.replica, "SELECT count(*) AS entries, sum(json_extract(row, '$.size')) AS bytes FROM replication_log");
    expect(kept!.entries).toBeGreaterThanOrEqual(64);
    expect(kept!.entries).toBeLessThanOrEqual(64 + REPLICA_TRIM_BATCH_ENTRIES);
    expect(await metaOf(pair.replica)).toMatchObject({ logEntries: kept!.entries, logBytes: kept!.bytes });
    expect((await logZxids(pair.replica))[0]).toBeGreaterThan(pausedAt);
  });

  it("takes a new snapshot when its leader has trimmed past it", async () => {
    const pair = newPair();
    await populate(pair);
    const pausedAt = await caughtUp(pair);
    await abortReplica(pair);
    // A write wakes the dead instance's long poll at the leader; then the replica's lease
    // is over (as after EDGEKEEPER_REPLICA_LEASE_MS without a pull), and the leader trims past it.
    await ok(pair.leader, ANON, { op: "create", path: "/wake" });
    await runInDurableObject(pair.leader, (_, state) => state.storage.sql.exec("DELETE FROM replication_peers"));
    await createMany(pair, 100, "past");
    expect((await logZxids(pair.leader))[0]).toBeGreaterThan(pausedAt + 1);
    await caughtUp(pair);
    expect((await metaOf(pair.replica)).readableZxid).toBeGreaterThan(pausedAt);
    await expectSameRows(pair);
  });

  it("refuses a read naming no zxid it could show", async () => {
    const pair = newPair();
    const refusal = async (stub: ShardStub, minZxid: number): Promise<string> => {
      try {
        await stub.replicaRead("/", ANON, [{ op: "exists", path: "/" }], { minZxid, waitMs: 0 });
        return "answered";
      } catch (err) {
        return `${(err as { keeperName?: string }).keeperName}: ${(err as Error).message}`;
      }
    };
    for (const minZxid of [-1, 1.5, Number.NaN]) expect(await refusal(pair.replica, minZxid)).toMatch(/^BadArguments: .*names the zxid it must show/);

  });

  it("reports its status; a replica never read from reports none, and asking creates nothing", async () => {
    const pair = newPair();
    expect(await pair.replica.replicaStatus()).toBeNull();
    expect(await rowsOf(pair.replica, "SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([]);
    await populate(pair);
    const zxid = await caughtUp(pair);
    expect(await pair.replica.replicaStatus()).toMatchObject({ region: "weur", leader: pair.leaderName, appliedZxid: zxid, lagZxids: 0, snapshotting: false });
  });

  it("counts the pulls it sends, the pages pushed to it, the entries it applies and the rows they write", async () => {
    const pair = newPair();
    await populate(pair);
    await caughtUp(pair);
    const before = (await pair.replica.replicaStatus())!;
    const writes = 5;
    for (let i = 0; i < writes; i++) await ok(pair.leader, ANON, { op: "setData", path: "/app", data: bytes(`w${i}`) });
    await caughtUp(pair);
    const after = (await pair.replica.replicaStatus())!;
    expect(after.entriesApplied - before.entriesApplied).toBe(writes);
    // Each applied write rewrites its znode and logs itself at least.
    expect(after.rowsWritten - before.rowsWritten).toBeGreaterThanOrEqual(2 * writes);
    // The writes came in answers to its pulls or pushed over a streaming one.
    expect(after.pulls + after.pushes).toBeGreaterThan(before.pulls + before.pushes);
  });

  it("writes two rows per setData it applies (its znode and its log entry) and, restarted, resumes from its log's head", async () => {
    const pair = newPair();
    await ok(pair.leader, ANON, { op: "create", path: "/n", data: bytes("w00") });
    await caughtUp(pair);
    const before = (await pair.replica.replicaStatus())!;
    const writes = 20;
    // Values of one size: no tree counter moves.
    for (let i = 0; i < writes; i++) await ok(pair.leader, ANON, { op: "setData", path: "/n", data: bytes(`w${String(i).padStart(2, "0")}`) });
    const last = await caughtUp(pair);
    const after = (await pair.replica.replicaStatus())!;
    expect(after.entriesApplied - before.entriesApplied).toBe(writes);
    expect(after.rowsWritten - before.rowsWritten).toBe(2 * writes);

    // Its stored meta lags its log's head; a new instance reads the head from the log.
    const [stored] = await rowsOf(pair.replica, "SELECT json_extract(row, '$.appliedZxid') AS applied FROM replication_meta");
    expect(Number(stored!.applied)).toBeLessThan(last);
    await abortReplica(pair);
    expect(await pair.replica.replicaStatus()).toMatchObject({ appliedZxid: last });
    await ok(pair.leader, ANON, { op: "setData", path: "/n", data: bytes("end") });
    await caughtUp(pair);
    await expectSameRows(pair);
    expect(await logZxids(pair.replica)).toEqual(Array.from({ length: writes + 1 }, (_, i) => last - writes + 1 + i));
  });

  describe("when nobody reads it", () => {
    it("stops pulling and clears its alarm once idle; the next read starts it and serves its leader's latest write", async () => {
      const pair = newPair();
      await populate(pair);
      await caughtUp(pair);
      expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: true });
      // Its watchdog, run as its alarm would fire, keeps it pulling until it has been unread for the idle time.
      const idle = async () => {
        await runDurableObjectAlarm(pair.replica);
        return alarmOf(pair.replica);
      };
      await expect.poll(idle, { timeout: 20_000, interval: 500 }).toBeNull();
      // Its loop ends with the pull it was waiting on.
      await expect.poll(async () => (await pair.replica.replicaStatus())?.pulling, { timeout: 20_000 }).toBe(false);
      const { pulls, appliedZxid } = (await pair.replica.replicaStatus())!;

      await ok(pair.leader, ANON, { op: "setData", path: "/app", data: bytes("after idle") });
      const zxid = await lastZxid(pair.leader);
      // Stopped, it no longer pulls: its rows stay where they were until a read.
      expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: false, pulls, appliedZxid });
      expect(appliedZxid).toBeLessThan(zxid);

      const answer = await readAt(pair.replica, zxid, [{ op: "getData", path: "/app" }]);
      if (!answer.ready) throw new Error("not ready");
      const [data] = answer.outcomes;
      if (!data?.ok) throw new Error("getData failed");
      expect(text((data.value as { data: Uint8Array }).data)).toBe("after idle");
      expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: true });
      expect(await alarmOf(pair.replica)).not.toBeNull();
      await expectSameRows(pair);
    });

    it("keeps pulling, unread, while it is a geo-tier leader's sync replica: the leader acknowledges writes through it", async () => {
      const pair = newPair();
      await populate(pair);
      expect(await pair.leader.setSyncReplicas([replicaObjectName(pair.leaderName, "weur")])).toBe(true);
      await caughtUp(pair);
      // Unread for twice the idle time, its watchdog leaves it pulling.
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        await runDurableObjectAlarm(pair.replica);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(await alarmOf(pair.replica)).not.toBeNull();
      // A write is acknowledged through it: its answer comes.
      await ok(pair.leader, ANON, { op: "setData", path: "/app", data: bytes("acknowledged") });
      expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: true, appliedZxid: await lastZxid(pair.leader) });
    }, 20_000);

    it("stops pulling and clears its alarm when its leader is freed (unmounted)", async () => {
      const pair = newPair();
      await populate(pair);
      await caughtUp(pair);
      await pair.leader.destroy();
      await expect.poll(async () => (await pair.replica.replicaStatus())?.pulling, { timeout: 20_000 }).toBe(false);
      expect(await alarmOf(pair.replica)).toBeNull();
    });
  });
});

/** The object's alarm, if one is set. */
function alarmOf(stub: ShardStub): Promise<number | null> {
  return runInDurableObject(stub, (_, state) => state.storage.getAlarm());
}

/** The change_log table shards had before each log entry kept its events beside it. */
const OLD_CHANGE_LOG = `CREATE TABLE change_log (
  zxid INTEGER NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, path TEXT NOT NULL, node TEXT, data BLOB,
  session_id INTEGER NOT NULL, cxid INTEGER, acl TEXT, PRIMARY KEY (zxid, seq)) WITHOUT ROWID`;

/** Each log entry's events, as stored beside it. */
async function loggedEvents(stub: ShardStub): Promise<{ key: unknown; events: unknown }[]> {
  return (await rowsOf(stub, "SELECT key, events FROM replication_log WHERE events IS NOT NULL ORDER BY key")).map((r) => ({ key: r.key, events: JSON.parse(String(r.events)) }));
}

async function hasChangeLogTable(stub: ShardStub): Promise<boolean> {
  return (await rowsOf(stub, "SELECT 1 FROM sqlite_master WHERE name = 'change_log'")).length > 0;
}

describe("a shard made before each log entry kept its events beside it", () => {
  it("a leader's change_log rows move into its log once, with their ACLs; a replica's, copies of its log, go", async () => {
    const pair = newPair();
    await createMany(pair, 3);
    await caughtUp(pair);
    const logged = await loggedEvents(pair.leader);
    expect(logged.length).toBeGreaterThan(0);
    const events = await pair.leader.changesSince(0);
    await runInDurableObject(pair.leader, (_instance, state) => {
      const sql = state.storage.sql;
      // As such a leader stored them: a row per event in change_log, none beside the entry.
      sql.exec(OLD_CHANGE_LOG);
      sql.exec(
        `INSERT INTO change_log (zxid, seq, event, path, session_id, acl)
         SELECT log.key, e.key, json_extract(e.value, '$.event'), json_extract(e.value, '$.path'), 0, json_extract(e.value, '$.acl')
         FROM replication_log AS log, json_each(log.events) AS e`,
      );
      sql.exec("UPDATE replication_log SET events = NULL");
    });
    const oldZxid = await lastZxid(pair.leader);
    await runInDurableObject(pair.replica, (_instance, state) => {
      const sql = state.storage.sql;
      asLogBeforeSizeColumns(sql);
      // What such a replica wrote for each applied entry's event.
      sql.exec(OLD_CHANGE_LOG);
      sql.exec("INSERT INTO change_log (zxid, seq, event, path, session_id) VALUES (?, 0, 'NodeCreated', '/old', 0)", oldZxid);
    });
    await abortAllDurableObjects();
    Object.assign(pair, stubsOf(pair.leaderName));
    expect(await pair.leader.changesSince(0)).toEqual(events);
    expect(await loggedEvents(pair.leader)).toEqual(logged);
    await createMany(pair, 2);
    await caughtUp(pair);
    expect(await hasChangeLogTable(pair.leader)).toBe(false);
    expect(await hasChangeLogTable(pair.replica)).toBe(false);
    // The replica's events, as far back as its own log reaches, are the leader's.
    const atReplica = await pair.replica.changesSince(0);
    expect(atReplica.events.length).toBeGreaterThan(0);
    expect(atReplica.events).toEqual((await pair.leader.changesSince(0)).events.filter((e) => e.zxid >= atReplica.oldest!));
  }, 60_000);
});
