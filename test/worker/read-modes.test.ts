/**
 * Read modes and bookmarks over HTTP: every routed answer carries the caller's
 * bookmark (advanced by what it showed) and who served it; a bookmark sent back
 * gives read-your-writes without a session; a bad mode or bookmark is refused.
 */
import { describe, expect, it } from "vitest";
import { HttpClient, expectKeeperError, uniqueNamespace } from "../harness/http.ts";
import { type Bookmark, decodeBookmark, encodeBookmark, makeZxid, zxidEpoch } from "../../protocol/index.ts";

const BOOKMARK = "X-Edgekeeper-Bookmark";
const SERVED_BY = "X-Edgekeeper-Served-By";
const CONSISTENCY = "X-Edgekeeper-Consistency";

function bookmarkOf(res: Response, namespace: string): Bookmark {
  const header = res.headers.get(BOOKMARK);
  expect(header, "the answer carries a bookmark").toBeTruthy();
  return decodeBookmark(header!, namespace);
}

function forged(namespace: string, shards: Record<string, number>): string {
  return encodeBookmark({ namespace, shards: new Map(Object.entries(shards)) });
}

describe("bookmark and served-by headers", () => {
  it("come on every kind of answer: each read view, create, set, delete, multi, multi-read and a shard's error", async () => {
    const zk = new HttpClient();
    const answers: [string, Response][] = [
      ["create", await zk.create("/a", { data: "x" })],
      ["set", await zk.set("/a", { data: "y" })],
      ["data", await zk.get("/a")],
      ["stat", await zk.get("/a", { view: "stat" })],
      ["children", await zk.get("/", { view: "children" })],
      ["count", await zk.get("/", { view: "count" })],
      ["acl", await zk.get("/a", { view: "acl" })],
      ["multi", await zk.multi([{ op: "create", path: "/b" }])],
      ["multi-read", await zk.multiRead([{ op: "getData", path: "/a" }])],
      ["delete", await zk.delete("/b")],
      ["NoNode", await zk.get("/missing")],
    ];
    for (const [kind, res] of answers) {
      expect(res.headers.get(SERVED_BY), kind).toBe("local/leader");
      expect(bookmarkOf(res, zk.namespace).shards.get("root"), kind).toBeGreaterThan(0);
    }
    expect((await answers.at(-1)![1].json<{ error: { name: string } }>()).error.name).toBe("NoNode");
  });

  it("come on a blocking read and an event stream too, and a forged bookmark refuses the stream", async () => {
    const zk = new HttpClient();
    const created = await zk.create("/s", { data: "1" });
    const last = bookmarkOf(created, zk.namespace).shards.get("root")!;
    const blocking = await zk.get("/s", { index: "0", wait: "1" });
    expect(blocking.status).toBe(200);
    expect(blocking.headers.get(SERVED_BY)).toBe("local/leader");
    expect(bookmarkOf(blocking, zk.namespace).shards.get("root")).toBe(last);
    const stream = await zk.fetch("GET", "/v1/events/s");
    expect(stream.status).toBe(200);
    expect(stream.headers.get(SERVED_BY)).toBe("local/leader");
    expect(bookmarkOf(stream, zk.namespace).shards.get("root")).toBe(last);
    await stream.body?.cancel();
    const forgedStream = await zk.fetch("GET", "/v1/events/s", { headers: { [BOOKMARK]: forged(zk.namespace, { root: last + 1 }) } });
    await expectKeeperError(forgedStream, "BadArguments");
  });

  it("advance to the zxid of each write and never go back", async () => {
    const zk = new HttpClient();
    const created = await zk.create("/n", { data: "1" });
    const { stat } = await created.json<{ stat: { mzxid: number } }>();
    const afterCreate = bookmarkOf(created, zk.namespace).shards.get("root")!;
    expect(afterCreate).toBe(stat.mzxid);
    const set = await zk.set("/n", { data: "2" });
    const afterSet = bookmarkOf(set, zk.namespace).shards.get("root")!;
    expect(afterSet).toBe((await set.json<{ stat: { mzxid: number } }>()).stat.mzxid);
    expect(afterSet).toBeGreaterThan(afterCreate);
    // A read of an older bookmark answers one at least as far as the leader's commit point.
    const read = await zk.get("/n", {}, { [BOOKMARK]: created.headers.get(BOOKMARK)! });
    expect(bookmarkOf(read, zk.namespace).shards.get("root")).toBe(afterSet);
  });

  it("keep one zxid per shard across mounted subtrees", async () => {
    const zk = new HttpClient();
    expect((await zk.mount("/big")).status).toBe(201);
    const first = await zk.create("/top");
    const second = await zk.create("/big/x", {}, { [BOOKMARK]: first.headers.get(BOOKMARK)! });
    const shards = bookmarkOf(second, zk.namespace).shards;
    expect(shards.size).toBe(2);
    expect(shards.get("root")).toBe(bookmarkOf(first, zk.namespace).shards.get("root"));
  });

  it("carry the caller's bookmark on an answer no shard gave", async () => {
    const zk = new HttpClient();
    const sent = bookmarkOf(await zk.create("/c"), zk.namespace);
    const res = await zk.get("/c", { view: "nonsense" }, { [BOOKMARK]: encodeBookmark(sent) });
    await expectKeeperError(res, "BadArguments");
    expect(bookmarkOf(res, zk.namespace).shards).toEqual(sent.shards);
    expect(res.headers.get(SERVED_BY)).toBeNull();
  });

  it("come through a session's host too", async () => {
    const zk = new HttpClient();
    const opened = await zk.fetch("POST", "/v1/sessions", { body: { timeoutMs: 4000 } });
    const { sessionId, password } = await opened.json<{ sessionId: number; password: string }>();
    const session = { "X-Edgekeeper-Session": `${sessionId}:${password}` };
    const created = await zk.create("/e", { mode: "EPHEMERAL" }, session);
    expect(created.status).toBe(201);
    expect(created.headers.get(SERVED_BY)).toBe("local/leader");
    expect(bookmarkOf(created, zk.namespace).shards.get("root")).toBe((await created.json<{ stat: { czxid: number } }>()).stat.czxid);
    const linearizable = await zk.get("/e", {}, { ...session, [CONSISTENCY]: "linearizable" });
    expect(linearizable.status).toBe(200);
    expect(linearizable.headers.get(SERVED_BY)).toBe("local/leader");
    await expectKeeperError(await zk.get("/e", {}, { ...session, [CONSISTENCY]: "fresh" }), "BadArguments");
    await zk.fetch("DELETE", `/v1/sessions/${sessionId}`, { headers: session });
  });
});

