/**
 * SessionHost through its real RPC entry points, with real SQLite, alarms and
 * shards: timeouts, ephemerals that go on close and expiry (and not before), many
 * sessions on one alarm, restarts, FIFO order, retried writes, passwords.
 * The tick is 200 ms here (vitest.config.ts): timeouts lie in [400, 4000] ms.
 */
import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hostNumberOfSession, negotiateTimeout, parseSessionId, sessionIdHex } from "../../protocol/session-ids.ts";
import { DEADLINE_SLACK } from "../../durable/session/session-store.ts";
import type { ShardRequest } from "../../protocol/index.ts";
import { MAX_TIMEOUT_MS, MIN_TIMEOUT_MS, TICK_MS, TestHost, errorName, eventually, shardOf } from "../harness/sessions.ts";
import { sleep } from "../harness/shard.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const EPHEMERAL = { mode: "EPHEMERAL" } as const;

describe("opening a session", () => {
  it("negotiates the timeout into [2, 20] ticks, as ZooKeeper does", async () => {
    const host = new TestHost();
    const granted = async (ms: number) => (await host.open(ms)).timeoutMs;
    expect(await granted(1)).toBe(MIN_TIMEOUT_MS);
    expect(await granted(-5)).toBe(MIN_TIMEOUT_MS);
    expect(await granted(MIN_TIMEOUT_MS - 1)).toBe(MIN_TIMEOUT_MS);
    expect(await granted(1_000)).toBe(1_000);
    expect(await granted(MAX_TIMEOUT_MS + 1)).toBe(MAX_TIMEOUT_MS);
    expect(await granted(Number.MAX_SAFE_INTEGER)).toBe(MAX_TIMEOUT_MS);
    expect(negotiateTimeout(Number.NaN, 4_000, 40_000)).toBe(4_000);
    expect(negotiateTimeout(60_000, 4_000, 40_000)).toBe(40_000);
  });

  it("gives ids that name their host, never reused, with a password each", async () => {
    const host = new TestHost(3);
    const a = await host.open();
    const b = await host.open();
    expect(hostNumberOfSession(a.sessionId)).toBe(3);
    expect(hostNumberOfSession(b.sessionId)).toBe(3);
    expect(b.sessionId).toBeGreaterThan(a.sessionId);
    expect(a.password).not.toBe(b.password);
    expect(a.password).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(parseSessionId(sessionIdHex(a.sessionId))).toBe(a.sessionId);
    expect(parseSessionId(String(a.sessionId))).toBe(a.sessionId);
    await host.close(a);
    expect((await host.open()).sessionId).toBeGreaterThan(b.sessionId);
  });
});

describe("the sessions a host holds", () => {
  it("stop at EDGEKEEPER_MAX_SESSIONS_PER_HOST (30 here): one more is Throttled, and a close makes room", async () => {
    const host = new TestHost();
    const held = [];
    for (let i = 0; i < 30; i++) held.push(await host.open());
    const refused = await host.api().open(host.namespace, host.hostNumber, MAX_TIMEOUT_MS);
    expect(refused.ok ? "opened" : refused.error.name).toBe("Throttled");
    // The sessions it holds are unharmed.
    expect((await host.keepAlive(held[0]!)).ok).toBe(true);
    await host.close(held[0]!);
    expect((await host.api().open(host.namespace, host.hostNumber, MAX_TIMEOUT_MS)).ok).toBe(true);
  });
});

