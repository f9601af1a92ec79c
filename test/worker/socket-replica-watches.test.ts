/**
 * Sessions outside their shards' leader region, with simulated regions (this file
 * runs in the workerd-regions project of vitest.config.ts: leaders in enam, a
 * replica in apac): a session host in apac reads and watches at the apac replica,
 * its home, with ZooKeeper's session guarantees: read-your-writes, monotonic reads,
 * a watch event before any answer showing its change, each one-shot watch once;
 * when home falls behind, the host's watches move to the leader and miss nothing
 * (also across a restart); each shard (a mounted subtree's too) has its own home.
 *
 * Which copy served a read is seen where its watch was left: the copy's own
 * registry (ShardDO.watchesOf), asked directly. A race of a watch being set with a
 * move of home is driven step by step: the host's calls to its replica are held or
 * answered "not ready" by the test (holdingReplicaCalls), never timed.
 */
import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type ShardCopy, ShardRouter } from "../../durable/directory/shard-router.ts";
import type { Mount } from "../../durable/directory/mount-table.ts";
import type { HostWatch } from "../../durable/shard/shard-do.ts";
import { shardObjectName } from "../../durable/env.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { hostNumberOf, hostObjectName } from "../../protocol/session-ids.ts";
import { HttpClient } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";
import { type EventMessage, type Res, SessionSocket, b64, unb64 } from "../harness/socket.ts";

const APAC_HOST = hostNumberOf("apac", 0);
/** Each test waits for replicas to start and catch up across simulated round trips. */
const TEST_MS = 60_000;

/** A shard copy's registry of watches, as its RPC answers. */
type Copy = { watchesOf(host: string): Promise<{ path: string; kind: string }[]> };

function copyOf(namespace: string, region?: "apac", shard = "root"): Copy {
  return env.SHARD.get(env.SHARD.idFromName(copyName(namespace, region, shard))) as unknown as Copy;
}

/** The object name of a shard's leader, or of its replica in `region`, as the Worker names them. */
function copyName(namespace: string, region?: "apac", shard = "root"): string {
  const leader = shardObjectName(namespace, shard);
  return region === undefined ? leader : replicaObjectName(leader, region);
}

async function setData(zk: HttpClient, path: string, data: string): Promise<void> {
  const res = await zk.set(path, { data });
  if (res.status !== 200) throw new Error(`set ${path}: ${res.status} ${await res.text()}`);
}

/** A session on the apac host, as a caller in apac opens it. */
async function apacSession(namespace: string) {
  const socket = await SessionSocket.open(namespace, { host: String(APAC_HOST) }, { "X-Edgekeeper-Region": "apac" });
  const s = await socket.open();
  return { socket, sid: s.sessionId, s, host: hostObjectName(namespace, APAC_HOST) };
}

/** The session resumed on a new socket, as a caller in apac does. */
async function resumed(namespace: string, s: { sessionId: number; password: string }): Promise<SessionSocket> {
  const socket = await SessionSocket.open(namespace, { session: String(s.sessionId) }, { "X-Edgekeeper-Region": "apac" });
  expect(await socket.connect(4_000, { sessionId: s.sessionId, password: s.password })).toMatchObject({ t: "connected", resumed: true });
  return socket;
}

/** Whether `copy` holds the host's watch on `path` (of `kind`). */
async function holds(copy: Copy, host: string, path: string, kind: string): Promise<boolean> {
  return (await copy.watchesOf(host)).some((w) => w.path === path && w.kind === kind);
}

/**
 * Reads `path` with a watch until the apac replica is the host's home and served it
 * (the first reads start the replica; meanwhile the leader serves).
 */
async function watchAtReplica(socket: SessionSocket, sid: number, namespace: string, host: string, path: string, shard = "root"): Promise<void> {
  await eventually(`a watching read of ${path} served by the apac replica`, async () => {
    await socket.ok(sid, { op: "getData", path, watch: true });
    return holds(copyOf(namespace, "apac", shard), host, path, "data");
  }, 20_000);
}

/** The index in the socket's log of the answer to `xid`, and of the first event on `path`. */
function order(socket: SessionSocket, sid: number, xid: number, path: string): { answer: number; event: number } {
  const answer = socket.log.findIndex((m) => m !== "pong" && m.t === "res" && m.sid === sid && m.xid === xid);
  const event = socket.log.findIndex((m) => m !== "pong" && m.t === "event" && m.sid === sid && m.path === path);
  return { answer, event };
}

