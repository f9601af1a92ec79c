/**
 * Identity from the transport, against `npm start`: a CF-Connecting-IP header does
 * not change who a caller is, and each ZooKeeper client of the bridge is known by
 * its own TCP address (ip ACLs and whoAmI agree), not by the bridge's.
 */
import { once } from "node:events";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ServerMessage } from "../../protocol/session-protocol.ts";
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

/** Creates `path` holding `address`, readable from that address only. */
function createReadableFrom(client: Any, path: string, address: string): Promise<unknown> {
  const acl = [new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id("ip", address))];
  return call((cb) => client.create(path, Buffer.from(address), acl, zookeeper.CreateMode.PERSISTENT, cb));
}

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

it("on the session socket, an upgrade sending CF-Connecting-IP of an allowed address is still refused", async () => {
  // Node's WebSocket sends the headers it is given, as any non-browser client may.
  const ws = new (WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket)(
    `${server.base.replace("http", "ws")}/v1/sessions/socket?host=0`,
    { headers: { "CF-Connecting-IP": "10.9.9.9" } },
  );
  cleanups.push(() => ws.close());
  const answers: ServerMessage[] = [];
  ws.addEventListener("message", (event) => {
    if (event.data !== "pong") answers.push(...(JSON.parse(String(event.data)) as ServerMessage[]));
  });
  await once(ws as unknown as EventTarget, "open");
  ws.send(JSON.stringify([{ t: "connect", ref: 1, timeoutMs: 10_000 }]));
  await expect.poll(() => answers[0]?.t).toBe("connected");
  const sid = (answers[0] as Extract<ServerMessage, { t: "connected" }>).sessionId;
  ws.send(JSON.stringify([{ t: "req", sid, xid: 1, op: { op: "getData", path: "/spoof" } }]));
  await expect.poll(() => answers[1]).toMatchObject({ t: "res", xid: 1, ok: false, error: { name: "NoAuth" } });
});

it("through the bridge, each ZooKeeper client's ip identity is its own TCP address", async () => {
  const fromLoopback: Any = await nzc(zkPort);
  cleanups.push(() => fromLoopback.close());
  // A second client whose TCP connection to the bridge comes from 127.0.0.2.
  const proxy: Proxy = await startProxy(zkPort, { localAddress: "127.0.0.2" });
  cleanups.push(() => proxy.close());
  const fromTwo: Any = await nzc(Number(new URL(proxy.base).port));
  cleanups.push(() => fromTwo.close());

  await createReadableFrom(fromLoopback, "/for-one", "127.0.0.1");
  await createReadableFrom(fromLoopback, "/for-two", "127.0.0.2");
  const read = (client: Any, path: string) => call<[Buffer, unknown]>((cb) => client.getData(path, cb)).then(([data]) => data.toString());

  expect(await read(fromLoopback, "/for-one")).toBe("127.0.0.1");
  await expect(read(fromLoopback, "/for-two")).rejects.toMatchObject({ code: NO_AUTH });
  expect(await read(fromTwo, "/for-two")).toBe("127.0.0.2");
  await expect(read(fromTwo, "/for-one")).rejects.toMatchObject({ code: NO_AUTH });
});

it("a session the bridge holds, resumed from another address, takes that address", async () => {
  // A client reaches the bridge from 127.0.0.2, then (its proxy replaced on the same
  // port) from 127.0.0.1: the same session, now known by the new address.
  const first: Proxy = await startProxy(zkPort, { localAddress: "127.0.0.2" });
  const port = Number(new URL(first.base).port);
  const client: Any = await nzc(port);
  cleanups.push(() => client.close());
  await createReadableFrom(client, "/resume-one", "127.0.0.1");
  await createReadableFrom(client, "/resume-two", "127.0.0.2");
  const read = (path: string) => call<[Buffer, unknown]>((cb) => client.getData(path, cb)).then(([data]) => data.toString());
  const sessionId = client.getSessionId().toString("hex");
  expect(await read("/resume-two")).toBe("127.0.0.2");
  await first.close();
  const second: Proxy = await startProxy(zkPort, { port, localAddress: "127.0.0.1" });
  cleanups.push(() => second.close());
  await expect.poll(() => read("/resume-one").catch((error: Any) => `error ${error.code}`), { timeout: 30_000 }).toBe("127.0.0.1");
  expect(client.getSessionId().toString("hex")).toBe(sessionId);
  await expect(read("/resume-two")).rejects.toMatchObject({ code: NO_AUTH });
});