describe("ephemeral nodes of a session", () => {
  it("belong to the session and go when it closes; the session then answers SessionExpired", async () => {
    const host = new TestHost();
    await host.zk.mustCreate("/app");
    const s = await host.open();
    const created = await host.ok(s, { op: "create", path: "/app/e", ...EPHEMERAL });
    expect(created.stat.ephemeralOwner).toBe(s.sessionId);
    const seq = await host.ok(s, { op: "create", path: "/app/lock-", mode: "EPHEMERAL_SEQUENTIAL" });
    await host.ok(s, { op: "create", path: "/app/kept" });
    expect((await host.ok(s, { op: "getEphemerals", prefix: "/" })).paths).toEqual(["/app/e", seq.path]);

    expect(await host.close(s)).toEqual({ ok: true, value: { closed: true } });
    // Gone when close answers, not later.
    expect(await host.exists("/app/e")).toBe(false);
    expect(await host.exists(seq.path)).toBe(false);
    expect(await host.exists("/app/kept")).toBe(true);
    expect(errorName(await host.execute(s, [{ op: "exists", path: "/" }]))).toBe("SessionExpired");
    expect(errorName(await host.keepAlive(s))).toBe("SessionExpired");
    expect(errorName(await host.close(s))).toBe("SessionExpired");
    expect((await host.inspect()).sessions).toEqual([]);
  });

  it("stay while the session is kept alive, and go when it is not", async () => {
    const host = new TestHost();
    const s = await host.open(MIN_TIMEOUT_MS);
    await host.ok(s, { op: "create", path: "/e", ...EPHEMERAL });
    // Three timeouts' worth of keep-alives, one every quarter timeout.
    for (let i = 0; i < 12; i++) {
      await sleep(MIN_TIMEOUT_MS / 4);
      expect(errorName(await host.keepAlive(s))).toBe("ok");
    }
    expect(await host.exists("/e")).toBe(true);
    // Left alone, the real alarm expires it.
    const stopped = Date.now();
    await eventually("the ephemeral goes", async () => !(await host.exists("/e")));
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(MIN_TIMEOUT_MS - 50);
    expect(errorName(await host.keepAlive(s))).toBe("SessionExpired");
    expect(errorName(await host.execute(s, [{ op: "create", path: "/late", ...EPHEMERAL }]))).toBe("SessionExpired");
    expect(await host.exists("/late")).toBe(false);
  });

  it("requests keep the session alive too", async () => {
    const host = new TestHost();
    const s = await host.open(MIN_TIMEOUT_MS);
    await host.ok(s, { op: "create", path: "/e", ...EPHEMERAL });
    for (let i = 0; i < 8; i++) {
      await sleep(MIN_TIMEOUT_MS / 4);
      await host.ok(s, { op: "exists", path: "/e" });
    }
    expect(await host.exists("/e")).toBe(true);
  });

  it("on two mounted shards both go, on close and on expiry, and getEphemerals lists both", async () => {
    const host = new TestHost();
    const big = await host.mount("/big");
    await host.zk.mustCreate("/small");
    const closed = await host.open();
    const expiring = await host.open(MIN_TIMEOUT_MS);
    for (const s of [closed, expiring]) {
      await host.ok(s, { op: "create", path: `/big/e${s.sessionId}`, ...EPHEMERAL });
      await host.ok(s, { op: "multi", ops: [{ op: "create", path: `/small/e${s.sessionId}`, ...EPHEMERAL }] });
      expect((await host.ok(s, { op: "getEphemerals", prefix: "/" })).paths).toEqual([`/big/e${s.sessionId}`, `/small/e${s.sessionId}`]);
      expect((await host.ok(s, { op: "getEphemerals", prefix: "/big" })).paths).toEqual([`/big/e${s.sessionId}`]);
    }
    const recorded = (await host.inspect()).shards.filter((r) => r.session_id === closed.sessionId).map((r) => r.shard);
    expect(recorded.sort()).toEqual([big, "root"].sort());

    await host.close(closed);
    expect(await host.exists(`/big/e${closed.sessionId}`)).toBe(false);
    expect(await host.exists(`/small/e${closed.sessionId}`)).toBe(false);

    await eventually("the expired session's ephemerals go", async () => !(await host.exists(`/big/e${expiring.sessionId}`)) && !(await host.exists(`/small/e${expiring.sessionId}`)));
    expect(await host.inspect()).toMatchObject({ sessions: [], shards: [] });
  });
});

