/**
 * Hop tracing as the benchmark uses it (`npm run bench -- --trace-hops`): a server
 * started with EDGEKEEPER_TRACE_HOPS=1 stamps each answer, the client hands the
 * stamps to onHops, the bridge keeps a record per request for the four-letter word
 * `hops`, and the bench's breakdown comes out of them; a server started without it
 * sends answers with nothing extra on the wire and keeps no records.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { hopBreakdown } from "../../bench/hops.ts";
import { type HopRecord, type KeeperClient, connect } from "../../client/index.ts";
import type { ServerMessage } from "../../protocol/session-protocol.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { bridgePort, nzcCreateAndRead } from "../harness/zk-clients.ts";
import { fourLetterWord } from "../harness/zookeeper/launch.ts";

let traced: LocalServer;
let plain: LocalServer;
const clients: KeeperClient[] = [];

beforeAll(async () => {
  [traced, plain] = await Promise.all([startLocalServer({ env: { EDGEKEEPER_TRACE_HOPS: "1" } }), startLocalServer()]);
});

afterAll(async () => {
  for (const zk of clients) await zk.close().catch(() => undefined);
  await Promise.all([traced?.stop(), plain?.stop()]);
});

async function open(server: LocalServer, records: HopRecord[]): Promise<KeeperClient> {
  const zk = await connect({ servers: [server.base], sessionTimeoutMs: 10_000, onHops: (record) => records.push(record) });
  clients.push(zk);
  return zk;
}

/** The session protocol's messages for one request on a bare WebSocket: what is on the wire. */
async function rawAnswer(server: LocalServer): Promise<Extract<ServerMessage, { t: "res" }>> {
  const ws = new WebSocket(`${server.base.replace("http", "ws")}/v1/sessions/socket?namespace=default`);
  const messages: ServerMessage[] = [];
  ws.addEventListener("message", (e) => {
    if (e.data !== "pong") messages.push(...(JSON.parse(String(e.data)) as ServerMessage[]));
  });
  /** The first message of type `t`, once it has come. */
  const next = (t: ServerMessage["t"]) =>
    new Promise<ServerMessage>((resolve, reject) => {
      const look = (): void => {
        const found = messages.find((m) => m.t === t);
        if (!found) return;
        ws.removeEventListener("message", look);
        resolve(found);
      };
      ws.addEventListener("message", look);
      ws.addEventListener("close", () => reject(new Error(`socket closed before a ${t} message`)));
      look();
    });
  await new Promise((resolve) => ws.addEventListener("open", resolve));
  ws.send(JSON.stringify([{ t: "connect", ref: 1, timeoutMs: 10_000 }]));
  const connected = (await next("connected")) as Extract<ServerMessage, { t: "connected" }>;
  ws.send(JSON.stringify([{ t: "req", sid: connected.sessionId, xid: 1, op: { op: "exists", path: "/" } }]));
  const res = (await next("res")) as Extract<ServerMessage, { t: "res" }>;
  ws.close();
  return res;
}

it("stamps every answer when tracing is on, and the bench's breakdown comes out of the stamps", async () => {
  const records: HopRecord[] = [];
  const zk = await open(traced, records);
  await zk.create("/traced", "v");
  await zk.getData("/traced");
  await zk.delete("/traced");
  expect(records).toHaveLength(3);
  for (const { sent, received, host } of records) {
    expect(received).toBeGreaterThanOrEqual(sent);
    expect(host.run).toBeGreaterThanOrEqual(host.in);
    expect(host.out).toBeGreaterThanOrEqual(host.run);
    // One machine's clock: the host's stamps fall within the client's (workerd's are whole milliseconds).
    expect(host.in).toBeGreaterThanOrEqual(Math.floor(sent) - 1);
    expect(host.out).toBeLessThanOrEqual(received + 1);
  }
  const breakdown = hopBreakdown(records);
  expect(breakdown.map((f) => f.hop)).toEqual(["bridge", "wire", "host", "shard", "total"]);
  for (const figure of breakdown) {
    expect(Number.isFinite(figure.p50)).toBe(true);
    expect(figure.p99).toBeGreaterThanOrEqual(figure.p50);
  }
});

it("sends nothing extra when tracing is off: no hops in an answer, onHops never called", async () => {
  const res = await rawAnswer(plain);
  expect(res).toMatchObject({ t: "res", xid: 1, ok: true });
  expect(Object.keys(res)).not.toContain("hops");
  const records: HopRecord[] = [];
  const zk = await open(plain, records);
  await zk.create("/plain", "v");
  await zk.getData("/plain");
  expect(records).toEqual([]);
  // The traced server's answer on the same bare socket does carry them.
  expect((await rawAnswer(traced)).hops).toMatchObject({ in: expect.any(Number), run: expect.any(Number), out: expect.any(Number) });
});

it("the bridge keeps a record per request when tracing, for the four-letter word hops; none when off", async () => {
  const port = await bridgePort(traced);
  expect(await nzcCreateAndRead(port, "/bridge-traced", "v")).toBe("v");
  const records = (await fourLetterWord(port, "hops")).split("\n").filter(Boolean).map((line) => JSON.parse(line) as HopRecord);
  expect(records.length).toBeGreaterThanOrEqual(2); // create and getData (the close may follow)
  for (const { sent, received, bridge, host } of records) {
    expect(received).toBeGreaterThanOrEqual(sent);
    expect(host.out).toBeGreaterThanOrEqual(host.in);
    // The bridge's own stamps: its link sent the request after it was read, and had the answer before writing it.
    expect(bridge!.in).toBeGreaterThanOrEqual(sent);
    expect(bridge!.out).toBeGreaterThanOrEqual(bridge!.in);
    expect(received).toBeGreaterThanOrEqual(bridge!.out);
  }
  expect(hopBreakdown(records).every((f) => Number.isFinite(f.p50))).toBe(true);
  const plainPort = await bridgePort(plain);
  expect(await nzcCreateAndRead(plainPort, "/bridge-plain", "v")).toBe("v");
  // Not a word there: its bytes are a frame length too large, and the connection just closes, as ZooKeeper's would.
  expect(await fourLetterWord(plainPort, "hops").catch(() => "")).toBe("");
});