describe("read-your-writes without a session", () => {
  it("a read sending the bookmark of a write sees that write, in every mode", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/cfg", { data: "v0" });
    const written = await zk.set("/cfg", { data: "v1" });
    const bookmark = written.headers.get(BOOKMARK)!;
    for (const mode of ["sequential", "linearizable", "bounded=100", "any"]) {
      const read = await zk.get("/cfg", {}, { [BOOKMARK]: bookmark, [CONSISTENCY]: mode });
      expect(read.status, mode).toBe(200);
      expect((await read.json<{ data: string }>()).data, mode).toBe("v1");
      expect(read.headers.get(SERVED_BY), mode).toBe("local/leader");
    }
  });
});

describe("bad read modes and bookmarks", () => {
  it("refuses an unknown mode and a bad bounded staleness as BadArguments", async () => {
    const zk = new HttpClient();
    for (const mode of ["strong", "bounded", "bounded=", "bounded=-1", "bounded=1.5", "bounded=abc", "bounded=60001"]) {
      const res = await zk.get("/", {}, { [CONSISTENCY]: mode });
      const body = await expectKeeperError(res, "BadArguments");
      expect(body.error.message, mode).toMatch(/mode|bounded/);
    }
  });

  it("refuses a malformed bookmark", async () => {
    const zk = new HttpClient();
    for (const text of ["not a bookmark!", "e30", btoa("[]"), forged(zk.namespace, { root: -1 }), "A".repeat(9000)]) {
      await expectKeeperError(await zk.get("/", {}, { [BOOKMARK]: text }), "BadArguments");
    }
  });

  it("refuses a bookmark of another namespace", async () => {
    const zk = new HttpClient();
    const other = new HttpClient({ namespace: uniqueNamespace("other") });
    const theirs = (await other.create("/x")).headers.get(BOOKMARK)!;
    const body = await expectKeeperError(await zk.get("/", {}, { [BOOKMARK]: theirs }), "BadArguments");
    expect(body.error.message).toMatch(/namespace/);
  });

  it("refuses a bookmark naming a future epoch or a zxid beyond the leader's commit point, and answers the true one", async () => {
    const zk = new HttpClient();
    const last = bookmarkOf(await zk.create("/f"), zk.namespace).shards.get("root")!;
    const future = forged(zk.namespace, { root: makeZxid(zxidEpoch(last) + 1, 1) });
    const futureRes = await zk.get("/f", {}, { [BOOKMARK]: future });
    expect((await expectKeeperError(futureRes, "BadArguments")).error.message).toMatch(/epoch/);
    expect(bookmarkOf(futureRes, zk.namespace).shards.get("root")).toBe(last);

    const beyond = forged(zk.namespace, { root: last + 1000 });
    const beyondRes = await zk.get("/f", {}, { [BOOKMARK]: beyond });
    expect((await expectKeeperError(beyondRes, "BadArguments")).error.message).toMatch(/commit point/);
    expect(beyondRes.headers.get(SERVED_BY)).toBe("local/leader");
  });

  it("applies a write sent with a forged bookmark and hands back the leader's commit point instead", async () => {
    const zk = new HttpClient();
    const last = bookmarkOf(await zk.create("/w"), zk.namespace).shards.get("root")!;
    const res = await zk.set("/w", { data: "z" }, { headers: { [BOOKMARK]: forged(zk.namespace, { root: last + 1000 }) } });
    expect(res.status).toBe(200);
    expect(bookmarkOf(res, zk.namespace).shards.get("root")).toBe((await res.json<{ stat: { mzxid: number } }>()).stat.mzxid);
  });
});