describe("many sessions on one host", () => {
  it("expire independently, each at its own deadline, with one alarm at the earliest", async () => {
    const host = new TestHost();
    const timeouts = [MIN_TIMEOUT_MS, 1_400, 2_600];
    const sessions = [];
    for (const t of timeouts) sessions.push(await host.open(t));
    const kept = await host.open(MIN_TIMEOUT_MS);
    for (const s of [...sessions, kept]) await host.ok(s, { op: "create", path: `/e${s.sessionId}`, ...EPHEMERAL });

    // One alarm, no later than the earliest deadline (requests since have moved deadlines on;
    // an alarm that finds nothing due sets the next one).
    const first = await host.inspect();
    const earliest = Math.min(...first.sessions.map((r) => r.deadline));
    expect(first.alarm).not.toBeNull();
    expect(first.alarm!).toBeLessThanOrEqual(earliest);
    expect(first.alarm!).toBeGreaterThan(earliest - MIN_TIMEOUT_MS);

    const goneAt = new Map<number, number>();
    const start = Date.now();
    while (goneAt.size < sessions.length && Date.now() - start < 6_000) {
      await host.keepAlive(kept);
      for (const s of sessions) {
        if (!goneAt.has(s.sessionId) && !(await host.exists(`/e${s.sessionId}`))) goneAt.set(s.sessionId, Date.now() - start);
      }
      await sleep(50);
    }
    const order = sessions.map((s) => goneAt.get(s.sessionId) ?? Number.POSITIVE_INFINITY);
    // Each went, in the order of its timeout, none long before its deadline.
    expect(order.every(Number.isFinite), JSON.stringify(order)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    order.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(timeouts[i]! - 300));
    expect(await host.exists(`/e${kept.sessionId}`)).toBe(true);
    const last = await host.inspect();
    expect(last.sessions.map((r) => r.id)).toEqual([kept.sessionId]);
    // The alarm follows the survivor's deadline.
    expect(last.alarm).not.toBeNull();
    expect(last.alarm!).toBeLessThanOrEqual(last.sessions[0]!.deadline);
  });
});

