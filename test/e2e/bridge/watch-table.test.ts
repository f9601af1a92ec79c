/**
 * The watches the bridge keeps per session (bridge/server/watches.ts), as a ZooKeeper
 * client sees them: checkWatches answers by watcher type, removeWatches and a fired
 * one-shot watch drop only their own kind, and `wchc` lists the paths. The bridge is
 * in this process, in front of a session host double (fake-session-host.ts) that
 * answers every read and pushes the events a test sends.
 */
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { type Bridge, startBridge } from "../../../bridge/server/server.ts";
import { KEEPER_ERRORS } from "../../../protocol/errors.ts";
import { ADD_WATCH_MODES, EVENT_TYPES, WATCHER_TYPES } from "../../../protocol/jute/index.ts";
import type { Stat } from "../../../protocol/stat.ts";
import { FakeSessionHost } from "../../harness/fake-session-host.ts";
import { RawConnection } from "../../harness/zookeeper/raw-connection.ts";
import { fourLetterWord } from "../../harness/zookeeper/launch.ts";

const STAT: Stat = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0, dataLength: 1, numChildren: 0 };
const NO_WATCHER = KEEPER_ERRORS.NoWatcher.code;

let host: FakeSessionHost;
let bridge: Bridge;

beforeAll(async () => {
  host = await FakeSessionHost.start();
  host.answer = (op) => ({ ok: true, value: op.op === "getChildren" ? { children: [], stat: STAT } : { data: btoa("x"), stat: STAT } });
  bridge = await startBridge({ url: host.base, port: 0, newSessionHosts: [0], fourLetterWords: "*", log: () => {} });
});

afterAll(async () => {
  await bridge?.close();
  await host?.stop();
});

/** checkWatches' error code for each path and watcher type. */
async function check(zk: RawConnection, cases: [string, number][]): Promise<number[]> {
  const codes: number[] = [];
  for (const [path, type] of cases) codes.push((await zk.call("checkWatches", { path, type })).header.err);
  return codes;
}

it("checkWatches answers by kind; removeWatches and a firing drop only their kind; wchc lists the paths", async () => {
  const zk = await RawConnection.open(bridge.port);
  const { sessionId } = await zk.handshake();
  await zk.call("getData", { path: "/a", watch: true });
  await zk.call("getChildren2", { path: "/a", watch: true });
  await zk.call("addWatch", { path: "/b", mode: ADD_WATCH_MODES.PERSISTENT });
  await zk.call("addWatch", { path: "/c", mode: ADD_WATCH_MODES.PERSISTENT_RECURSIVE });
  const { Data, Children, Any, Persistent, PersistentRecursive } = WATCHER_TYPES;
  expect(
    await check(zk, [
      ["/a", Data],
      ["/a", Children],
      ["/a", Persistent],
      ["/a", Any],
      ["/b", Persistent],
      ["/b", Data],
      ["/c", PersistentRecursive],
      ["/c", Persistent],
      ["/d", Any],
    ]),
  ).toEqual([0, 0, NO_WATCHER, 0, 0, NO_WATCHER, 0, NO_WATCHER, NO_WATCHER]);
  expect(await fourLetterWord(bridge.port, "wchc")).toBe(`0x${sessionId.toString(16)}\n\t/a\n\t/b\n\t/c\n\n`);

  await zk.call("removeWatches", { path: "/a", type: Data });
  expect(await check(zk, [["/a", Data], ["/a", Children]])).toEqual([NO_WATCHER, 0]);

  // The child watch fires: /a holds no watch any more; the persistent one on /b stays through its event.
  host.send(Number(sessionId), [{ t: "event", sid: Number(sessionId), event: "NodeChildrenChanged", path: "/a", zxid: 2, kind: "child", watchPath: "/a" }]);
  host.send(Number(sessionId), [{ t: "event", sid: Number(sessionId), event: "NodeDataChanged", path: "/b", zxid: 3, kind: "persistent", watchPath: "/b" }]);
  expect((await zk.event()).path).toBe("/a");
  expect((await zk.event()).path).toBe("/b");
  expect(await check(zk, [["/a", Any], ["/b", Persistent]])).toEqual([NO_WATCHER, 0]);
  expect(await fourLetterWord(bridge.port, "wchc")).toBe(`0x${sessionId.toString(16)}\n\t/b\n\t/c\n\n`);
  zk.destroy();
});

it("a one-shot event sent again before the read setting the watch again is answered does not reach the client", async () => {
  const zk = await RawConnection.open(bridge.port);
  const { sessionId } = await zk.handshake();
  const sid = Number(sessionId);
  const event = (type: "NodeDataChanged" | "NodeDeleted", zxid: number) => ({ t: "event" as const, sid, event: type, path: "/x", zxid, kind: "data" as const, watchPath: "/x" });
  await zk.call("getData", { path: "/x", watch: true });
  await zk.call("addWatch", { path: "/p", mode: ADD_WATCH_MODES.PERSISTENT });
  host.send(sid, [event("NodeDataChanged", 5)]);
  expect((await zk.event()).path).toBe("/x");
  // Another change in between: the event sent again is not the connection's latest.
  host.send(sid, [{ t: "event", sid, event: "NodeDataChanged", path: "/p", zxid: 6, kind: "persistent", watchPath: "/p" }]);
  expect((await zk.event()).path).toBe("/p");
  // The client sets the watch again; a host restarted mid-delivery sends the first event again, before the answer.
  host.hold = true;
  const rearm = zk.call("getData", { path: "/x", watch: true });
  const reads = () => host.frames.flatMap((f) => f.messages).filter((m) => m.t === "req" && m.sid === sid && m.op.op === "getData").length;
  await vi.waitUntil(() => reads() === 2);
  host.send(sid, [event("NodeDataChanged", 5)]);
  host.release();
  await rearm;
  host.send(sid, [event("NodeDeleted", 9)]);
  const next = await zk.event();
  expect([next.type, next.path]).toEqual([EVENT_TYPES.NodeDeleted, "/x"]);
  expect(zk.events).toEqual([]);
  zk.destroy();
});
