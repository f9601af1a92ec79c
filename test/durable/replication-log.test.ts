/**
 * The shard's replication log (the leader side): every write that takes a zxid is
 * one entry (its rows, whole, and the session's commit record) in the write's own
 * transaction, with no holes; the role is read with every write and read; replicas
 * pull bounded pages by long poll; the trim keeps log order and live replicas.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type Outcome, limitsFromEnv, makeZxid } from "../../protocol/index.ts";
import type { PullReply } from "../../durable/replication/core/index.ts";
import type { ShardLogEntry } from "../../durable/shard/replicated-tables.ts";
import type { ShardDO } from "../../durable/shard/shard-do.ts";
import { ANON, bytes, exec, exists, lastZxid, newShard, ok, reconnect, run, session, sleep, type ShardStub } from "../harness/shard.ts";
import { asLogBeforeSizeColumns } from "../harness/replica.ts";

const S = session(0x51);
const { changeLogWindow } = limitsFromEnv(env);

async function pull(stub: ShardStub, fromZxid: number, maxBytes = 1 << 20, replica = "r1"): Promise<Extract<PullReply<ShardLogEntry>, { kind: "entries" }>> {
  const reply = (await stub.replicationRequest({ type: "pull", replica, fromZxid, maxBytes })) as PullReply<ShardLogEntry>;
  if (reply.kind !== "entries") throw new Error(`expected entries, got ${JSON.stringify(reply)}`);
  return reply;
}

/** Every entry the log holds, oldest first. */
async function wholeLog(stub: ShardStub, from = 0): Promise<ShardLogEntry[]> {
  const entries: ShardLogEntry[] = [];
  for (;;) {
    const page = await pull(stub, entries.at(-1)?.zxid ?? from);
    entries.push(...page.entries);
    if (page.entries.length === 0 || entries.at(-1)!.zxid === page.leaderZxid) return entries;
  }
}

const entryAt = (log: ShardLogEntry[], zxid: number): ShardLogEntry => {
  const entry = log.find((e) => e.zxid === zxid);
  if (!entry) throw new Error(`no log entry at ${zxid}`);
  return entry;
};
const keysOf = (entry: ShardLogEntry, table: "znode" | "session") => entry.effects.filter((e) => e.table === table).map((e) => e.key);

/** Makes the object's stored role `role` (as a later part's promotion or demotion would). */
async function setRole(stub: ShardStub, role: string): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec("UPDATE replication_meta SET row = json_set(row, '$.role', ?) WHERE key = 'meta'", role);
  });
}

