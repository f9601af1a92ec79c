/**
 * The client's session against a protocol double on loopback (a real WebSocket,
 * test/harness/fake-session-host.ts): batching, xid matching, errors, the state
 * machine through drops, silences, expiry and close, watches as the host sends them,
 * read modes per call and per client, and bookmarks kept per shard and handed back.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ConnectionState, type KeeperClient, connect } from "../../client/index.ts";
import type { WebSocketConstructor } from "../../client/core/socket.ts";
import { decodeBookmark } from "../../protocol/bookmark.ts";
import { makeZxid } from "../../protocol/zxid.ts";
import { FakeSessionHost } from "../harness/fake-session-host.ts";
import { until as untilWithin } from "../harness/recipe-clients.ts";

let host: FakeSessionHost;
const clients: KeeperClient[] = [];

beforeEach(async () => {
  host = await FakeSessionHost.start();
});

afterEach(async () => {
  for (const zk of clients.splice(0)) await zk.close().catch(() => undefined);
  await host.stop();
});

async function open(options: Partial<Parameters<typeof connect>[0]> = {}): Promise<KeeperClient> {
  const zk = await connect({ servers: [host.base], sessionTimeoutMs: 900, backoff: { baseMs: 10, capMs: 50 }, ...options });
  clients.push(zk);
  return zk;
}

function recordStates(zk: KeeperClient): ConnectionState[] {
  const states: ConnectionState[] = [];
  zk.on("state", (s) => states.push(s));
  return states;
}

/** A bound for a stuck test, not a speed assertion. */
const until = (condition: () => boolean) => untilWithin(condition, 5_000, "the condition");

const stat = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0, dataLength: 2, numChildren: 0 };

describe("connecting", () => {
  it("opens a session with the negotiated timeout, on the namespace and token asked", async () => {
    host.minTimeoutMs = 1_200;
    const zk = await open({ namespace: "tenant-a", token: "s3cret" });
    expect(zk.state).toBe("connected");
    expect(zk.sessionId).toBe([...host.sessions.keys()][0]);
    expect(zk.sessionTimeoutMs).toBe(1_200);
    expect(host.urls[0]!.pathname).toBe("/v1/sessions/socket");
    expect(Object.fromEntries(host.urls[0]!.searchParams)).toEqual({ namespace: "tenant-a" });
  });

  it("sends the token in the upgrade's Authorization header in Node, never in the URL", async () => {
    await open({ token: "s3cret" });
    expect(host.authorizations).toEqual(["Bearer s3cret"]);
    expect(host.urls[0]!.searchParams.has("token")).toBe(false);
  });

  it("sends the token as ?token= through a WebSocket constructor that may not take headers", async () => {
    // A constructor of the caller's own (a browser's, or a library's) gets the URL form.
    const Plain = class extends WebSocket {
      constructor(url: string) {
        super(url);
      }
    };
    await open({ token: "s3cret", WebSocket: Plain as unknown as WebSocketConstructor });
    expect(host.authorizations).toEqual([undefined]);
    expect(host.urls[0]!.searchParams.get("token")).toBe("s3cret");
  });

  it("fails with the server's error when refused, and with ConnectionLoss when nobody answers", async () => {
    host.refuseWith = { name: "AuthFailed", code: -115, message: "bad token" };
    await expect(open()).rejects.toMatchObject({ keeperName: "AuthFailed", message: "bad token" });
    host.refuseWith = undefined;
    host.silent = true;
    await expect(open({ connectTimeoutMs: 300, attemptTimeoutMs: 100 })).rejects.toMatchObject({ keeperName: "ConnectionLoss" });
  });

  it("names the servers it tried when none answers", async () => {
    host.silent = true;
    const failure = await open({ connectTimeoutMs: 300, attemptTimeoutMs: 100 }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ keeperName: "ConnectionLoss" });
    expect((failure as Error).message).toContain(host.base);
  });

  it("tries the next server when one is down", async () => {
    const dead = await FakeSessionHost.start();
    const deadBase = dead.base;
    await dead.stop();
    const zk = await open({ servers: [deadBase, host.base], random: () => 0 });
    expect(zk.state).toBe("connected");
  });

  it("adds auth first, and again after a resume", async () => {
    const zk = await open({ auth: [{ scheme: "digest", credentials: "u:p" }] });
    const states = recordStates(zk);
    await zk.exists("/x");
    expect(host.requests.map((r) => r.op.op)).toEqual(["addAuth", "exists"]);
    host.dropAll();
    await until(() => states.includes("reconnected"));
    await zk.exists("/y");
    expect(host.requests.map((r) => r.op.op)).toEqual(["addAuth", "exists", "addAuth", "exists"]);
  });
});

