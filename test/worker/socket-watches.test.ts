/**
 * Watches over the WebSocket protocol: each kind firing once (or staying) with the
 * right event, an event before any reply that shows its change, events missed while
 * a session had no socket delivered on resume, and sessions and watches surviving a
 * host restart and hibernation.
 */
import { abortAllDurableObjects, env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { WatchListeners } from "../../client/core/watches.ts";
import { shardObjectName } from "../../durable/env.ts";
import { hostObjectName } from "../../protocol/session-ids.ts";
import { HttpClient, SUPER_AUTH } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";
import { sleep } from "../harness/shard.ts";
import { type EventMessage, type Res, SessionSocket, b64 } from "../harness/socket.ts";

async function setData(zk: HttpClient, path: string, data: string): Promise<void> {
  const res = await zk.set(path, { data });
  if (res.status !== 200) throw new Error(`set ${path}: ${res.status} ${await res.text()}`);
}

/** Reads each [op, path] on `sid`: its replies come after every event sent to it before them. */
async function readBack(socket: SessionSocket, sid: number, ...reads: ["getData" | "exists" | "getChildren", string][]): Promise<void> {
  for (const [op, path] of reads) await socket.ok(sid, { op, path });
}

/** A session resumed on a new socket. */
async function resumed(namespace: string, s: { sessionId: number; password: string }): Promise<SessionSocket> {
  const socket = await SessionSocket.open(namespace, { session: String(s.sessionId) });
  expect(await socket.connect(4_000, { sessionId: s.sessionId, password: s.password })).toMatchObject({ t: "connected", resumed: true });
  return socket;
}

function indexOfAnswer(log: SessionSocket["log"], sid: number, xid: number): number {
  return log.findIndex((m) => m !== "pong" && m.t === "res" && m.sid === sid && m.xid === xid);
}

function eventsOf(log: SessionSocket["log"], sid: number): EventMessage[] {
  return log.filter((m): m is EventMessage => m !== "pong" && m.t === "event" && m.sid === sid);
}

/** Dispatches an event as the TypeScript client does. */
function dispatchTo(listeners: WatchListeners, m: EventMessage): void {
  listeners.dispatch({ type: m.event, path: m.path, zxid: m.zxid, kind: m.kind, watchPath: m.watchPath });
}

async function twoSessions() {
  const zk = new HttpClient();
  const socket = await SessionSocket.open(zk.namespace, { host: "0" });
  const watcher = await socket.open();
  const writer = await socket.open();
  return { zk, socket, w: watcher.sessionId, x: writer.sessionId, watcher };
}

type HostRequest = { path?: string; watch?: boolean };

/**
 * Runs `taken` in host 0 of `namespace` (its router patched in place) on each answer
 * of a shard's leader to the host's hostExecute, with the requests it answers, before
 * the host takes that answer; answers the host's stub.
 */
async function beforeHostTakes(namespace: string, taken: (requests: HostRequest[]) => Promise<void>) {
  const host = env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(namespace, 0)));
  await runInDurableObject(host, (instance) => {
    const router = (instance as unknown as { router(): unknown }).router() as { shard(mount: unknown): Record<string, (...args: unknown[]) => Promise<unknown>> };
    const realShard = router.shard.bind(router);
    router.shard = (mount) => new Proxy(realShard(mount), {
      get(target, prop) {
        if (prop !== "hostExecute") return Reflect.get(target, prop);
        return async (...args: unknown[]) => {
          const answer = await target.hostExecute!(...args);
          await taken(args[4] as HostRequest[]);
          return answer;
        };
      },
    });
  });
  return host;
}

/**
 * Holds, in host 0 of `namespace`, the answer of the leader to a watching read of
 * `path` until `release`; `otherAnswered` tells when the leader answered a read of
 * `otherPath` (which is not held).
 */
async function holdWatchingRead(namespace: string, path: string, otherPath?: string) {
  const hold = { reached: false, otherAnswered: false, unblock: undefined as (() => void) | undefined, release: async () => undefined as unknown };
  const host = await beforeHostTakes(namespace, async (requests) => {
    if (requests.some((r) => r.path === otherPath)) hold.otherAnswered = true;
    if (requests.some((r) => r.path === path && r.watch === true)) {
      await new Promise<void>((resolve) => {
        hold.unblock = resolve;
        hold.reached = true;
      });
    }
  });
  hold.release = () => runInDurableObject(host, () => hold.unblock!());
  return hold;
}

