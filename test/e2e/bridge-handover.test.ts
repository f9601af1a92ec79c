/**
 * A ZooKeeper session that moves from one bridge to another: its bridge stops, and its
 * client reconnects through the same address to another bridge in front of the same
 * service (npm start's own). In a namespace with a mounted subtree whose zxids are
 * behind the root shard's, the watches set before on the mounted subtree fire for the
 * changes made while no bridge carried the session, as ZooKeeper's setWatches fires
 * them by the client's last zxid: here compared per shard, with what the session had
 * been shown of each shard when its answers reached that zxid.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRegionBridge, type RegionBridge } from "../harness/caller-region.ts";
import { type LocalServer, type Proxy, startLocalServer, startProxy } from "../harness/local-server.ts";
import { portOf, until } from "../harness/recipe-clients.ts";
import { type Any, bridgePort, call, nzc, zookeeper } from "../harness/zk-clients.ts";

/** Bounds for waits on a condition: limits for a stuck test, not speed assertions. */
const EVENT_LIMIT_MS = 30_000;

let server: LocalServer;
let other: RegionBridge;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  server = await startLocalServer();
  await bridgePort(server);
  other = await startRegionBridge(server.base, undefined);
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await other?.stop();
  await server?.stop();
});

/** A one-shot watcher that records `type path` into `into`. */
const recorder = (into: string[]) => (event: Any) => into.push(`${event.getName()} ${event.getPath()}`);

it("fires the watches of a session that moved to another bridge for the changes made on a mounted subtree meanwhile, and arms the others again", async () => {
  const mounted = await fetch(`${server.base}/v1/admin/mounts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prefix: "/handed" }) });
  expect(mounted.status, await mounted.clone().text()).toBe(201);
  const writer = await nzc(server.zkPort);
  cleanups.push(() => writer.close());
  for (const name of ["changed", "gone", "kids", "quiet"]) await call((cb) => writer.create(`/handed/${name}`, Buffer.from("v0"), cb));

  // The client reaches the other bridge through an address that later leads to npm start's.
  let front: Proxy = await startProxy(other.port);
  const address = portOf(front);
  const zk = await nzc(address, { sessionTimeout: 20_000 });
  cleanups.push(() => zk.close());
  // Its last zxid comes from the root shard, far ahead of the mounted one's.
  for (let i = 0; i < 20; i++) await call((cb) => zk.create("/handover-elsewhere-", Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, cb));
  const events: string[] = [];
  const watch = recorder(events);
  await call((cb) => zk.getData("/handed/changed", watch, cb));
  await call((cb) => zk.getData("/handed/gone", watch, cb));
  await call((cb) => zk.getData("/handed/quiet", watch, cb));
  await call((cb) => zk.getChildren("/handed/kids", watch, cb));
  for (let i = 0; i < 5; i++) await call((cb) => zk.create("/handover-elsewhere-", Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, cb));

  // Its bridge stops; the changes come while no bridge carries the session.
  const disconnected = new Promise<void>((resolve) => zk.once("disconnected", () => resolve()));
  await other.stop();
  await front.close();
  await disconnected;
  await call((cb) => writer.setData("/handed/changed", Buffer.from("v1"), cb));
  await call((cb) => writer.remove("/handed/gone", cb));
  await call((cb) => writer.create("/handed/kids/k", Buffer.alloc(0), cb));

  const connected = new Promise<void>((resolve) => zk.once("connected", () => resolve()));
  front = await startProxy(server.zkPort, { port: address });
  cleanups.push(() => front.close());
  await connected;
  await until(() => events.length >= 3, EVENT_LIMIT_MS, "3 events").catch(() => undefined);
  expect([...events].sort()).toEqual(["NODE_CHILDREN_CHANGED /handed/kids", "NODE_DATA_CHANGED /handed/changed", "NODE_DELETED /handed/gone"]);
  // The untouched node's watch was armed again: its first change fires it.
  await call((cb) => writer.setData("/handed/quiet", Buffer.from("v1"), cb));
  await until(() => events.length >= 4, EVENT_LIMIT_MS, "4 events").catch(() => undefined);
  expect(events[3]).toBe("NODE_DATA_CHANGED /handed/quiet");
});