describe("the shard's replication log", () => {
  it("opens with the root rows as the snapshot at (1, 0)", async () => {
    const { stub } = newShard();
    await lastZxid(stub);
    const [first] = await wholeLog(stub);
    expect(first).toMatchObject({ zxid: makeZxid(1, 0), epoch: 1, kind: "snapshot" });
    expect(keysOf(first!, "znode")).toEqual(["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]);
    expect(first!.effects[0]!.row).toMatchObject({ path: "/", numChildren: 1, acl: [{ perms: 31 }] });
  });

  it("of a mounted subtree opens with its root, with the mount point's ACL, and the subtree it serves as the snapshot at (1, 0)", async () => {
    const { stub } = newShard();
    const acl = [{ perms: 1, scheme: "world", id: "anyone" }];
    await stub.initMount("/m", acl);
    const [first, ...rest] = await wholeLog(stub);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ zxid: makeZxid(1, 0), kind: "snapshot", effects: [{ table: "znode", key: "/m", row: { path: "/m", acl } }, { table: "subtree", row: { root: "/m", sealed: false } }] });
  });

  it("logs every write that takes a zxid, failed ones and multis of checks included, each with its commit record: no holes", async () => {
    const { stub } = newShard();
    const start = await lastZxid(stub);
    await exec(
      stub,
      S,
      { op: "create", path: "/a", data: bytes("v"), cxid: 1 },
      { op: "create", path: "/a", cxid: 2 },
      { op: "multi", ops: [{ op: "check", path: "/a", version: 0 }], cxid: 3 },
      { op: "create", path: "/e", mode: "EPHEMERAL", cxid: 4 },
    );
    await stub.closeSession("/", S.sessionId);
    const log = await wholeLog(stub);
    expect(log.map((e) => e.zxid)).toEqual(Array.from({ length: 6 }, (_, i) => makeZxid(1, i)));
    const created = entryAt(log, start + 1);
    expect(created).toMatchObject({ kind: "write", session: S.sessionId, cxid: 1, reply: { ok: true, zxid: start + 1 } });
    expect(keysOf(created, "znode")).toEqual(["/a", "/"]);
    expect(created.effects.find((e) => e.key === "/a")!.row).toMatchObject({ path: "/a", data: bytes("v"), czxid: start + 1 });
    expect(created.effects.find((e) => e.table === "session")!.row).toEqual({ session: S.sessionId, cxid: 1, reply: created.reply });
    const failed = entryAt(log, start + 2);
    expect(failed).toMatchObject({ cxid: 2, reply: { ok: false, zxid: start + 2, error: { name: "NodeExists" } } });
    expect(keysOf(failed, "znode")).toEqual([]);
    expect(keysOf(failed, "session")).toEqual([`${S.sessionId}/2`]);
    const checks = entryAt(log, start + 3);
    expect(checks).toMatchObject({ cxid: 3, reply: { ok: true } });
    expect(keysOf(checks, "znode")).toEqual([]);
    const closed = entryAt(log, start + 5);
    expect(closed).toMatchObject({ kind: "close-session", session: S.sessionId });
    expect(closed.effects).toContainEqual({ table: "znode", key: "/e", row: null });
    expect(closed.effects).toContainEqual({ table: "session", key: `${S.sessionId}/closed`, row: { session: S.sessionId, closedAt: expect.any(Number) } });
  });

  it("a failed write of no session takes no zxid and logs nothing", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/a" });
    const before = await lastZxid(stub);
    expect(await run(stub, ANON, { op: "create", path: "/a" })).toMatchObject({ ok: false, zxid: before });
    expect(await lastZxid(stub)).toBe(before);
    expect((await wholeLog(stub)).at(-1)!.zxid).toBe(before);
  });

  it("a retried cxid after the object is aborted gets its logged reply, not a second run", async () => {
    const { id, stub } = newShard();
    const [first, failed] = await exec(stub, S, { op: "create", path: "/r", cxid: 7 }, { op: "delete", path: "/nope", cxid: 8 });
    await abortAllDurableObjects();
    const again = reconnect(id);
    await ok(again, ANON, { op: "create", path: "/nope" });
    const retried = await exec(again, S, { op: "create", path: "/r", cxid: 7 }, { op: "delete", path: "/nope", cxid: 8 });
    expect(retried).toEqual([first, failed]);
    expect((failed as Outcome & { ok: false }).error.name).toBe("NoNode");
    const log = await wholeLog(again);
    expect(entryAt(log, failed!.zxid).effects).toEqual([{ table: "session", key: `${S.sessionId}/8`, row: { session: S.sessionId, cxid: 8, reply: failed } }]);
  });

  it("an object that is not the leader refuses writes and reads with notLeader, and writes nothing", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/a" });
    const before = await lastZxid(stub);
    for (const role of ["replica", "sealed"]) {
      await setRole(stub, role);
      const [write, read] = await exec(stub, S, { op: "setData", path: "/a", data: bytes("x"), cxid: 1 }, { op: "getData", path: "/a" });
      expect(write).toMatchObject({ ok: false, notLeader: true, error: { name: "SystemError" } });
      expect(read).toMatchObject({ ok: false, notLeader: true });
      expect(await stub.closeSession("/", S.sessionId)).toMatchObject({ ok: false, notLeader: true });
      expect(await lastZxid(stub)).toBe(before);
    }
    await setRole(stub, "leader");
    expect((await wholeLog(stub)).at(-1)!.zxid).toBe(before);
  });

  it("an object that is not the leader does not reap (its leader's log deletes what expired)", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/t", mode: "PERSISTENT_WITH_TTL", ttlMs: 300 });
    const before = await lastZxid(stub);
    await setRole(stub, "replica");
    await sleep(350);
    // Whether the alarm has fired by itself by now or fires here.
    await runDurableObjectAlarm(stub);
    await setRole(stub, "leader");
    expect(await lastZxid(stub)).toBe(before);
    expect(await exists(stub, "/t")).toBe(true);
  });
});