/** Holds, in host 0 of `namespace`, the leader's answers to watching reads of `paths` until all are in: the host takes them at once. */
async function takeTogether(namespace: string, paths: readonly string[]): Promise<void> {
  const waiting = new Set(paths);
  let allIn: { promise: Promise<void>; resolve: () => void } | undefined;
  await beforeHostTakes(namespace, async (requests) => {
    const held = requests.find((r) => r.watch === true && r.path !== undefined && waiting.has(r.path));
    if (!held) return;
    if (!allIn) {
      let resolve!: () => void;
      allIn = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    }
    waiting.delete(held.path!);
    if (waiting.size === 0) allIn.resolve();
    await allIn.promise;
  });
}

/**
 * Holds, in host 0 of `namespace` (its router patched in place), a watching read of
 * `path` once its answer is in and its watch recorded, before the session is answered,
 * until the host is aborted (`reached` tells when).
 */
async function holdAnsweredWatchingRead(namespace: string, path: string) {
  const host = env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(namespace, 0)));
  const hold = { reached: false };
  await runInDurableObject(host, (instance) => {
    const router = (instance as unknown as { router(): unknown }).router() as { hostExecute(...args: unknown[]): Promise<unknown> };
    const realExecute = router.hostExecute.bind(router);
    router.hostExecute = async (...args: unknown[]) => {
      const answer = await realExecute(...args);
      const request = args[2] as { path?: string; watch?: boolean };
      if (request.path === path && request.watch === true) {
        hold.reached = true;
        await new Promise<never>(() => undefined);
      }
      return answer;
    };
  });
  return { hold, host };
}

/** Runs each push of the root shard of `namespace` to a host through `push`, given the real delivery. */
async function onPush(namespace: string, push: (deliver: () => Promise<number>) => Promise<number>): Promise<void> {
  const leader = env.SHARD.get(env.SHARD.idFromName(shardObjectName(namespace, "root")));
  await runInDurableObject(leader, (instance) => {
    const shard = instance as unknown as { hostStub(host: string): { deliver(...args: unknown[]): Promise<number> } };
    const realStub = shard.hostStub.bind(shard);
    shard.hostStub = (name) => {
      const stub = realStub(name);
      return { deliver: (...args: unknown[]) => push(() => stub.deliver(...args)) };
    };
  });
}

