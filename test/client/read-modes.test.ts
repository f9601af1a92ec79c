/**
 * The client's read modes and bookmarks against the protocol double
 * (test/harness/fake-session-host.ts): the mode goes out per request when it is not
 * `sequential` (per call, or the client's default), and the client keeps the
 * highest zxid per shard from answers, handing it back on every resume.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ConnectionState, type KeeperClient, connect } from "../../client/index.ts";
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

const until = (condition: () => boolean) => untilWithin(condition, 5_000, "the condition");
const stat = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0, dataLength: 2, numChildren: 0 };

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
