/**
 * Identity from the transport, against `npm start`: a CF-Connecting-IP header does
 * not change who a caller is, and each ZooKeeper client of the bridge is known by
 * its own TCP address (ip ACLs and whoAmI agree), not by the bridge's.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LocalServer, type Proxy, startLocalServer, startProxy } from "../harness/local-server.ts";
import { type Any, bridgePort, call, nzc, zookeeper } from "../harness/zk-clients.ts";

const NO_AUTH = -102;

let server: LocalServer;
let zkPort: number;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startLocalServer();
  zkPort = await bridgePort(server);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await server?.stop();
});

it("over HTTP, a caller sending CF-Connecting-IP of an allowed address is still refused", async () => {
  const create = await fetch(`${server.base}/v1/znodes/spoof`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ data: "secret", acl: [{ perms: "r", scheme: "ip", id: "10.9.9.9" }] }),
  });
  expect(create.status).toBe(201);
  const read = await fetch(`${server.base}/v1/znodes/spoof`, { headers: { "CF-Connecting-IP": "10.9.9.9" } });
  expect(read.status).toBe(403);
  expect(((await read.json()) as { error: { name: string } }).error.name).toBe("NoAuth");
});

it("through the bridge, each ZooKeeper client's ip identity is its own TCP address", async () => {
  const fromLoopback: Any = await nzc(zkPort);
  cleanups.push(() => fromLoopback.close());
  // A second client whose TCP connection to the bridge comes from 127.0.0.2.
  const proxy: Proxy = await startProxy(zkPort, { localAddress: "127.0.0.2" });
  cleanups.push(() => proxy.close());
  const fromTwo: Any = await nzc(Number(new URL(proxy.base).port));
  cleanups.push(() => fromTwo.close());

  const readableFrom = (address: string) => [new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id("ip", address))];
  const create = (path: string, address: string) =>
    call((cb) => fromLoopback.create(path, Buffer.from(address), readableFrom(address), zookeeper.CreateMode.PERSISTENT, cb));
  await create("/for-one", "127.0.0.1");
  await create("/for-two", "127.0.0.2");
  const read = (client: Any, path: string) => call<[Buffer, unknown]>((cb) => client.getData(path, cb)).then(([data]) => data.toString());

  expect(await read(fromLoopback, "/for-one")).toBe("127.0.0.1");
  await expect(read(fromLoopback, "/for-two")).rejects.toMatchObject({ code: NO_AUTH });
  expect(await read(fromTwo, "/for-two")).toBe("127.0.0.2");
  await expect(read(fromTwo, "/for-one")).rejects.toMatchObject({ code: NO_AUTH });
});
