/**
 * Storms of connections against `npm start`: session connects are admitted at a
 * bounded rate (the excess waits a little or is refused Throttled) while other
 * traffic is still served; the bridge holds at most its bound of TCP connections
 * per address and closes the next; handshake timeouts are logged once per burst.
 */
import { once } from "node:events";
import { type Socket, connect as tcpConnect } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { encodeConnectRequest } from "../../protocol/jute/index.ts";
import type { ServerMessage } from "../../protocol/session-protocol.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { until } from "../harness/recipe-clients.ts";
import { type Any, bridgePort, nzc } from "../harness/zk-clients.ts";

const MAX_PER_ADDRESS = 3;

let server: LocalServer;
let zkPort: number;

beforeAll(async () => {
  server = await startLocalServer({ env: { EDGEKEEPER_ZK_MAX_CONNECTIONS_PER_ADDRESS: String(MAX_PER_ADDRESS) } });
  zkPort = await bridgePort(server);
});

afterAll(async () => {
  await server?.stop();
});

/** A session socket on host 0 that sends `count` connects in one frame and keeps every answer. */
async function stormSocket(count: number): Promise<{ answers: ServerMessage[]; close(): void }> {
  const ws = new WebSocket(`${server.base.replace("http", "ws")}/v1/sessions/socket?host=0`);
  const answers: ServerMessage[] = [];
  ws.addEventListener("message", (event) => {
    if (event.data !== "pong") answers.push(...(JSON.parse(String(event.data)) as ServerMessage[]));
  });
  await once(ws as unknown as EventTarget, "open");
  ws.send(JSON.stringify(Array.from({ length: count }, (_, i) => ({ t: "connect", ref: i + 1, timeoutMs: 20_000 }))));
  return { answers, close: () => ws.close() };
}

it("a storm of session connects is throttled while an unrelated read still answers", async () => {
  await fetch(`${server.base}/v1/znodes/control`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"data":"still here"}' });
  const storms = await Promise.all(Array.from({ length: 5 }, () => stormSocket(1_000)));
  const control = await fetch(`${server.base}/v1/znodes/control`);
  expect(control.status).toBe(200);
  expect(((await control.json()) as { data: string }).data).toBe("still here");

  // Every connect is answered: opened (now or after waiting its turn) or refused Throttled.
  await until(() => storms.every((storm) => storm.answers.length === 1_000), 120_000, "every connect answered");
  const all = storms.flatMap((storm) => storm.answers);
  const refused = all.filter((m) => m.t === "refused");
  expect(refused.length).toBeGreaterThan(0);
  expect(new Set(refused.map((m) => (m.t === "refused" ? m.error.name : "")))).toEqual(new Set(["Throttled"]));
  expect(all.filter((m) => m.t === "connected").length + refused.length).toBe(5_000);
  for (const storm of storms) storm.close();
});

/** A raw TCP connection to the bridge; resolves once it is open. */
async function rawConnection(): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = tcpConnect(zkPort, "127.0.0.1");
  const closed = new Promise<void>((done) => socket.once("close", () => done()));
  socket.on("error", () => {});
  await once(socket, "connect");
  return { socket, closed };
}

it("handshake timeouts are logged once per burst, not once per connection", async () => {
  const before = server.output().length;
  const silent = await Promise.all(Array.from({ length: MAX_PER_ADDRESS }, () => rawConnection()));
  // The bridge closes each one (ZooKeeper's sessionlessCnxnTimeout: 10 s).
  await Promise.all(silent.map((connection) => connection.closed));
  await until(() => /more like it/.test(server.output().slice(before)), 60_000, "the burst's summary line");
  const lines = server.output().slice(before).split("\n");
  expect(lines.filter((line) => line.includes("no handshake within"))).toHaveLength(1);
  expect(lines.filter((line) => line.includes(`${MAX_PER_ADDRESS - 1} more like it`))).toHaveLength(1);
  expect(lines.filter((line) => line.includes("refused"))).toEqual([]);
});

it(`the bridge closes connection ${MAX_PER_ADDRESS + 1} from one address when the bound is ${MAX_PER_ADDRESS}`, async () => {
  const clients: Any[] = [];
  for (let i = 0; i < MAX_PER_ADDRESS; i++) clients.push(await nzc(zkPort));
  // The next one asks for a session as any client does, and is closed unanswered.
  const extra = await rawConnection();
  let heard = 0;
  extra.socket.on("data", (chunk: Buffer) => (heard += chunk.length));
  extra.socket.write(encodeConnectRequest({ protocolVersion: 0, lastZxidSeen: 0n, timeOut: 10_000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false }));
  await extra.closed;
  expect(heard).toBe(0);
  // A place freed is taken again (the client retries until the bridge has seen the close).
  clients.pop().close();
  clients.push(await nzc(zkPort));
  for (const client of clients) client.close();
});
