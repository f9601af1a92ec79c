/**
 * Watches over the WebSocket protocol: each kind firing once (or staying) with the
 * right event, an event before any reply that shows its change, events missed while
 * a session had no socket delivered on resume, and sessions and watches surviving a
 * host restart and hibernation.
 */
import { abortAllDurableObjects, env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
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

async function twoSessions() {
  const zk = new HttpClient();
  const socket = await SessionSocket.open(zk.namespace, { host: "0" });
  const watcher = await socket.open();
  const writer = await socket.open();
  return { zk, socket, w: watcher.sessionId, x: writer.sessionId, watcher };
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