describe("pulls", () => {
  it("answer pages of at most the bytes asked (at least one entry), in zxid order", async () => {
    const { stub } = newShard();
    const start = await lastZxid(stub);
    for (let i = 0; i < 6; i++) await ok(stub, ANON, { op: "create", path: `/v${i}`, data: new Uint8Array(2500).fill(i) });
    const page = await pull(stub, start, 10_000);
    expect(page.entries.length).toBeGreaterThan(1);
    expect(page.entries.length).toBeLessThan(6);
    expect(page.entries.reduce((sum, e) => sum + e.size, 0)).toBeLessThanOrEqual(10_000);
    expect(page.entries.map((e) => e.zxid)).toEqual(page.entries.map((_, i) => start + 1 + i));
    expect((await pull(stub, start, 1)).entries).toHaveLength(1);
  });

  it("at the head wait for the next commit, and answer it", async () => {
    const { stub } = newShard();
    const head = await lastZxid(stub);
    const waiting = pull(stub, head);
    await ok(stub, ANON, { op: "create", path: "/woke" });
    const page = await waiting;
    expect(page.entries.map((e) => [e.zxid, keysOf(e, "znode")])).toEqual([[head + 1, ["/woke", "/"]]]);
  });

  it("at the head answer empty once the long poll ends, saying how long they were held", async () => {
    const { stub } = newShard();
    const head = await lastZxid(stub);
    expect(await pull(stub, head)).toEqual({ kind: "entries", afterZxid: head, entries: [], leaderZxid: head, logId: expect.any(String), epoch: expect.any(Number), heldMs: expect.any(Number) });
  });

  it("from a zxid the log no longer holds ask for a snapshot, served in pages", async () => {
    const { stub } = newShard();
    await lastZxid(stub);
    for (let i = 0; i < changeLogWindow + 5; i++) await ok(stub, ANON, { op: "create", path: `/n${i}` });
    expect(await stub.replicationRequest({ type: "pull", replica: "late", fromZxid: makeZxid(1, 1), maxBytes: 1 << 20 })).toMatchObject({ kind: "snapshot-needed" });
    const page = await stub.replicationRequest({ type: "snapshot", replica: "late", cursor: null, maxBytes: 2_000 });
    expect(page).toMatchObject({ kind: "page", startZxid: await lastZxid(stub), next: { table: "znode" } });
  });
});

describe("bad replication requests", () => {
  it("are refused with BadArguments, and change nothing", async () => {
    const { stub } = newShard();
    const head = await lastZxid(stub);
    const bad = [
      { type: "pull", replica: "", fromZxid: 0, maxBytes: 1000 },
      { type: "pull", replica: "r", fromZxid: -1, maxBytes: 1000 },
      { type: "pull", replica: "r", fromZxid: "7", maxBytes: 1000 },
      { type: "push", replica: "r" },
    ];
    await runInDurableObject(stub, async (instance: ShardDO) => {
      for (const message of bad) await expect(instance.replicationRequest(message as never)).rejects.toMatchObject({ keeperName: "BadArguments" });
    });
    expect(await lastZxid(stub)).toBe(head);
  });
});

