/**
 * Read modes and bookmarks of sessions over the socket, through real session hosts
 * and shards: each answer names the shard its zxid belongs to, sync answers the
 * leader's commit point, a request's mode is checked, and a bookmark a client hands
 * back on connect is checked, never trusted.
 */
import { describe, expect, it } from "vitest";
import { HttpClient } from "../harness/http.ts";
import { SessionSocket } from "../harness/socket.ts";
import { decodeBookmark, encodeBookmark } from "../../protocol/index.ts";

describe("session answers and bookmarks", () => {
  it("name the shard each answer's zxid belongs to", async () => {
    const zk = new HttpClient();
    expect((await zk.mount("/big")).status).toBe(201);
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    const top = await socket.req(s.sessionId, { op: "create", path: "/top" });
    expect(top).toMatchObject({ ok: true, shard: "root" });
    expect(top.zxid).toBe((top as { value: { stat: { czxid: number } } }).value.stat.czxid);
    const below = await socket.req(s.sessionId, { op: "create", path: "/big/x" });
    expect(below.ok).toBe(true);
    expect(below.shard).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(below.shard).not.toBe("root");
    const missing = await socket.req(s.sessionId, { op: "getData", path: "/nope" });
    expect(missing).toMatchObject({ ok: false, shard: "root", error: { name: "NoNode" } });
  });

  it("a watch event names its shard too", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    await socket.ok(s.sessionId, { op: "create", path: "/w" });
    await socket.ok(s.sessionId, { op: "getData", path: "/w", watch: true });
    const changed = await zk.set("/w", { data: "x" });
    const mzxid = (await changed.json<{ stat: { mzxid: number } }>()).stat.mzxid;
    const event = await socket.next((m) => m !== "pong" && m.t === "event" && m.sid === s.sessionId);
    expect(event).toMatchObject({ t: "event", event: "NodeDataChanged", path: "/w", zxid: mzxid, shard: "root" });
  });

  it("sync answers the leader's commit point of the path's shard", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    await socket.ok(s.sessionId, { op: "exists", path: "/" });
    const written = await zk.create("/elsewhere");
    const writeZxid = (await written.json<{ stat: { czxid: number } }>()).stat.czxid;
    const synced = await socket.req(s.sessionId, { op: "sync", path: "/" });
    expect(synced).toMatchObject({ ok: true, shard: "root", zxid: writeZxid });
  });

  it("a request's read mode is checked: a known one is served, an unknown one is BadArguments, a non-string MarshallingError", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    const [good, bad, worse] = [101, 102, 103];
    socket.send([
      { t: "req", sid: s.sessionId, xid: good, op: { op: "exists", path: "/" }, consistency: "linearizable" },
      { t: "req", sid: s.sessionId, xid: bad, op: { op: "exists", path: "/" }, consistency: "bounded=soon" },
      { t: "req", sid: s.sessionId, xid: worse, op: { op: "exists", path: "/" }, consistency: 5 },
    ]);
    expect(await socket.response(s.sessionId, good)).toMatchObject({ ok: true, shard: "root" });
    expect(await socket.response(s.sessionId, bad)).toMatchObject({ ok: false, error: { name: "BadArguments" } });
    expect(await socket.response(s.sessionId, worse)).toMatchObject({ ok: false, error: { name: "MarshallingError" } });
  });

  it("a connect handing back a bookmark of another namespace is refused", async () => {
    const zk = new HttpClient();
    const other = new HttpClient();
    const theirs = (await other.create("/x")).headers.get("X-Edgekeeper-Bookmark")!;
    const socket = await SessionSocket.open(zk.namespace);
    const refused = await socket.connect(4_000, { bookmark: theirs } as never);
    expect(refused).toMatchObject({ t: "refused", error: { name: "BadArguments" } });
    const ours = (await zk.create("/y")).headers.get("X-Edgekeeper-Bookmark")!;
    expect(await socket.connect(4_000, { bookmark: ours } as never)).toMatchObject({ t: "connected" });
  });

  it("a bookmark beyond the leader's commit point is refused at the next read, then replaced by the true one", async () => {
    const zk = new HttpClient();
    const real = decodeBookmark((await zk.create("/z")).headers.get("X-Edgekeeper-Bookmark")!, zk.namespace);
    const last = real.shards.get("root")!;
    const forged = encodeBookmark({ namespace: zk.namespace, shards: new Map([["root", last + 500]]) });
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.connect(4_000, { bookmark: forged } as never);
    if (s.t !== "connected") expect.fail(JSON.stringify(s));
    expect(await socket.req(s.sessionId, { op: "getData", path: "/z" })).toMatchObject({ ok: false, error: { name: "BadArguments" } });
    expect(await socket.req(s.sessionId, { op: "getData", path: "/z" })).toMatchObject({ ok: true, shard: "root", zxid: last });
  });
});