describe("requests", () => {
  it("sends every request of one tick in one frame, xids increasing, answered in order", async () => {
    const zk = await open();
    host.answer = (op) => ({ ok: true, value: { stat, path: "path" in op ? op.path : "", data: "aGk=" } });
    const before = host.frames.length;
    const results = await Promise.all([zk.create("/a", "x"), zk.getData("/a"), zk.setData("/a", "y", 0), zk.delete("/a", 1)]);
    expect(host.frames.length - before).toBe(1);
    const frame = host.frames.at(-1)!.messages;
    expect(frame.map((m) => (m.t === "req" ? [m.xid, m.op.op] : m.t))).toEqual([
      [1, "create"],
      [2, "getData"],
      [3, "setData"],
      [4, "delete"],
    ]);
    expect(frame[0]).toMatchObject({ sid: zk.sessionId, op: { op: "create", path: "/a", data: "eA==" } });
    expect(frame[2]).toMatchObject({ op: { op: "setData", path: "/a", data: "eQ==", version: 0 } });
    expect(results[0]).toBe("/a");
    expect(new TextDecoder().decode(results[1].data)).toBe("hi");
    expect(results[2]).toEqual(stat);
    // A later tick is a new frame.
    await zk.sync("/");
    expect(host.frames.length - before).toBe(2);
  });

  it("matches answers by xid", async () => {
    const zk = await open();
    host.hold = true;
    const a = zk.getChildren("/a");
    const b = zk.getChildren("/b");
    await until(() => host.requests.length === 2);
    const [ra, rb] = host.requests;
    host.send(zk.sessionId!, [
      { t: "res", sid: zk.sessionId!, xid: rb!.xid, zxid: 3, ok: true, value: { children: ["from-b"], stat } },
      { t: "res", sid: zk.sessionId!, xid: ra!.xid, zxid: 3, ok: true, value: { children: ["from-a"], stat } },
    ]);
    expect((await a).children).toEqual(["from-a"]);
    expect((await b).children).toEqual(["from-b"]);
    host.hold = false;
  });

  it("turns error bodies into KeeperErrors, with a failed multi's results", async () => {
    const zk = await open();
    const badVersion = { name: "BadVersion", code: -103, message: "bad version: /b", path: "/b" } as const;
    const results = [
      { op: "error", error: { name: "Ok", code: 0, message: "ok" } },
      { op: "error", error: badVersion },
      { op: "error", error: { name: "RuntimeInconsistency", code: -2, message: "runtime inconsistency" } },
    ] as const;
    host.answer = (op) =>
      op.op === "multi"
        ? { ok: false, error: badVersion, results: [...results] }
        : op.op === "exists"
          ? { ok: true, value: { stat: null } }
          : { ok: false, error: { name: "NoNode", code: -101, message: "no node: /a", path: "/a" } };
    await expect(zk.getData("/a")).rejects.toMatchObject({ name: "KeeperError.NoNode", keeperName: "NoNode", code: -101, path: "/a" });
    await expect(zk.transaction().create("/a").setData("/b", "x", 3).delete("/c").commit()).rejects.toMatchObject({
      keeperName: "BadVersion",
      results,
    });
    expect(host.requests.at(-1)!.op).toEqual({
      op: "multi",
      ops: [
        { op: "create", path: "/a", data: "" },
        { op: "setData", path: "/b", data: "eA==", version: 3 },
        { op: "delete", path: "/c" },
      ],
    });
    expect(await zk.exists("/nope")).toBeNull();
  });
});

