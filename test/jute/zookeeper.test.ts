/**
 * The codec against a real ZooKeeper 3.8 (Debian's package), standalone on a free
 * loopback port: raw frames over TCP, every reply decoded and re-encoded to the
 * same bytes ZooKeeper sent. Skipped, with the reason printed, without Java or
 * /usr/share/java/zookeeper.jar.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADD_WATCH_MODES,
  EVENT_TYPES,
  KEEPER_STATES,
  type WireStat,
  XIDS,
  decodeReplyHeader,
} from "../../protocol/jute/index.ts";
import { zookeeperUnavailable } from "../harness/zookeeper/launch.ts";
import { RawConnection } from "../harness/zookeeper/raw-connection.ts";
import { type RunningZookeeper, startZookeeper } from "../harness/zookeeper/reference.ts";

const unavailable = await zookeeperUnavailable();
if (unavailable) console.log(`skipping the jute tests against ZooKeeper: ${unavailable}`);

const OPEN_ACL = [{ perms: 31, scheme: "world", id: "anyone" }];
const text = (s: string) => new TextEncoder().encode(s);

describe.skipIf(unavailable !== undefined)("jute against ZooKeeper 3.8", () => {
  let zookeeper: RunningZookeeper | undefined;
  let port: number;

  beforeAll(async () => {
    zookeeper = await startZookeeper();
    port = zookeeper.port;
  });

  afterAll(async () => {
    await zookeeper?.stop();
  });

  it("connects, and every op's reply decodes to what ZooKeeper meant", async () => {
    const zk = await RawConnection.open(port);
    const session = await zk.handshake();
    expect(session.protocolVersion).toBe(0);
    expect(session.timeOut).toBe(30_000);
    expect(session.sessionId).not.toBe(0n);
    expect(session.passwd.byteLength).toBe(16);
    expect(session.readOnly).toBe(false); // 3.5+ servers always send the trailing boolean

    // create2: path and Stat of the new node, at the zxid of the reply header
    const created = await zk.call("create2", { path: "/jute", data: text("hello"), acl: OPEN_ACL, flags: 0 });
    expect(created.header.err).toBe(0);
    const createdStat = created.body!.stat;
    expect(created.body!.path).toBe("/jute");
    expect(createdStat).toMatchObject({ version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, dataLength: 5, numChildren: 0 });
    expect(createdStat.czxid).toBe(created.header.zxid);
    expect(createdStat.mzxid).toBe(createdStat.czxid);
    expect(createdStat.pzxid).toBe(createdStat.czxid);
    expect(createdStat.ctime).toBe(createdStat.mtime);

    // create (op 1) of an ephemeral: only the path comes back; its owner is our session id, all 64 bits
    const ephemeral = await zk.call("create", { path: "/jute/e", data: null, acl: OPEN_ACL, flags: 1 });
    expect(ephemeral.body).toEqual({ path: "/jute/e" });
    const ephemeralStat = await zk.call("exists", { path: "/jute/e", watch: false });
    expect(ephemeralStat.body!.stat.ephemeralOwner).toBe(session.sessionId);
    expect(ephemeralStat.body!.stat.dataLength).toBe(0);

    // getData with a watch: the Stat equals the one create2 returned
    const got = await zk.call("getData", { path: "/jute", watch: true });
    expect(new TextDecoder().decode(got.body!.data!)).toBe("hello");
    expect(got.body!.stat).toEqual({ ...createdStat, cversion: 1, numChildren: 1, pzxid: ephemeral.header.zxid });

    // setData: version + 1, mzxid the write's zxid; the watch fires (xid -1)
    const set = await zk.call("setData", { path: "/jute", data: text("world"), version: 0 });
    expect(set.body!.stat).toMatchObject({ version: 1, mzxid: set.header.zxid, czxid: createdStat.czxid, dataLength: 5 });
    expect(await zk.event()).toEqual({ type: EVENT_TYPES.NodeDataChanged, state: KEEPER_STATES.SyncConnected, path: "/jute" });

    // a stale version: BadVersion, and the reply is the header alone
    const stale = await zk.call("setData", { path: "/jute", data: text("x"), version: 0 });
    expect(stale.header.err).toBe(-103);
    expect(stale.body).toBeUndefined();
    expect(stale.payload.byteLength).toBe(16);

    // exists of a missing node: NoNode in the header, no body
    const missing = await zk.call("exists", { path: "/jute/nope", watch: false });
    expect(missing.header.err).toBe(-101);
    expect(missing.payload.byteLength).toBe(16);

    const children = await zk.call("getChildren2", { path: "/jute", watch: false });
    expect(children.body!.children).toEqual(["e"]);
    expect(children.body!.stat).toEqual(set.body!.stat);

    const acl = await zk.call("getACL", { path: "/jute" });
    expect(acl.body).toEqual({ acl: OPEN_ACL, stat: set.body!.stat });
    expect((await zk.call("sync", { path: "/jute" })).body).toEqual({ path: "/jute" });
    expect((await zk.call("getAllChildrenNumber", { path: "/jute" })).body).toEqual({ totalNumber: 1 });
    expect((await zk.call("getEphemerals", { prefixPath: "/jute" })).body).toEqual({ ephemerals: ["/jute/e"] });
    expect((await zk.call("whoAmI", {})).body).toEqual({ clientInfo: [{ authScheme: "ip", user: "127.0.0.1" }] });

    // TTL and container creates answer path and Stat
    const ttl = await zk.call("createTTL", { path: "/jute/ttl", data: text("t"), acl: OPEN_ACL, flags: 5, ttl: 60_000n });
    expect(ttl.header.err).toBe(0);
    expect(ttl.body!.path).toBe("/jute/ttl");
    expect(ttl.body!.stat.czxid).toBe(ttl.header.zxid);
    const container = await zk.call("createContainer", { path: "/jute/c", data: null, acl: OPEN_ACL, flags: 4 });
    expect(container.body!.stat.ephemeralOwner).toBe(0n);

    // addWatch answers an ErrorResponse body of 0; a recursive watch then sees a grandchild's creation
    const added = await zk.call("addWatch", { path: "/jute", mode: ADD_WATCH_MODES.PERSISTENT_RECURSIVE });
    expect(added.body).toEqual({ err: 0 });
    await zk.call("create", { path: "/jute/c/deep", data: null, acl: OPEN_ACL, flags: 0 });
    expect(await zk.event()).toEqual({ type: EVENT_TYPES.NodeCreated, state: KEEPER_STATES.SyncConnected, path: "/jute/c/deep" });
    const removed = await zk.call("removeWatches", { path: "/jute", type: 3 });
    expect(removed.header.err).toBe(0);
    expect(removed.payload.byteLength).toBe(16);
    expect((await zk.call("checkWatches", { path: "/jute", type: 3 })).header.err).toBe(-121);

    // deleteContainer from a client: 3.8 reads the path from the packet's whole buffer,
    // header included, so it is never a valid path: BadArguments, and nothing is deleted
    await zk.call("createContainer", { path: "/jute/c2", data: null, acl: OPEN_ACL, flags: 4 });
    expect((await zk.call("deleteContainer", { path: "/jute/c2" })).header.err).toBe(-8);
    expect((await zk.call("exists", { path: "/jute/c2", watch: false })).header.err).toBe(0);
    // ping: xid -2, header only
    const ping = await zk.call("ping", {}, XIDS.ping);
    expect(ping.header).toMatchObject({ xid: -2, err: 0 });
    expect(ping.payload.byteLength).toBe(16);

    zk.destroy();
  });

  it("multi: results per op, and a failed multi's ErrorResults 0, the error, -2", async () => {
    const zk = await RawConnection.open(port);
    await zk.handshake();
    await zk.call("create", { path: "/multi", data: text("v0"), acl: OPEN_ACL, flags: 0 });

    const ok = await zk.call("multi", {
      ops: [
        { op: "create", body: { path: "/multi/a", data: text("a"), acl: OPEN_ACL, flags: 0 } },
        { op: "create2", body: { path: "/multi/s-", data: null, acl: OPEN_ACL, flags: 2 } },
        { op: "createTTL", body: { path: "/multi/t", data: null, acl: OPEN_ACL, flags: 5, ttl: 60_000n } },
        { op: "createContainer", body: { path: "/multi/c", data: null, acl: OPEN_ACL, flags: 4 } },
        { op: "setData", body: { path: "/multi", data: text("v1"), version: 0 } },
        { op: "check", body: { path: "/multi", version: 1 } },
        { op: "delete", body: { path: "/multi/a", version: 0 } },
      ],
    });
    expect(ok.header.err).toBe(0);
    const [create, create2, createTTL, createContainer, setData, check, del] = ok.body!.results;
    expect(create).toEqual({ op: "create", path: "/multi/a" });
    // Surprise: inside a multi, ZooKeeper 3.8 answers create2 with a plain create result
    // (type 1, path only), while createTTL and createContainer get create2 results (path and Stat).
    expect(create2).toEqual({ op: "create", path: "/multi/s-0000000001" });
    for (const [result, path] of [[createTTL, "/multi/t"], [createContainer, "/multi/c"]] as const) {
      expect(result).toMatchObject({ op: "create2", path });
      expect((result as { stat: WireStat }).stat.czxid).toBe(ok.header.zxid); // one zxid for the whole multi
    }
    expect(setData).toMatchObject({ op: "setData", stat: { version: 1, mzxid: ok.header.zxid } });
    expect(check).toEqual({ op: "check" });
    expect(del).toEqual({ op: "delete" });

    const failed = await zk.call("multi", {
      ops: [
        { op: "create", body: { path: "/multi/x", data: null, acl: OPEN_ACL, flags: 0 } },
        { op: "check", body: { path: "/multi", version: 99 } },
        { op: "create", body: { path: "/multi/y", data: null, acl: OPEN_ACL, flags: 0 } },
      ],
    });
    // The header says Ok: the failure is in the per-op results.
    expect(failed.header.err).toBe(0);
    expect(failed.body!.results).toEqual([
      { op: "error", err: 0 },
      { op: "error", err: -103 },
      { op: "error", err: -2 },
    ]);
    expect((await zk.call("exists", { path: "/multi/x", watch: false })).header.err).toBe(-101);

    const read = await zk.call("multiRead", {
      ops: [
        { op: "getData", body: { path: "/multi", watch: false } },
        { op: "getChildren", body: { path: "/multi", watch: false } },
        { op: "getData", body: { path: "/multi/none", watch: false } },
      ],
    });
    const multiStat = (await zk.call("exists", { path: "/multi", watch: false })).body!.stat;
    expect(read.body!.results).toEqual([
      { op: "getData", data: text("v1"), stat: multiStat },
      { op: "getChildren", children: expect.arrayContaining(["s-0000000001", "t", "c"]) },
      { op: "error", err: -101 },
    ]);
    zk.destroy();
  });

  it("bad bodies get MarshallingError and the connection stays; an unknown op gets Unimplemented and a close", async () => {
    const zk = await RawConnection.open(port);
    await zk.handshake();
    // getData whose path length runs past the frame
    const frame = new Uint8Array([0, 0, 0, 13, 0, 0, 0, 41, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff, 0]);
    zk.send(frame);
    const reply = decodeReplyHeader(await zk.next());
    expect(reply).toMatchObject({ xid: 41, err: -5 });
    expect((await zk.call("ping", {}, XIDS.ping)).header.err).toBe(0);

    zk.send(new Uint8Array([0, 0, 0, 8, 0, 0, 0, 42, 0, 0, 0, 10]));
    expect(decodeReplyHeader(await zk.next())).toMatchObject({ xid: 42, err: -6 });
    await zk.closed;
  });

  it("a watch set by one session fires for another's write; closeSession removes ephemerals", async () => {
    const watcher = await RawConnection.open(port);
    await watcher.handshake();
    const writer = await RawConnection.open(port);
    await writer.handshake();
    await writer.call("create", { path: "/eph", data: null, acl: OPEN_ACL, flags: 1 });
    expect((await watcher.call("exists", { path: "/eph", watch: true })).header.err).toBe(0);

    const closed = await writer.call("closeSession", {});
    expect(closed.header.err).toBe(0);
    expect(closed.payload.byteLength).toBe(16);
    await writer.closed;

    expect(await watcher.event()).toEqual({ type: EVENT_TYPES.NodeDeleted, state: KEEPER_STATES.SyncConnected, path: "/eph" });
    watcher.destroy();
  });

  it("auth (xid -4), setWatches (xid -8) and setWatches2 re-arm watches on a new connection", async () => {
    const zk = await RawConnection.open(port);
    await zk.handshake();
    const auth = await zk.call("auth", { type: 0, scheme: "digest", auth: text("alice:secret") }, XIDS.auth);
    expect(auth.header).toMatchObject({ xid: -4, err: 0 });
    const zxid = (await zk.call("create", { path: "/sw", data: null, acl: OPEN_ACL, flags: 0 })).header.zxid;

    const watches = await zk.call(
      "setWatches",
      { relativeZxid: zxid, dataWatches: ["/sw"], existWatches: ["/sw-missing"], childWatches: [] },
      XIDS.setWatches,
    );
    expect(watches.header).toMatchObject({ xid: -8, err: 0 });
    const watches2 = await zk.call(
      "setWatches2",
      { relativeZxid: zxid, dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: ["/sw"] },
      XIDS.setWatches,
    );
    expect(watches2.header.err).toBe(0);

    await zk.call("create", { path: "/sw-missing", data: null, acl: OPEN_ACL, flags: 0 });
    expect(await zk.event()).toEqual({ type: EVENT_TYPES.NodeCreated, state: KEEPER_STATES.SyncConnected, path: "/sw-missing" });
    await zk.call("setData", { path: "/sw", data: text("x"), version: -1 });
    expect(await zk.event()).toEqual({ type: EVENT_TYPES.NodeDataChanged, state: KEEPER_STATES.SyncConnected, path: "/sw" });
    // A data watch and a recursive watch on the same path fire one notification per
    // connection, not two: the connection is ZooKeeper's watcher.
    await zk.call("ping", {}, XIDS.ping);
    expect(zk.events).toEqual([]);
    zk.destroy();
  });
});