describe("watch kinds", () => {
  it("one-shot data, exists and child watches fire once with the right event", async () => {
    const { socket, w, x } = await twoSessions();
    await socket.ok(x, { op: "create", path: "/cfg", data: b64("0") });
    await socket.ok(x, { op: "create", path: "/jobs" });
    await socket.ok(w, { op: "getData", path: "/cfg", watch: true });
    await socket.ok(w, { op: "exists", path: "/later", watch: true });
    await socket.ok(w, { op: "getChildren", path: "/jobs", watch: true });
    await socket.ok(x, { op: "setData", path: "/cfg", data: b64("1") });
    await socket.ok(x, { op: "setData", path: "/cfg", data: b64("2") });
    await socket.ok(x, { op: "create", path: "/later" });
    await socket.ok(x, { op: "delete", path: "/later" });
    await socket.ok(x, { op: "create", path: "/jobs/a" });
    await socket.ok(x, { op: "create", path: "/jobs/b" });
    await eventually("three events", async () => socket.events(w).length >= 3);
    // A reply follows every event its session was sent before it: once the watcher has
    // read each write's result, an event the one-shot watches should not send is here.
    await readBack(socket, w, ["getData", "/cfg"], ["exists", "/later"], ["getChildren", "/jobs"]);
    expect(socket.events(w)).toEqual([
      ["NodeDataChanged", "/cfg", "data"],
      ["NodeCreated", "/later", "data"],
      ["NodeChildrenChanged", "/jobs", "child"],
    ]);
    expect(socket.events(x)).toEqual([]);
    // A data watch also fires on delete.
    await socket.ok(w, { op: "getData", path: "/cfg", watch: true });
    await socket.ok(x, { op: "delete", path: "/cfg" });
    await eventually("NodeDeleted", async () => socket.events(w).length === 4);
    expect(socket.events(w)[3]).toEqual(["NodeDeleted", "/cfg", "data"]);
  });

  it("a fired one-shot watch is out of the host's numbers at once", async () => {
    const { zk, socket, w, x } = await twoSessions();
    await socket.ok(x, { op: "create", path: "/n" });
    await socket.ok(w, { op: "getData", path: "/n", watch: true });
    const wchs = async () => (await (await zk.fetch("GET", "/v1/admin/commands/wchs")).json()) as { num_connections: number; num_total_watches: number };
    expect(await wchs()).toMatchObject({ num_connections: 1, num_total_watches: 1 });
    await socket.ok(x, { op: "setData", path: "/n", data: b64("1") });
    await eventually("the event", async () => socket.events(w).length === 1);
    expect(await wchs()).toMatchObject({ num_connections: 0, num_total_watches: 0 });
  });

  it("persistent and recursive watches stay; removeWatches stops them, NoWatcher when none", async () => {
    const { socket, w, x } = await twoSessions();
    await socket.ok(w, { op: "addWatch", path: "/app", mode: "persistent" });
    await socket.ok(w, { op: "addWatch", path: "/tree", mode: "recursive" });
    await socket.ok(x, { op: "create", path: "/app" });
    await socket.ok(x, { op: "create", path: "/app/c" });
    await socket.ok(x, { op: "setData", path: "/app", data: b64("1") });
    await socket.ok(x, { op: "create", path: "/tree" });
    await socket.ok(x, { op: "create", path: "/tree/a" });
    await socket.ok(x, { op: "setData", path: "/tree/a", data: b64("1") });
    await socket.ok(x, { op: "delete", path: "/tree/a" });
    await eventually("seven events", async () => socket.events(w).length >= 7);
    expect(socket.events(w)).toEqual([
      ["NodeCreated", "/app", "persistent"],
      ["NodeChildrenChanged", "/app", "persistent"],
      ["NodeDataChanged", "/app", "persistent"],
      ["NodeCreated", "/tree", "recursive"],
      ["NodeCreated", "/tree/a", "recursive"],
      ["NodeDataChanged", "/tree/a", "recursive"],
      ["NodeDeleted", "/tree/a", "recursive"],
    ]);
    const event = socket.log.find((m): m is EventMessage => m !== "pong" && m.t === "event" && m.path === "/tree/a");
    expect(event).toMatchObject({ sid: w, watchPath: "/tree" });
    await socket.ok(w, { op: "removeWatches", path: "/app", kind: "any" });
    expect(await socket.req(w, { op: "removeWatches", path: "/app", kind: "any" })).toMatchObject({ ok: false, error: { name: "NoWatcher" } });
    await socket.ok(x, { op: "setData", path: "/app", data: b64("2") });
    await socket.ok(x, { op: "create", path: "/tree/b" });
    await eventually("the recursive watch still fires", async () => socket.events(w).length === 8);
    await readBack(socket, w, ["getData", "/app"], ["exists", "/tree/b"]);
    expect(socket.events(w).slice(7)).toEqual([["NodeCreated", "/tree/b", "recursive"]]);
  });

  it("a watch held by two sessions fires for both; closing one leaves the other's", async () => {
    const { zk, socket, w, x } = await twoSessions();
    await zk.mustCreate("/shared");
    await socket.ok(w, { op: "addWatch", path: "/shared", mode: "persistent" });
    await socket.ok(x, { op: "addWatch", path: "/shared", mode: "persistent" });
    await setData(zk, "/shared", "1");
    await eventually("both see it", async () => socket.events(w).length === 1 && socket.events(x).length === 1);
    await socket.ok(x, { op: "close" });
    await setData(zk, "/shared", "2");
    await eventually("the other still sees it", async () => socket.events(w).length === 2);
  });
});