describe("connection states", () => {
  it("suspends on a dropped socket, fails what was in flight, sends what waited, and reconnects the same session", async () => {
    const zk = await open();
    const states = recordStates(zk);
    const id = zk.sessionId;
    host.hold = true;
    const inFlight = zk.getData("/in-flight");
    await until(() => host.requests.length === 1);
    host.hold = false;
    host.dropAll();
    await expect(inFlight).rejects.toMatchObject({ keeperName: "ConnectionLoss" });
    expect(zk.state).toBe("suspended");
    const waited = zk.getChildren("/waited");
    host.answer = () => ({ ok: true, value: { children: ["ok"], stat } });
    expect((await waited).children).toEqual(["ok"]);
    expect(states).toEqual(["suspended", "reconnected"]);
    expect(zk.sessionId).toBe(id);
    expect(host.urls.at(-1)!.searchParams.get("session")).toBe(String(id));
    // The waiting request went after the resume with a higher xid.
    expect(host.requests.at(-1)).toMatchObject({ op: { op: "getChildren", path: "/waited" }, xid: 2 });
  });

  it("treats a socket with no pong for two thirds of the timeout as dead", async () => {
    const zk = await open();
    const states = recordStates(zk);
    // Pings go every third of the timeout (900 ms): a few frames while idle.
    host.mute(); // this socket goes quiet; a new one is answered
    const silentAt = Date.now();
    await until(() => states.length > 0);
    const noticedMs = Date.now() - silentAt;
    expect(noticedMs).toBeGreaterThanOrEqual(400);
    expect(noticedMs).toBeLessThan(900);
    await until(() => states.length === 2);
    expect(states).toEqual(["suspended", "reconnected"]);
  });

  it("reports lost when the host answers expired to the resume, then connected with a new session", async () => {
    const zk = await open();
    const states = recordStates(zk);
    const oldId = zk.sessionId!;
    host.hold = true; // keeps the socket quiet about the expiry until the resume
    host.sessions.delete(oldId);
    host.hold = false;
    host.dropAll();
    await until(() => states.includes("connected"));
    expect(states).toEqual(["suspended", "lost", "connected"]);
    expect(zk.sessionId).not.toBe(oldId);
  });

  it("reports lost when the host says the session expired, and fails requests of the old session", async () => {
    const zk = await open();
    const states = recordStates(zk);
    host.hold = true;
    const pending = zk.getData("/a");
    await until(() => host.requests.length === 1);
    host.expire(zk.sessionId!);
    await expect(pending).rejects.toMatchObject({ keeperName: "SessionExpired" });
    await until(() => zk.state === "connected");
    expect(states).toEqual(["lost", "connected"]);
  });

  it("reports lost on its own once the timeout has passed since its last frame, and not before", async () => {
    const zk = await open({ requestTimeoutMs: 5_000 });
    const states = recordStates(zk);
    const lostAt = new Promise<number>((resolve) => zk.on("lost", () => resolve(Date.now())));
    await host.stop(); // every server gone: nothing to resume on
    const stoppedAt = Date.now();
    await until(() => zk.state === "suspended");
    const waiting = zk.getData("/a").catch((e: unknown) => e);
    const at = await lostAt;
    expect(at - stoppedAt).toBeGreaterThanOrEqual(900 - 350); // the last ping was at most a third of the timeout before
    expect(states).toEqual(["suspended", "lost"]);
    await expect(waiting).resolves.toMatchObject({ keeperName: "SessionExpired" });
    host = await FakeSessionHost.start(); // for afterEach
  });

  it("gives up on a request that waits longer than requestTimeoutMs", async () => {
    const zk = await open({ requestTimeoutMs: 150, attemptTimeoutMs: 2_000 });
    host.silent = true;
    host.dropAll();
    await until(() => zk.state === "suspended");
    const started = Date.now();
    await expect(zk.getData("/a")).rejects.toMatchObject({ keeperName: "ConnectionLoss" });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("resumes when the host says the session moved away from this socket", async () => {
    const zk = await open();
    const states = recordStates(zk);
    host.send(zk.sessionId!, [{ t: "closed", sid: zk.sessionId!, reason: "moved" }]);
    await until(() => states.length === 2);
    expect(states).toEqual(["suspended", "reconnected"]);
  });

  it("closes: the host hears close, the state is closed, later calls fail", async () => {
    const zk = await open();
    const states = recordStates(zk);
    const stream = zk.watch("/w");
    await stream.ready;
    await zk.close();
    expect(host.requests.at(-1)!.op).toEqual({ op: "close" });
    expect(host.sessions.size).toBe(0);
    expect(states).toEqual(["closed"]);
    expect(zk.state).toBe("closed");
    await expect(zk.exists("/a")).rejects.toMatchObject({ keeperName: "SessionExpired" });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    await zk.close(); // twice is fine
  });
});

describe("watches", () => {
  it("fires a one-shot watch once, before the answer that shows the change", async () => {
    const zk = await open();
    host.answer = () => ({ ok: true, value: { data: "", stat } });
    const order: string[] = [];
    await zk.getData("/a", { watch: (ev) => order.push(`${ev.type} ${ev.path} ${ev.kind}`) });
    const sid = zk.sessionId!;
    host.hold = true;
    const read = zk.getData("/a").then(() => order.push("answer"));
    await until(() => host.requests.length === 2);
    host.send(sid, [
      { t: "event", sid, event: "NodeDataChanged", path: "/a", zxid: 5, kind: "data", watchPath: "/a" },
      { t: "res", sid, xid: host.requests[1]!.xid, zxid: 5, ok: true, value: { data: "", stat } },
      { t: "event", sid, event: "NodeDeleted", path: "/a", zxid: 6, kind: "data", watchPath: "/a" },
    ]);
    await read;
    host.hold = false;
    expect(order).toEqual(["NodeDataChanged /a data", "answer"]);
    expect(host.requests[0]!.op).toEqual({ op: "getData", path: "/a", watch: true });
  });

  it("holds a one-shot watch from its read's answer on: an event before that answer is dropped, one in the same frame after it fires", async () => {
    const zk = await open();
    host.answer = () => ({ ok: true, value: { data: "", stat } });
    const heard: number[] = [];
    host.hold = true;
    const read = zk.getData("/a", { watch: (ev) => heard.push(ev.zxid) });
    await until(() => host.requests.length === 1);
    const sid = zk.sessionId!;
    host.send(sid, [
      // A fired watch a restarted host brought back, firing for a change before this read's answer.
      { t: "event", sid, event: "NodeDataChanged", path: "/a", zxid: 4, kind: "data", watchPath: "/a" },
      { t: "res", sid, xid: host.requests[0]!.xid, zxid: 5, ok: true, value: { data: "", stat } },
      { t: "event", sid, event: "NodeDataChanged", path: "/a", zxid: 6, kind: "data", watchPath: "/a" },
    ]);
    await read;
    host.hold = false;
    await until(() => heard.length === 1);
    expect(heard).toEqual([6]);
  });

  it("sends watch: true events to on('watch'), and unregisters a watch the server did not set", async () => {
    const zk = await open();
    const seen: string[] = [];
    zk.on("watch", (ev) => seen.push(ev.path));
    host.answer = (op) => ("path" in op && op.path === "/missing" ? { ok: false, error: { name: "NoNode", code: -101, message: "no node" } } : { ok: true, value: { children: [], stat } });
    await zk.getChildren("/c", { watch: true });
    await expect(zk.getChildren("/missing", { watch: true })).rejects.toMatchObject({ keeperName: "NoNode" });
    const sid = zk.sessionId!;
    host.send(sid, [
      { t: "event", sid, event: "NodeChildrenChanged", path: "/missing", zxid: 7, kind: "child", watchPath: "/missing" },
      { t: "event", sid, event: "NodeChildrenChanged", path: "/c", zxid: 8, kind: "child", watchPath: "/c" },
    ]);
    await until(() => seen.length === 1);
    expect(seen).toEqual(["/c"]);
  });

  it("streams a recursive watch until the loop is left, then removes it", async () => {
    const zk = await open();
    const stream = zk.watch("/svc", { mode: "recursive" });
    await stream.ready;
    expect(host.requests.at(-1)!.op).toEqual({ op: "addWatch", path: "/svc", mode: "recursive" });
    const sid = zk.sessionId!;
    const send = (path: string, zxid: number) => host.send(sid, [{ t: "event", sid, event: "NodeCreated", path, zxid, kind: "recursive", watchPath: "/svc" }]);
    send("/svc/a", 1);
    send("/svc/b", 2);
    const got: string[] = [];
    for await (const ev of stream) {
      got.push(ev.path);
      if (got.length === 2) break;
    }
    expect(got).toEqual(["/svc/a", "/svc/b"]);
    await until(() => host.requests.at(-1)!.op.op === "removeWatches");
    expect(host.requests.at(-1)!.op).toEqual({ op: "removeWatches", path: "/svc", kind: "recursive" });
  });

  it("ends streams with SessionExpired when the session is lost", async () => {
    const zk = await open();
    const stream = zk.watch("/w");
    await stream.ready;
    const next = stream.next();
    host.expire(zk.sessionId!);
    await expect(next).rejects.toMatchObject({ keeperName: "SessionExpired" });
  });
});

describe("read modes", () => {
  it("sends a call's mode with its request, and none for sequential", async () => {
    const zk = await open();
    host.answer = () => ({ ok: true, value: { stat, data: "aGk=", children: [] } });
    await zk.getData("/a");
    await zk.getData("/a", { consistency: "linearizable" });
    await zk.getChildren("/a", { consistency: "bounded=250", watch: true });
    await zk.exists("/a", { consistency: "sequential" });
    expect(host.requests.map((r) => r.consistency)).toEqual([undefined, "linearizable", "bounded=250", undefined]);
  });

  it("sends the client's mode with every request that names none", async () => {
    const zk = await open({ consistency: "any" });
    host.answer = () => ({ ok: true, value: { stat, data: "aGk=" } });
    await zk.getData("/a");
    await zk.getData("/a", { consistency: "sequential" });
    expect(host.requests.map((r) => r.consistency)).toEqual(["any", undefined]);
  });

  it("refuses an unknown mode as BadArguments, per client and per call", async () => {
    await expect(open({ consistency: "strong" as never })).rejects.toMatchObject({ keeperName: "BadArguments" });
    const zk = await open();
    await expect(zk.getData("/a", { consistency: "bounded=-1" as never })).rejects.toMatchObject({ keeperName: "BadArguments" });
  });
});

describe("bookmarks", () => {
  it("keeps the highest zxid per shard from answers and events and hands it back when it resumes", async () => {
    const zk = await open({ namespace: "tenant-b" });
    const states: ConnectionState[] = [];
    zk.on("state", (s) => states.push(s));
    host.answer = () => ({ ok: true, value: { stat, data: "aGk=" } });
    host.shard = "root";
    host.zxid = makeZxid(1, 9);
    await zk.getData("/a");
    host.zxid = makeZxid(1, 4);
    await zk.getData("/a");
    host.shard = "m1";
    host.zxid = makeZxid(2, 1);
    await zk.getData("/big/a");
    host.shard = undefined;
    host.zxid = makeZxid(7, 7);
    await zk.sync("/"); // an answer naming no shard leaves the bookmark alone
    const sid = zk.sessionId!;
    host.send(sid, [{ t: "event", sid, event: "NodeDataChanged", path: "/big/a", zxid: makeZxid(2, 3), shard: "m1", kind: "data", watchPath: "/big/a" }]);
    await until(() => decodeBookmark(zk.bookmark, "tenant-b").shards.get("m1") === makeZxid(2, 3));
    const expected = new Map([["root", makeZxid(1, 9)], ["m1", makeZxid(2, 3)]]);
    expect(decodeBookmark(zk.bookmark, "tenant-b").shards).toEqual(expected);

    host.dropAll();
    await until(() => states.includes("reconnected"));
    const connects = host.frames.flatMap((f) => f.messages).filter((m) => m.t === "connect");
    expect(connects).toHaveLength(2);
    expect(connects[0]!.bookmark).toBeUndefined();
    expect(decodeBookmark(connects[1]!.bookmark!, "tenant-b").shards).toEqual(expected);
  });
});