/**
 * The test's hold on session hosts' calls to a replica (ShardRouter's copies patched
 * while a test runs, so a host restarted meanwhile is held too): a syncHost setting a
 * watch on `holdPath` (its answer, or with `holdBeforeSending` the call itself), or a
 * read of it, has its answer held until `release`; a read of `notReadyPath`, or a
 * syncHost setting a watch on it, is answered "not ready" (as a replica fallen
 * behind), and with `settleNotReady` so is every syncHost setting no watch (a settle).
 */
interface ReplicaHold {
  holdPath?: string;
  notReadyPath?: string;
  settleNotReady?: boolean;
  /** A held syncHost is held before it is sent, not after its answer. */
  holdBeforeSending?: boolean;
  /** Counts the settles (syncHost setting no watch) the replica answered ready. */
  settled?: number;
  /** How long a settle waits for the replica to apply its zxid, in place of the host's sequential wait (50 ms: a busy machine misses it now and then). */
  settleWaitMs?: number;
  reached: boolean;
  release?: () => void;
}

/** Resolves when the test releases the hold (one call at a time: a second would take the first's release). */
function held(hold: ReplicaHold): Promise<void> {
  if (hold.reached) throw new Error("held twice");
  return new Promise<void>((resolve) => {
    hold.release = resolve;
    hold.reached = true;
  });
}

type Stub = Record<string, (...args: unknown[]) => Promise<unknown>>;
const NOT_READY = { ready: false, appliedZxid: 0, msSinceContact: 0 };

/** Runs `test` with every router's calls to replicas going through `hold`; answers what it answers. */
async function holdingReplicaCalls<T>(hold: ReplicaHold, test: () => Promise<T>): Promise<T> {
  const routers = ShardRouter.prototype as unknown as { copy(mount: Mount, copy: ShardCopy): Stub };
  const realCopy = routers.copy;
  routers.copy = function (this: unknown, mount, copy) {
    const stub = realCopy.call(this, mount, copy);
    if (copy.at !== "replica") return stub;
    const wrapped: Stub = {
      syncHost: async (...args) => {
        const watches = args[4] as HostWatch[];
        if (hold.settleNotReady && watches.length === 0) return NOT_READY;
        const holding = watches.some((w) => w.path === hold.holdPath);
        if (holding && hold.holdBeforeSending) await held(hold);
        if (watches.some((w) => w.path === hold.notReadyPath)) return NOT_READY;
        if (watches.length === 0 && hold.settleWaitMs !== undefined) args[5] = hold.settleWaitMs;
        const answer = await stub.syncHost!(...args);
        if (holding && !hold.holdBeforeSending) await held(hold);
        if (watches.length === 0 && (answer as { ready: boolean }).ready && hold.settled !== undefined) hold.settled++;
        return answer;
      },
      replicaHostExecute: async (...args) => {
        const requests = args[4] as { path?: string }[];
        if (requests.some((r) => r.path === hold.notReadyPath)) return NOT_READY;
        const answer = await stub.replicaHostExecute!(...args);
        if (requests.some((r) => r.path === hold.holdPath)) await held(hold);
        return answer;
      },
    };
    return new Proxy(stub, { get: (target, prop) => (typeof prop === "string" && prop in wrapped ? wrapped[prop] : Reflect.get(target, prop)) });
  };
  try {
    return await test();
  } finally {
    routers.copy = realCopy;
  }
}

/**
 * The setup of a race of a watch being set with a move of home: /held (to be watched),
 * /behind (to be read "not ready"), session a holding a watch on /other at the
 * replica, its home, and session b on the same host.
 */
async function homeMoveRace() {
  const zk = new HttpClient();
  await zk.mustCreate("/held", { data: "0" });
  await zk.mustCreate("/other", { data: "0" });
  await zk.mustCreate("/behind", { data: "0" });
  const a = await apacSession(zk.namespace);
  await watchAtReplica(a.socket, a.sid, zk.namespace, a.host, "/other");
  const b = await apacSession(zk.namespace);
  const hostStub = env.SESSION_HOST.get(env.SESSION_HOST.idFromName(a.host));
  return { zk, a, b, hostStub };
}