describe("the trim", () => {
  it("keeps the newest EDGEKEEPER_CHANGE_LOG_WINDOW entries, and the change log's events with them", async () => {
    const { stub } = newShard();
    for (let i = 0; i < changeLogWindow + 10; i++) await ok(stub, ANON, { op: "create", path: `/n${i}` });
    const last = await lastZxid(stub);
    const log = await wholeLog(stub, last - changeLogWindow);
    expect(log).toHaveLength(changeLogWindow);
    const { oldest, events } = await stub.changesSince(0);
    expect(oldest).toBe(last - changeLogWindow + 1);
    expect(events[0]!.zxid).toBe(oldest);
  });

  it("at its bound drops one entry per write, its count and bytes matching the entries it keeps", async () => {
    const { stub } = newShard();
    // Values of many sizes, so a trim that took a wrong size would show in the bytes.
    for (let i = 0; i < changeLogWindow + 40; i++) await ok(stub, ANON, { op: "create", path: `/n${i}`, data: bytes("x".repeat(i * 37)) });
    const last = await lastZxid(stub);
    const log = await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      const meta = JSON.parse(sql.exec<{ row: string }>("SELECT row FROM replication_meta").one().row) as { logEntries: number; logBytes: number; trimmedZxid: number };
      const kept = sql.exec<{ entries: number; bytes: number; sizes: number; oldest: number }>(
        "SELECT count(*) AS entries, sum(json_extract(row, '$.size')) AS bytes, sum(size) AS sizes, min(key) AS oldest FROM replication_log",
      ).one();
      return { meta, kept };
    });
    expect(log.kept).toEqual({ entries: changeLogWindow, bytes: log.meta.logBytes, sizes: log.meta.logBytes, oldest: last - changeLogWindow + 1 });
    expect(log.meta).toMatchObject({ logEntries: changeLogWindow, trimmedZxid: last - changeLogWindow });
  });

  it("never passes what a replica still pulling has applied", async () => {
    const { stub } = newShard();
    const held = await lastZxid(stub);
    await pull(stub, held, 1 << 20, "slow");
    for (let i = 0; i < changeLogWindow + 10; i++) await ok(stub, ANON, { op: "create", path: `/n${i}` });
    const log = await wholeLog(stub, held);
    expect(log).toHaveLength(changeLogWindow + 10);
  });

  it("an epoch change trims nothing early: the log runs across it in order", async () => {
    const { stub } = newShard();
    for (let i = 0; i < 10; i++) await ok(stub, ANON, { op: "create", path: `/a${i}` });
    // Part 2 moves leaders; here the object's own core opens epoch 2 in place.
    await runInDurableObject(stub, (instance: ShardDO) => expect(instance["leader"].activate(2, () => [])).toMatchObject({ epoch: 2 }));
    for (let i = 0; i < 10; i++) await ok(stub, ANON, { op: "create", path: `/b${i}` });
    const log = await wholeLog(stub);
    expect(log.map((e) => e.zxid)).toEqual([
      ...Array.from({ length: 11 }, (_, i) => makeZxid(1, i)),
      ...Array.from({ length: 11 }, (_, i) => makeZxid(2, i)),
    ]);
    expect(entryAt(log, makeZxid(2, 0)).kind).toBe("epoch-start");
  });
});

describe("a log made before its size and events columns", () => {
  it("gets them from its entries at the next start, and trims and serves pulls by them", async () => {
    const { id, stub } = newShard();
    for (let i = 0; i < 5; i++) await ok(stub, ANON, { op: "create", path: `/old${i}`, data: bytes("x".repeat(i * 100)) });
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      asLogBeforeSizeColumns(sql);
    });
    await abortAllDurableObjects();
    const again = reconnect(id);
    const sizes = await runInDurableObject(again, (_instance, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM replication_log WHERE size IS NOT json_extract(row, '$.size')").one().n,
    );
    expect(sizes).toBe(0);
    const first = await lastZxid(again);
    for (let i = 0; i < changeLogWindow; i++) await ok(again, ANON, { op: "create", path: `/new${i}` });
    const log = await wholeLog(again, first);
    expect(log).toHaveLength(changeLogWindow);
    expect((await pull(again, first + 1)).entries[0]!.zxid).toBe(first + 2);
  });
});

describe("a shard from before the replication log", () => {
  it("keeps its zxids: it leads its epoch from its last zxid on", async () => {
    const { id, stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/old" });
    const legacy = makeZxid(3, 41);
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      for (const table of ["replication_meta", "replication_log"]) sql.exec(`DELETE FROM ${table}`);
      sql.exec("INSERT INTO meta (key, value) VALUES ('epoch', 3), ('counter', 41)");
    });
    await abortAllDurableObjects();
    const again = reconnect(id);
    expect(await lastZxid(again)).toBe(legacy);
    expect((await ok(again, ANON, { op: "create", path: "/new" })).path).toBe("/new");
    expect(await lastZxid(again)).toBe(legacy + 1);
    expect(await again.replicationRequest({ type: "pull", replica: "r", fromZxid: 0, maxBytes: 1 << 20 })).toMatchObject({ kind: "snapshot-needed" });
    expect((await pull(again, legacy)).entries.map((e) => e.zxid)).toEqual([legacy + 1]);
  });
});