describe.each([
  ["an eviction", (host: TestHost) => evictDurableObject(host.stub())],
  ["an abort of every object", () => abortAllDurableObjects()],
] as const)("after %s of the host", (_, restart) => {
  it("a live session loses nothing acknowledged: password, cxids, the shards of its ephemerals", async () => {
    const host = new TestHost();
    await host.mount("/big");
    await host.zk.mustCreate("/n");
    const s = await host.open();
    await host.ok(s, { op: "create", path: "/big/e", ...EPHEMERAL });
    await host.ok(s, { op: "create", path: "/e", ...EPHEMERAL });
    await host.ok(s, { op: "setData", path: "/n", data: bytes("1") });
    const before = await host.inspect();

    await restart(host);

    expect(await host.inspect()).toEqual(before);
    expect(errorName(await host.keepAlive(s))).toBe("ok");
    expect(errorName(await host.keepAlive(s, "wrong"))).toBe("AuthFailed");
    // The cxid sequence continues: a new write is not mistaken for a retry of an old one.
    expect((await host.ok(s, { op: "setData", path: "/n", data: bytes("2") })).stat.version).toBe(2);
    await host.close(s);
    expect(await host.exists("/big/e")).toBe(false);
    expect(await host.exists("/e")).toBe(false);
  });

  it("writes still apply once: numbering goes on above every cxid used, and a retry finds its reply", async () => {
    const host = new TestHost();
    await host.zk.mustCreate("/q");
    const s = await host.open();
    // Numbered by the host (cxids kept in memory, reserved in the row a block at a time), and one given.
    for (let i = 0; i < 3; i++) await host.ok(s, { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" });
    await host.ok(s, { op: "getData", path: "/q" });
    const given: ShardRequest = { op: "setData", path: "/q", data: bytes("x"), cxid: 500 };
    const first = await host.run(s, given);

    await restart(host);

    // A new write after the restart is not taken for a retry of one before it.
    expect((await host.ok(s, { op: "create", path: "/q/n-", mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/q/n-0000000003");
    expect(await host.run(s, given)).toEqual(first);
    expect((await host.zk.mustGet("/q")).stat.version).toBe(1);
    await host.ok(s, { op: "setData", path: "/q", data: bytes("y") });
    expect((await host.zk.mustGet("/q")).stat.version).toBe(2);
  });

  it("a session renewed within its timeout lives on, and a silent one expires within its timeout", async () => {
    const host = new TestHost();
    const timeoutMs = 6 * TICK_MS;
    const kept = await host.open(timeoutMs);
    const silent = await host.open(timeoutMs);
    for (const s of [kept, silent]) await host.ok(s, { op: "create", path: `/e${s.sessionId}`, ...EPHEMERAL });
    // Renewed often (deadlines move in memory; rows are written only now and then).
    for (let i = 0; i < 4; i++) {
      await sleep(timeoutMs / 4);
      for (const s of [kept, silent]) expect(errorName(await host.keepAlive(s))).toBe("ok");
    }
    const silentSince = Date.now();

    await restart(host);

    for (let i = 0; i < 40 && (await host.exists(`/e${silent.sessionId}`)); i++) {
      await sleep(timeoutMs / 4);
      expect(errorName(await host.keepAlive(kept))).toBe("ok");
    }
    // Gone, but not before the part of its timeout a restart may cost it (DEADLINE_SLACK).
    expect(await host.exists(`/e${silent.sessionId}`)).toBe(false);
    expect(Date.now() - silentSince).toBeGreaterThanOrEqual(timeoutMs * (1 - DEADLINE_SLACK) - 50);
    expect(errorName(await host.keepAlive(silent))).toBe("SessionExpired");
    expect(await host.exists(`/e${kept.sessionId}`)).toBe(true);
    expect(errorName(await host.keepAlive(kept))).toBe("ok");
  });
});

describe("an expiry interrupted midway", () => {
  it("is finished after a restart, deleting each ephemeral exactly once", async () => {
    const host = new TestHost();
    const big = await host.mount("/big");
    const s = await host.open();
    await host.ok(s, { op: "create", path: "/big/e", ...EPHEMERAL });
    await host.ok(s, { op: "create", path: "/e", ...EPHEMERAL });

    // The host got as far as the root shard: session marked closing and due, the root
    // shard's ephemerals deleted and its record dropped; then it stopped.
    await runInDurableObject(host.stub(), async (_instance, state) => {
      state.storage.sql.exec("UPDATE sessions SET state = 'closing', deadline = ? WHERE id = ?", Date.now() - 1, s.sessionId);
      const outcome = await shardOf(host.namespace).closeSession("/", s.sessionId);
      expect(outcome.ok).toBe(true);
      state.storage.sql.exec("DELETE FROM session_shards WHERE session_id = ? AND shard = 'root'", s.sessionId);
    });
    expect(await host.exists("/e")).toBe(false);
    expect(await host.exists("/big/e")).toBe(true);
    await abortAllDurableObjects();

    expect(errorName(await host.execute(s, [{ op: "exists", path: "/" }]))).toBe("SessionExpired");
    await runDurableObjectAlarm(host.stub());
    await eventually("the expiry finishes", async () => (await host.inspect()).sessions.length === 0);
    expect(await host.exists("/big/e")).toBe(false);
    expect(await host.inspect()).toMatchObject({ sessions: [], shards: [] });

    // Once: one NodeDeleted per ephemeral, and a further alarm changes nothing.
    const deletions = async () => [
      ...(await shardOf(host.namespace).changesSince(0)).events,
      ...(await shardOf(host.namespace, big).changesSince(0)).events,
    ].filter((e) => e.event === "NodeDeleted").map((e) => e.path);
    expect((await deletions()).sort()).toEqual(["/big/e", "/e"]);
    await runDurableObjectAlarm(host.stub());
    expect((await deletions()).sort()).toEqual(["/big/e", "/e"]);
  });

  it("a close interrupted midway is finished by the alarm", async () => {
    const host = new TestHost();
    const s = await host.open();
    await host.ok(s, { op: "create", path: "/e", ...EPHEMERAL });
    // close() marks the session closing with a retry time before it asks any shard.
    await runInDurableObject(host.stub(), async (_instance, state) => {
      state.storage.sql.exec("UPDATE sessions SET state = 'closing', deadline = ? WHERE id = ?", Date.now() + 300, s.sessionId);
      await state.storage.setAlarm(Date.now() + 300);
    });
    await evictDurableObject(host.stub());
    expect(errorName(await host.keepAlive(s))).toBe("SessionExpired");
    await eventually("the alarm finishes the close", async () => !(await host.exists("/e")));
    expect((await host.inspect()).sessions).toEqual([]);
  });
});

describe("FIFO order of one session's requests", () => {
  it("requests sent together are answered in order, also across shards", async () => {
    const host = new TestHost();
    await host.mount("/big");
    const s = await host.open();
    // A slow request on one shard, then a fast one on another, ten times over.
    const slow = (i: number): ShardRequest => ({
      op: "multi",
      ops: Array.from({ length: 200 }, (_, j) => ({ op: "create" as const, path: `/big/s${i}-${j}`, data: new Uint8Array(2_000) })),
    });
    const fast = (i: number): ShardRequest => ({ op: "create", path: `/f${i}` });
    const answered: string[] = [];
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      for (const [name, request] of [[`slow${i}`, slow(i)], [`fast${i}`, fast(i)]] as const) {
        sent.push(host.execute(s, [request]).then((out) => {
          expect(errorName(out)).toBe("ok");
          answered.push(name);
        }));
      }
    }
    await Promise.all(sent);
    expect(answered).toEqual(["slow0", "fast0", "slow1", "fast1", "slow2", "fast2", "slow3", "fast3", "slow4", "fast4"]);
  });

  it("a close waits for the session's requests sent before it", async () => {
    const host = new TestHost();
    const s = await host.open();
    const creates = Array.from({ length: 5 }, (_, i) => host.execute(s, [{ op: "create", path: `/e${i}`, ...EPHEMERAL }]));
    const closed = host.close(s);
    for (const out of await Promise.all(creates)) {
      expect(errorName(out)).toBe("ok");
      if (out.ok) expect(errorName(out.value[0]!)).toBe("ok");
    }
    expect(errorName(await closed)).toBe("ok");
    for (let i = 0; i < 5; i++) expect(await host.exists(`/e${i}`)).toBe(false);
  });
});

describe("a retried write (the same cxid)", () => {
  it("applies once and answers as the first time; the next write applies anew", async () => {
    const host = new TestHost();
    await host.zk.mustCreate("/q");
    const s = await host.open();
    const create: ShardRequest = { op: "create", path: "/q/n-", mode: "EPHEMERAL_SEQUENTIAL", cxid: 7 };
    const first = await host.run(s, create);
    const again = await host.run(s, create);
    expect(again).toEqual(first);
    const set: ShardRequest = { op: "setData", path: "/q", data: bytes("x"), cxid: 8 };
    await host.run(s, set);
    await host.run(s, set);
    expect((await host.zk.mustGet("/q")).stat.version).toBe(1);
    expect((await host.zk.fetch("GET", "/v1/znodes/q?view=children").then((r) => r.json<{ children: string[] }>())).children).toEqual(["n-0000000000"]);
    // Requests without a cxid get numbers after the highest given: they apply.
    expect((await host.ok(s, { op: "setData", path: "/q", data: bytes("y") })).stat.version).toBe(2);
    // The row holds the highest cxid a write may have used (a ceiling reserved ahead), never less.
    expect((await host.inspect()).sessions[0]!.cxid).toBeGreaterThanOrEqual(9);
    expect(errorName(await host.run(s, { op: "exists", path: "/", cxid: -1 }))).toBe("BadArguments");
  });
});

describe("a wrong password", () => {
  it("is refused (AuthFailed) and neither harms nor keeps alive the session", async () => {
    const host = new TestHost();
    const s = await host.open(MIN_TIMEOUT_MS);
    await host.ok(s, { op: "create", path: "/e", ...EPHEMERAL });
    expect(errorName(await host.execute(s, [{ op: "delete", path: "/e" }], { password: "guess" }))).toBe("AuthFailed");
    expect(errorName(await host.close(s, "guess"))).toBe("AuthFailed");
    expect(errorName(await host.keepAlive(s, ""))).toBe("AuthFailed");
    expect(await host.exists("/e")).toBe(true);
    expect(errorName(await host.keepAlive(s))).toBe("ok");
    expect((await host.ok(s, { op: "getEphemerals", prefix: "/" })).paths).toEqual(["/e"]);
    // Only wrong-password keep-alives: the session expires all the same.
    await eventually("the session expires", async () => {
      await host.keepAlive(s, "guess");
      return !(await host.exists("/e"));
    });
  });
});

describe("an id no open session has", () => {
  it("answers SessionExpired: never opened, closed, or expired", async () => {
    const host = new TestHost();
    const live = await host.open();
    const unknown = { ...live, sessionId: live.sessionId + 1000 };
    expect(errorName(await host.keepAlive(unknown))).toBe("SessionExpired");
    expect(errorName(await host.execute(unknown, [{ op: "create", path: "/e", ...EPHEMERAL }]))).toBe("SessionExpired");
    expect(errorName(await host.close(unknown))).toBe("SessionExpired");
    expect(await host.exists("/e")).toBe(false);
    const fresh = new TestHost();
    expect(errorName(await fresh.keepAlive(live))).toBe("SessionExpired");
  });
});