describe("ordering", () => {
  it("a watcher sees the event before any getData reply showing the new value, under concurrent writers", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/x", { data: "0" });
    const watching = await SessionSocket.open(zk.namespace, { host: "0" });
    const w = (await watching.open()).sessionId;
    const writers = await Promise.all([1, 2].map(() => SessionSocket.open(zk.namespace, { host: "1" })));
    const ids = await Promise.all(writers.map((s) => s.open()));
    const writing = writers.map(async (s, i) => {
      for (let n = 0; n < 15; n++) await s.ok(ids[i]!.sessionId, { op: "setData", path: "/x", data: b64(`${i}-${n}`) });
    });
    const reading = (async () => {
      for (let n = 0; n < 40; n++) await watching.ok(w, { op: "getData", path: "/x", watch: true });
    })();
    await Promise.all([...writing, reading]);
    // Each read re-arms the watch: a read showing a newer mzxid than the last must follow an event.
    let lastMzxid = -1;
    let eventSince = true;
    let checked = 0;
    for (const m of watching.log) {
      if (m === "pong") continue;
      if (m.t === "event") eventSince = true;
      if (m.t === "res" && m.ok) {
        const mzxid = (m.value as { stat: { mzxid: number } }).stat.mzxid;
        if (lastMzxid >= 0 && mzxid > lastMzxid) {
          expect(eventSince, `a reply at mzxid ${mzxid} came before its event`).toBe(true);
          checked++;
        }
        lastMzxid = mzxid;
        eventSince = false;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("an event pushed to the host before the answer of the read that set its watch fires once that answer is in", async () => {
    const { zk, socket, w } = await twoSessions();
    await zk.mustCreate("/held", { data: "0" });
    const hold = await holdWatchingRead(zk.namespace, "/held");
    let pushed = false;
    await onPush(zk.namespace, (deliver) => ((pushed = true), deliver()));
    const xid = 9_001;
    socket.send([{ t: "req", sid: w, xid, op: { op: "getData", path: "/held", watch: true } }]);
    await eventually("the watching read answered at the shard, its answer held", async () => hold.reached);
    // Another client's change, after the read: its event is pushed to the host, which has not recorded the watch yet.
    await setData(zk, "/held", "1");
    await eventually("the event pushed to the host", async () => pushed);
    await hold.release();
    expect(await socket.response(w, xid)).toMatchObject({ ok: true });
    await eventually("the watch fires", async () => eventsOf(socket.log, w).length > 0);
    await readBack(socket, w, ["getData", "/held"]);
    expect(eventsOf(socket.log, w).map((m) => [m.event, m.path])).toEqual([["NodeDataChanged", "/held"]]);
    // As ZooKeeper's server does: the reply that set the watch first, then its event.
    expect(indexOfAnswer(socket.log, w, xid)).toBeLessThan(socket.log.indexOf(eventsOf(socket.log, w)[0]!));
  });

  it("an event riding on another session's answer before the answer of the read that set its watch fires once that answer is in", async () => {
    const { zk, socket, w, x } = await twoSessions();
    await zk.mustCreate("/held", { data: "0" });
    await zk.mustCreate("/other", { data: "0" });
    const hold = await holdWatchingRead(zk.namespace, "/held", "/other");
    // No push reaches the host: the event can only ride on an answer.
    await onPush(zk.namespace, async () => {
      throw new Error("the test holds pushes");
    });
    const xid = 9_001;
    socket.send([{ t: "req", sid: w, xid, op: { op: "getData", path: "/held", watch: true } }]);
    await eventually("the watching read answered at the shard, its answer held", async () => hold.reached);
    await setData(zk, "/held", "1");
    // Another session's read at the shard carries the event to the host, which has not recorded the watch yet.
    socket.send([{ t: "req", sid: x, xid: 9_002, op: { op: "getData", path: "/other" } }]);
    await eventually("the other read's answer, with the event, at the host", async () => hold.otherAnswered);
    await hold.release();
    expect(await socket.response(w, xid)).toMatchObject({ ok: true });
    expect(await socket.response(x, 9_002)).toMatchObject({ ok: true });
    await eventually("the watch fires", async () => eventsOf(socket.log, w).length > 0);
    await readBack(socket, w, ["getData", "/held"]);
    expect(eventsOf(socket.log, w).map((m) => [m.event, m.path])).toEqual([["NodeDataChanged", "/held"]]);
    // As ZooKeeper's server does: the reply that set the watch first, then its event.
    expect(indexOfAnswer(socket.log, w, xid)).toBeLessThan(socket.log.indexOf(eventsOf(socket.log, w)[0]!));
  });

  it("watching reads of two sessions whose answers come in together, each carrying an owed event, are both answered", async () => {
    const { zk, socket, w, x } = await twoSessions();
    await zk.mustCreate("/owed", { data: "0" });
    await zk.mustCreate("/a", { data: "0" });
    await zk.mustCreate("/b", { data: "0" });
    // No push reaches the host: the change's event is owed to it, riding on each of its answers until it acknowledges it.
    await onPush(zk.namespace, async () => {
      throw new Error("the test holds pushes");
    });
    await socket.ok(w, { op: "getData", path: "/owed", watch: true });
    await setData(zk, "/owed", "1");
    await takeTogether(zk.namespace, ["/a", "/b"]);
    socket.send([
      { t: "req", sid: w, xid: 9_001, op: { op: "getData", path: "/a", watch: true } },
      { t: "req", sid: x, xid: 9_002, op: { op: "getData", path: "/b", watch: true } },
    ]);
    // Each answer's event waits for the other read's watch only if the other could be fired by it: neither can.
    expect(await socket.response(w, 9_001)).toMatchObject({ ok: true });
    expect(await socket.response(x, 9_002)).toMatchObject({ ok: true });
    await readBack(socket, w, ["getData", "/owed"]);
    expect(eventsOf(socket.log, w).map((m) => [m.event, m.path])).toEqual([["NodeDataChanged", "/owed"]]);
    // Both watches were recorded: each fires for its change.
    await setData(zk, "/a", "1");
    await setData(zk, "/b", "1");
    await readBack(socket, w, ["getData", "/owed"]);
    await readBack(socket, x, ["getData", "/owed"]);
    expect(eventsOf(socket.log, w).map((m) => [m.event, m.path])).toEqual([["NodeDataChanged", "/owed"], ["NodeDataChanged", "/a"]]);
    expect(eventsOf(socket.log, x).map((m) => [m.event, m.path])).toEqual([["NodeDataChanged", "/b"]]);
  });

  it("a watch set again before its pending event reaches the host still gets that event", async () => {
    const { zk, socket, w } = await twoSessions();
    await zk.mustCreate("/again", { data: "0" });
    // No push reaches the host: another client's write's event can only ride on the host's next answer, the read's.
    await onPush(zk.namespace, async () => {
      throw new Error("the test holds pushes");
    });
    await socket.ok(w, { op: "getData", path: "/again", watch: true });
    await setData(zk, "/again", "1");
    // Set again at a zxid past the write: the first watch's event is still owed, as ZooKeeper delivers it.
    await socket.ok(w, { op: "getData", path: "/again", watch: true });
    await eventually("the first watch's event", async () => eventsOf(socket.log, w).length > 0);
    expect(eventsOf(socket.log, w).map((m) => [m.event, m.path])).toEqual([["NodeDataChanged", "/again"]]);
  });
});

describe("surviving", () => {
  it("events that fire while a session has no socket are delivered on resume, in order", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/x", { data: "0" });
    const first = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await first.open();
    await first.ok(s.sessionId, { op: "getData", path: "/x", watch: true });
    await first.ok(s.sessionId, { op: "addWatch", path: "/p", mode: "recursive" });
    first.drop();
    // The host echoes the close once it has detached the socket's sessions.
    await first.waitClosed();
    await setData(zk, "/x", "1");
    await zk.mustCreate("/p");
    await zk.mustCreate("/p/q");
    await sleep(200);
    const second = await SessionSocket.open(zk.namespace, { session: String(s.sessionId) });
    expect(await second.connect(4_000, { sessionId: s.sessionId, password: s.password })).toMatchObject({ t: "connected", resumed: true });
    await eventually("three events", async () => second.events(s.sessionId).length === 3);
    expect(second.events(s.sessionId)).toEqual([
      ["NodeDataChanged", "/x", "data"],
      ["NodeCreated", "/p", "recursive"],
      ["NodeCreated", "/p/q", "recursive"],
    ]);
    const connected = second.log.findIndex((m) => m !== "pong" && m.t === "connected");
    const firstEvent = second.log.findIndex((m) => m !== "pong" && m.t === "event");
    expect(connected).toBeLessThan(firstEvent);
  });

  it("a host restart loses nothing acknowledged: the session resumes with its ephemeral and watches", async () => {
    const zk = new HttpClient();
    const first = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await first.open();
    await first.ok(s.sessionId, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await first.ok(s.sessionId, { op: "addWatch", path: "/w", mode: "persistent" });
    await abortAllDurableObjects();
    await sleep(50);
    const second = await SessionSocket.open(zk.namespace, { session: String(s.sessionId) });
    expect(await second.connect(4_000, { sessionId: s.sessionId, password: s.password })).toMatchObject({ t: "connected", resumed: true });
    expect((await second.ok(s.sessionId, { op: "getEphemerals", prefix: "/" })).paths).toEqual(["/e"]);
    await zk.mustCreate("/w");
    await eventually("the watch fires after the restart", async () => second.events(s.sessionId).length === 1);
    expect(second.events(s.sessionId)).toEqual([["NodeCreated", "/w", "persistent"]]);
  });

  it("a one-shot watch set just before a host abort fires once after it", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/x", { data: "0" });
    const first = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await first.open();
    await first.ok(s.sessionId, { op: "getData", path: "/x", watch: true });
    await abortAllDurableObjects();
    const second = await resumed(zk.namespace, s);
    await setData(zk, "/x", "1");
    await setData(zk, "/x", "2");
    await eventually("the watch fires after the abort", async () => second.events(s.sessionId).length === 1);
    await readBack(second, s.sessionId, ["getData", "/x"]);
    expect(second.events(s.sessionId)).toEqual([["NodeDataChanged", "/x", "data"]]);
  });

  it("an event held for the answer that set its watch survives a host abort before that answer", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/held", { data: "0" });
    const first = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await first.open();
    const { hold, host } = await holdAnsweredWatchingRead(zk.namespace, "/held");
    let acknowledged = 0;
    await onPush(zk.namespace, async (deliver) => (acknowledged = await deliver()));
    first.send([{ t: "req", sid: s.sessionId, xid: 9_001, op: { op: "getData", path: "/held", watch: true } }]);
    await eventually("the watch recorded, its answer not sent", async () => hold.reached);
    // A change after the read: its event is held for the answer, and its notification acknowledged to the shard.
    await setData(zk, "/held", "1");
    await eventually("the notification acknowledged", async () => acknowledged > 0);
    // The host has written that acknowledgement down: the shard will not send it again.
    await eventually("the acknowledgement written", async () =>
      runInDurableObject(host, (_, state) => state.storage.sql.exec<{ seq: number }>("SELECT max(seq) AS seq FROM shard_seqs").one().seq >= acknowledged),
    );
    await abortAllDurableObjects();
    const second = await resumed(zk.namespace, s);
    await eventually("the held event, after the abort", async () => second.events(s.sessionId).length > 0);
    await readBack(second, s.sessionId, ["getData", "/held"]);
    expect(second.events(s.sessionId)).toEqual([["NodeDataChanged", "/held", "data"]]);
  });

  it("a one-shot event sent again by a host aborted mid-delivery reaches a client's listeners once", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/x", { data: "0" });
    const first = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await first.open();
    const sid = s.sessionId;
    // The client's own registry of listeners, fed what the host sends in the order it sends it.
    const listeners = new WatchListeners();
    const heard: string[] = [];
    listeners.add("data", "/x", (ev) => heard.push(`first ${ev.zxid}`));
    await first.ok(sid, { op: "getData", path: "/x", watch: true });
    listeners.set("data", "/x");
    await setData(zk, "/x", "1");
    await eventually("the event", async () => first.events(sid).length === 1);
    const fired = eventsOf(first.log, sid)[0]!;
    dispatchTo(listeners, fired);
    // Aborted before the delivery is written: the host may process that notification again.
    await abortAllDurableObjects();
    const second = await resumed(zk.namespace, s);
    // The client sets the watch again: a listener is added before the read is answered.
    listeners.add("data", "/x", (ev) => heard.push(`again ${ev.zxid}`));
    const rearm = second.req(sid, { op: "getData", path: "/x", watch: true });
    const answered = await rearm;
    expect(answered.ok).toBe(true);
    for (const event of eventsOf(second.log, sid)) dispatchTo(listeners, event);
    listeners.set("data", "/x");
    // Whatever came again carries the zxid it had: the change the first listener heard.
    for (const event of eventsOf(second.log, sid)) expect(event.zxid).toBe(fired.zxid);
    const seen = second.log.length;
    await setData(zk, "/x", "2");
    await eventually("the next change", async () => eventsOf(second.log.slice(seen), sid).length === 1);
    for (const event of eventsOf(second.log.slice(seen), sid)) dispatchTo(listeners, event);
    await readBack(second, sid, ["getData", "/x"]);
    expect(eventsOf(second.log.slice(seen), sid)).toHaveLength(1);
    expect(heard).toEqual([`first ${fired.zxid}`, `again ${eventsOf(second.log.slice(seen), sid)[0]!.zxid}`]);
  });

  it("a one-shot watch fired just before hibernation, and set again after, fires once per change", async () => {
    const { zk, socket, w, x } = await twoSessions();
    await socket.ok(x, { op: "create", path: "/h", data: b64("0") });
    await socket.ok(w, { op: "getData", path: "/h", watch: true });
    await socket.ok(x, { op: "setData", path: "/h", data: b64("1") });
    await eventually("the first event", async () => socket.events(w).length === 1);
    // Evicted before the delivery is written.
    await evictDurableObject(env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(zk.namespace, 0))), { webSockets: "hibernate" });
    await socket.ok(w, { op: "getData", path: "/h", watch: true });
    await socket.ok(x, { op: "setData", path: "/h", data: b64("2") });
    await socket.ok(x, { op: "setData", path: "/h", data: b64("3") });
    await eventually("the second event", async () => socket.events(w).length >= 2);
    await readBack(socket, w, ["getData", "/h"]);
    const zxids = socket.log.filter((m): m is EventMessage => m !== "pong" && m.t === "event" && m.sid === w).map((m) => m.zxid);
    expect(zxids).toHaveLength(2);
    expect(zxids[1]).toBeGreaterThan(zxids[0]!);
    expect(socket.closed).toBeUndefined();
  });

  it("after hibernation, a session's events are still gated by its own address on the socket", async () => {
    const zk = new HttpClient();
    const root = zk.as(SUPER_AUTH);
    await root.mustCreate("/app");
    await root.mustCreate("/app/home", { data: "0", acl: [{ perms: "r", scheme: "ip", id: "127.0.0.1" }] });
    const socket = await SessionSocket.open(zk.namespace, { host: "0" });
    const own = await socket.open(); // the socket's own address: loopback, which may read /app/home
    const relayed = await socket.open(4_000, "10.9.9.9"); // a relayed client's, which may not
    for (const { sessionId } of [own, relayed]) await socket.ok(sessionId, { op: "addWatch", path: "/app", mode: "recursive" });
    await evictDurableObject(env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(zk.namespace, 0))), { webSockets: "hibernate" });
    await setData(root, "/app/home", "1");
    await eventually("the reader's event", async () => socket.events(own.sessionId).length === 1);
    expect(socket.events(own.sessionId)).toEqual([["NodeDataChanged", "/app/home", "recursive"]]);
    // An event comes before any reply that shows its change: none came for the other.
    await readBack(socket, relayed.sessionId, ["exists", "/app/home"]);
    expect(socket.events(relayed.sessionId)).toEqual([]);
  });

  it("hibernation keeps sockets, sessions and watches; the same socket goes on", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await socket.open();
    await socket.ok(s.sessionId, { op: "create", path: "/e", mode: "EPHEMERAL" });
    await socket.ok(s.sessionId, { op: "addWatch", path: "/w", mode: "persistent" });
    await evictDurableObject(env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(zk.namespace, 0))), { webSockets: "hibernate" });
    socket.send("ping");
    await socket.next((m) => m === "pong");
    await zk.mustCreate("/w");
    await eventually("the watch fires after waking", async () => socket.events(s.sessionId).length === 1);
    const res: Res = await socket.req(s.sessionId, { op: "getEphemerals", prefix: "/" });
    expect(res).toMatchObject({ ok: true, value: { paths: ["/e"] } });
    expect(socket.closed).toBeUndefined();
  });
});