describe("a session's reads and watches at its region's replica", () => {
  it("a sequential read is served by the replica, and its watch fires from there", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/cfg", { data: "v1" });
    const { socket, sid, host } = await apacSession(zk.namespace);
    await watchAtReplica(socket, sid, zk.namespace, host, "/cfg");
    // The leader's copy of a watch left before the replica was home goes (best effort, so eventually).
    await eventually("no watch of the host at the leader", async () => !(await holds(copyOf(zk.namespace), host, "/cfg", "data")));
    await setData(zk, "/cfg", "v2");
    await eventually("the event", async () => socket.events(sid).length === 1);
    expect(socket.events(sid)).toEqual([["NodeDataChanged", "/cfg", "data"]]);
    const read = await socket.ok(sid, { op: "getData", path: "/cfg" });
    expect(unb64(read.data)).toBe("v2");
  }, TEST_MS);

  it("the session's own write: its watch event comes before the write's answer, and a read then shows the write", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/a", { data: "0" });
    const { socket, sid, host } = await apacSession(zk.namespace);
    await watchAtReplica(socket, sid, zk.namespace, host, "/a");
    const written: Res = await socket.req(sid, { op: "setData", path: "/a", data: b64("mine") });
    expect(written.ok).toBe(true);
    const { answer, event } = order(socket, sid, written.xid, "/a");
    expect(event).toBeGreaterThanOrEqual(0);
    expect(event).toBeLessThan(answer);
    const read = await socket.ok(sid, { op: "getData", path: "/a" });
    expect(unb64(read.data)).toBe("mine");
    expect(read.stat.mzxid).toBe(written.zxid);
    expect(socket.events(sid)).toEqual([["NodeDataChanged", "/a", "data"]]);
  }, TEST_MS);

  it("reads never go back across many writes, the session's own and others'", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/m", { data: "0" });
    const { socket, sid, host } = await apacSession(zk.namespace);
    await watchAtReplica(socket, sid, zk.namespace, host, "/m");
    let lastVersion = -1;
    let lastZxid = 0;
    for (let i = 1; i <= 12; i++) {
      // Another client's write from the leader's region, not awaited: reads race it.
      const theirs = setData(zk, "/m", `theirs ${i}`);
      const read = await socket.req(sid, { op: "getData", path: "/m" });
      expect(read.ok).toBe(true);
      const { stat } = (read as Extract<Res, { ok: true }>).value as { stat: { version: number } };
      expect(stat.version).toBeGreaterThanOrEqual(lastVersion);
      expect(read.zxid).toBeGreaterThanOrEqual(lastZxid);
      lastVersion = stat.version;
      lastZxid = read.zxid;
      await theirs;
      if (i % 3 === 0) {
        const mine = await socket.req(sid, { op: "setData", path: "/m", data: b64(`mine ${i}`) });
        expect(mine.ok).toBe(true);
        const after = await socket.ok(sid, { op: "getData", path: "/m" });
        expect(unb64(after.data)).toBe(`mine ${i}`);
        lastVersion = after.stat.version;
      }
    }
  }, TEST_MS);

  it("a host whose replica fell behind moves its watches to the leader and misses no event", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/b", { data: "0" });
    await zk.mustCreate("/p", { data: "0" });
    await zk.mustCreate("/filler");
    const { socket, sid, s, host } = await apacSession(zk.namespace);
    await watchAtReplica(socket, sid, zk.namespace, host, "/b");
    await socket.ok(sid, { op: "addWatch", path: "/p", mode: "persistent" });
    expect(await holds(copyOf(zk.namespace, "apac"), host, "/p", "persistent")).toBe(true);
    // The replica stops (its next instance resumes pulling only when asked, an RTT behind).
    const replica = env.SHARD.get(env.SHARD.idFromName(copyName(zk.namespace, "apac")));
    await runInDurableObject(replica, (_, state) => state.abort("the test stops the replica")).catch(() => undefined);
    // The change comes while home is stopped, and writes of a page each put it several round trips behind.
    await setData(zk, "/b", "1");
    for (let i = 0; i < 6; i++) await setData(zk, "/filler", "f".repeat(1_500));
    // The session's own write: home has not applied it within the wait, so home moves to the leader.
    const written = await socket.req(sid, { op: "create", path: "/c" });
    expect(written.ok).toBe(true);
    const { answer, event } = order(socket, sid, written.xid, "/b");
    expect(event).toBeGreaterThanOrEqual(0);
    expect(event).toBeLessThan(answer);
    expect(await holds(copyOf(zk.namespace), host, "/p", "persistent")).toBe(true);
    await setData(zk, "/p", "1");
    await eventually("the persistent watch fires from the leader", async () => socket.events(sid).length === 2);
    expect(socket.events(sid)).toEqual([
      ["NodeDataChanged", "/b", "data"],
      ["NodeDataChanged", "/p", "persistent"],
    ]);
    // A restart of every object: the host still takes that shard's events from the leader.
    await abortAllDurableObjects();
    const again = await resumed(zk.namespace, s);
    await setData(zk, "/p", "2");
    await eventually("the persistent watch fires after the restart", async () => again.events(sid).length === 1);
    // Once the replica has caught up (and whether or not home went back to it), nothing fires twice.
    await eventually("the replica caught up", async () => {
      const read = await again.ok(sid, { op: "getData", path: "/p" });
      return unb64(read.data) === "2" && !(await holds(copyOf(zk.namespace, "apac"), host, "/b", "data"));
    });
    await again.ok(sid, { op: "sync", path: "/" });
    expect(again.events(sid)).toEqual([["NodeDataChanged", "/p", "persistent"]]);
  }, TEST_MS);

  it("a restarted host whose home moved since the copy that is home now last delivered replays nothing at its next move", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/anchor", { data: "0" });
    await zk.mustCreate("/p", { data: "0" });
    await zk.mustCreate("/behind", { data: "0" });
    const { socket, sid, s, host } = await apacSession(zk.namespace);
    await watchAtReplica(socket, sid, zk.namespace, host, "/anchor");
    await socket.ok(sid, { op: "addWatch", path: "/p", mode: "persistent" });
    // The replica, home, delivers a change.
    await setData(zk, "/p", "1");
    await eventually("the event from the replica", async () => socket.events(sid).length === 1);
    // Home falls behind a read: the leader becomes home, and delivers the next change.
    await holdingReplicaCalls({ notReadyPath: "/behind", reached: false }, async () => void (await socket.ok(sid, { op: "getData", path: "/behind" })));
    await setData(zk, "/p", "2");
    await eventually("the event from the leader", async () => socket.events(sid).length === 2);
    // Once the retry time has passed, a sequential read moves home back to the replica.
    await eventually("home is the replica again", async () => {
      await socket.ok(sid, { op: "getData", path: "/p" });
      return holds(copyOf(zk.namespace, "apac"), host, "/p", "persistent");
    }, 20_000);
    // The host restarts while home is not ready (its settle at the start gets nothing); home falls behind a read
    // again, and the move to the leader sets the watches from what was handed over: the leader's change too.
    const again = await holdingReplicaCalls({ notReadyPath: "/behind", settleNotReady: true, reached: false }, async () => {
      const hostStub = env.SESSION_HOST.get(env.SESSION_HOST.idFromName(host));
      await runInDurableObject(hostStub, (_, state) => state.abort("the test restarts the host")).catch(() => undefined);
      const resumedSocket = await resumed(zk.namespace, s);
      await resumedSocket.ok(sid, { op: "getData", path: "/behind" });
      return resumedSocket;
    });
    expect(await holds(copyOf(zk.namespace), host, "/p", "persistent")).toBe(true);
    await setData(zk, "/p", "3");
    await eventually("the next change's event", async () => again.events(sid).length > 0);
    await again.ok(sid, { op: "sync", path: "/" });
    const third = await again.ok(sid, { op: "getData", path: "/p" });
    expect(unb64(third.data)).toBe("3");
    const zxids = again.log.filter((m) => m !== "pong" && m.t === "event" && m.sid === sid).map((m) => (m as EventMessage).zxid);
    expect(zxids).toEqual([third.stat.mzxid]);
  }, TEST_MS);

  it("each shard has its own home: a mounted subtree's watches are at its own replica", async () => {
    const zk = new HttpClient();
    const mounted = await zk.mount("/big");
    expect(mounted.status).toBe(201);
    const shard = (await mounted.json<{ mount: { shard: string } }>()).mount.shard;
    await zk.mustCreate("/top", { data: "0" });
    await zk.mustCreate("/big/x", { data: "0" });
    const { socket, sid, host } = await apacSession(zk.namespace);
    await watchAtReplica(socket, sid, zk.namespace, host, "/top");
    await watchAtReplica(socket, sid, zk.namespace, host, "/big/x", shard);
    expect(await holds(copyOf(zk.namespace, "apac"), host, "/big/x", "data")).toBe(false);
    await setData(zk, "/big/x", "1");
    await setData(zk, "/top", "1");
    await eventually("both events", async () => socket.events(sid).length === 2);
    const written = await socket.req(sid, { op: "setData", path: "/big/x", data: b64("2") });
    expect(written).toMatchObject({ ok: true, shard });
    expect(socket.events(sid).sort()).toEqual([
      ["NodeDataChanged", "/big/x", "data"],
      ["NodeDataChanged", "/top", "data"],
    ]);
  }, TEST_MS);

  it("through an abort of every object, the session's watches at the replica still fire once", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/x", { data: "0" });
    await zk.mustCreate("/y", { data: "0" });
    const first = await apacSession(zk.namespace);
    await watchAtReplica(first.socket, first.sid, zk.namespace, first.host, "/x");
    await first.socket.ok(first.sid, { op: "addWatch", path: "/y", mode: "persistent" });
    await abortAllDurableObjects();
    const socket = await resumed(zk.namespace, first.s);
    await setData(zk, "/x", "1");
    await setData(zk, "/x", "2");
    await setData(zk, "/y", "1");
    await setData(zk, "/y", "2");
    await eventually("the events after the abort", async () => socket.events(first.sid).length >= 3, 15_000);
    await socket.ok(first.sid, { op: "sync", path: "/" });
    await socket.ok(first.sid, { op: "getData", path: "/x" });
    expect(socket.events(first.sid)).toEqual([
      ["NodeDataChanged", "/x", "data"],
      ["NodeDataChanged", "/y", "persistent"],
      ["NodeDataChanged", "/y", "persistent"],
    ]);
  }, TEST_MS);

  // The syncHost setting the watch reaches the replica before the move's removals there, or is held on its way until after them.
  it.each([["reaches the replica first", false], ["reaches the replica after the move", true]])("a watch being set at home while another session's request moves home to the leader goes with it: its event comes, and the old home keeps none of the host's watches (its syncHost %s)", async (_, sentAfter) => {
    const { zk, a, b, hostStub } = await homeMoveRace();
    const hold: ReplicaHold = { holdPath: "/held", notReadyPath: "/behind", holdBeforeSending: sentAfter as boolean, reached: false };
    await holdingReplicaCalls(hold, async () => {
      // A linearizable watching read is served by the leader; its watch is set at home
      // (syncHost at the replica), whose answer the test holds.
      const xid = 9_001;
      a.socket.send([{ t: "req", sid: a.sid, xid, op: { op: "getData", path: "/held", watch: true }, consistency: "linearizable" }]);
      await eventually("the held syncHost", async () => hold.reached);
      // Meanwhile another session's read finds home behind: home moves to the leader.
      await b.socket.ok(b.sid, { op: "getData", path: "/behind" });
      await runInDurableObject(hostStub, () => hold.release!());
      expect(await a.socket.response(a.sid, xid)).toMatchObject({ ok: true });
      // The old home keeps none of the host's watches (removed best effort, so eventually).
      await eventually("no watch of the host at the replica", async () => (await copyOf(zk.namespace, "apac").watchesOf(a.host)).length === 0);
      await setData(zk, "/held", "1");
      await eventually("the held read's watch fires", async () => a.socket.events(a.sid).some(([, path]) => path === "/held"));
      expect(a.socket.events(a.sid)).toEqual([["NodeDataChanged", "/held", "data"]]);
    });
  }, TEST_MS);

  it("a change home hands over while a watching read's answer is held, just before home moves to the leader, is delivered once", async () => {
    const { zk, a, b, hostStub } = await homeMoveRace();
    // Created by the session, so that its watch is set at home past the create (home may be the leader a while).
    await a.socket.ok(a.sid, { op: "create", path: "/p", data: b64("0") });
    await eventually("a persistent watch on /p at the replica", async () => {
      // A sequential read takes home back to the replica once the retry time has passed.
      await a.socket.ok(a.sid, { op: "getData", path: "/p" });
      await a.socket.ok(a.sid, { op: "addWatch", path: "/p", mode: "persistent" });
      return holds(copyOf(zk.namespace, "apac"), a.host, "/p", "persistent");
    }, 20_000);
    // Tells when the replica's push of the change to /p reaches the host (RPC calls the class's method: patched there for this test).
    const pushed = { value: false };
    type Deliver = (this: unknown, key: string, notifications: { path: string }[]) => Promise<number>;
    const hosts = (await runInDurableObject(hostStub, (instance) => Object.getPrototypeOf(instance))) as { deliver: Deliver };
    const realDeliver = hosts.deliver;
    hosts.deliver = async function (key, notifications) {
      if (notifications.some((n) => n.path === "/p")) pushed.value = true;
      return realDeliver.call(this, key, notifications);
    };
    const hold: ReplicaHold = { holdPath: "/held", notReadyPath: "/behind", reached: false };
    await holdingReplicaCalls(hold, async () => {
      // A watching read at home, its answer held: the host's notifications from there wait for it.
      const [xid] = b.socket.sendReqs(b.sid, { op: "getData", path: "/held", watch: true });
      await eventually("the held read", async () => hold.reached);
      // The replica pushes the change; then a write's settle at home hands it over again; then
      // a read finds home behind, and home moves to the leader. Each waits for the held read.
      await setData(zk, "/p", "1");
      await eventually("the push of the change", async () => pushed.value);
      const c = await apacSession(zk.namespace);
      // Its answer shows the change, so it waits for the change's event, which waits for the held read.
      const [write] = c.socket.sendReqs(c.sid, { op: "create", path: "/x" });
      // Its answer may carry what the leader owes: it waits for the held read, like them.
      const [behind] = a.socket.sendReqs(a.sid, { op: "getData", path: "/behind" });
      await eventually("home moved to the leader", async () => holds(copyOf(zk.namespace), a.host, "/p", "persistent"));
      await runInDurableObject(hostStub, () => hold.release!());
      expect(await b.socket.response(b.sid, xid!)).toMatchObject({ ok: true });
      expect(await c.socket.response(c.sid, write!)).toMatchObject({ ok: true });
      expect(await a.socket.response(a.sid, behind!)).toMatchObject({ ok: true });
      await eventually("the change's event", async () => a.socket.events(a.sid).length > 0);
      await a.socket.ok(a.sid, { op: "sync", path: "/" });
      expect(a.socket.events(a.sid)).toEqual([["NodeDataChanged", "/p", "persistent"]]);
    }).finally(() => (hosts.deliver = realDeliver));
  }, TEST_MS);

  it("a watching read at home answered after home moved to the leader: its watch is set at the leader and goes from the old home", async () => {
    const { zk, a, b, hostStub } = await homeMoveRace();
    const hold: ReplicaHold = { holdPath: "/held", notReadyPath: "/behind", reached: false };
    await holdingReplicaCalls(hold, async () => {
      // The read sets its watch at the replica, home; the test holds its answer.
      const [xid] = a.socket.sendReqs(a.sid, { op: "getData", path: "/held", watch: true });
      await eventually("the held read", async () => hold.reached);
      expect(await holds(copyOf(zk.namespace, "apac"), a.host, "/held", "data")).toBe(true);
      await b.socket.ok(b.sid, { op: "getData", path: "/behind" });
      await runInDurableObject(hostStub, () => hold.release!());
      expect(await a.socket.response(a.sid, xid!)).toMatchObject({ ok: true });
      expect(await holds(copyOf(zk.namespace), a.host, "/held", "data")).toBe(true);
      await eventually("no watch of the host at the replica", async () => (await copyOf(zk.namespace, "apac").watchesOf(a.host)).length === 0);
      await setData(zk, "/held", "1");
      await eventually("the read's watch fires from the leader", async () => a.socket.events(a.sid).length === 1);
      await a.socket.ok(a.sid, { op: "sync", path: "/" });
      expect(a.socket.events(a.sid)).toEqual([["NodeDataChanged", "/held", "data"]]);
    });
  }, TEST_MS);

  it("a write's answer waits for the events home hands over up to it, while another session's watching read there is on its way", async () => {
    const { a, b, hostStub } = await homeMoveRace();
    // Home is ready for the settle (one that is not moves home: the tests below).
    const hold: ReplicaHold = { holdPath: "/held", settled: 0, settleWaitMs: 2_000, reached: false };
    await holdingReplicaCalls(hold, async () => {
      // A watching read at home, its answer held: home's notifications wait for it to be recorded.
      const [read] = b.socket.sendReqs(b.sid, { op: "getData", path: "/held", watch: true });
      await eventually("the held read", async () => hold.reached);
      // The write goes to the leader; home hands over its change to /other (a settle) before its answer.
      const [write] = a.socket.sendReqs(a.sid, { op: "setData", path: "/other", data: b64("1") });
      await eventually("home's settle for the write", async () => hold.settled! > 0);
      await runInDurableObject(hostStub, () => hold.release!());
      expect(await b.socket.response(b.sid, read!)).toMatchObject({ ok: true });
      expect(await a.socket.response(a.sid, write!)).toMatchObject({ ok: true });
      const { answer, event } = order(a.socket, a.sid, write!, "/other");
      expect(event).toBeGreaterThanOrEqual(0);
      expect(event).toBeLessThan(answer);
    });
  }, TEST_MS);

  it("a watching read at the leader whose watch home cannot take moves home there, and the change after the read fires it though home had handed over past it", async () => {
    const { zk, a, b, hostStub } = await homeMoveRace();
    const hold: ReplicaHold = { holdPath: "/held", holdBeforeSending: true, notReadyPath: "/held", reached: false };
    await holdingReplicaCalls(hold, async () => {
      // Read at the leader, its watch left for home to set: the test holds that, then home answers "not ready".
      const xid = b.socket.sendReqIn("linearizable", b.sid, { op: "getData", path: "/held", watch: true });
      await eventually("home asked to set the read's watch", async () => hold.reached);
      // A change after the read, then one that home (the replica) hands over past it, for another watch.
      await setData(zk, "/held", "1");
      await setData(zk, "/other", "1");
      await eventually("home's event for /other", async () => a.socket.events(a.sid).length === 1);
      await runInDurableObject(hostStub, () => hold.release!());
      expect(await b.socket.response(b.sid, xid)).toMatchObject({ ok: true });
      await eventually("the read's watch fires from the leader", async () => b.socket.events(b.sid).length === 1);
      await b.socket.ok(b.sid, { op: "sync", path: "/" });
      expect(b.socket.events(b.sid)).toEqual([["NodeDataChanged", "/held", "data"]]);
    });
  }, TEST_MS);

  it("a restarted host whose home does not answer its first settles moves to the leader without handing over again the persistent events it had delivered", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/p", { data: "0" });
    await zk.mustCreate("/w", { data: "0" });
    const first = await apacSession(zk.namespace);
    await watchAtReplica(first.socket, first.sid, zk.namespace, first.host, "/w");
    await first.socket.ok(first.sid, { op: "addWatch", path: "/p", mode: "persistent" });
    expect(await holds(copyOf(zk.namespace, "apac"), first.host, "/p", "persistent")).toBe(true);
    await setData(zk, "/p", "1");
    await eventually("the persistent event from the replica", async () => first.socket.events(first.sid).length === 1);
    // After a restart of every object, the replica answers no settle: the host's first
    // answer from the leader moves home there, from what the replica had handed over.
    await holdingReplicaCalls({ settleNotReady: true, reached: false }, async () => {
      await abortAllDurableObjects();
      const socket = await resumed(zk.namespace, first.s);
      // A write the host has not been shown, so the read's answer needs a settle.
      await zk.mustCreate("/later");
      const xid = 9_002;
      socket.send([{ t: "req", sid: first.sid, xid, op: { op: "exists", path: "/p" }, consistency: "linearizable" }]);
      expect(await socket.response(first.sid, xid)).toMatchObject({ ok: true });
      expect(await holds(copyOf(zk.namespace), first.host, "/p", "persistent")).toBe(true);
      await setData(zk, "/p", "2");
      await eventually("the next persistent event, from the leader", async () => socket.events(first.sid).length >= 1);
      await socket.ok(first.sid, { op: "sync", path: "/" });
      expect(socket.events(first.sid)).toEqual([["NodeDataChanged", "/p", "persistent"]]);
    });
  }, TEST_MS);
});
