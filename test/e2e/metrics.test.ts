/**
 * Monitoring end to end against `npm start`: after a known sequence of creates,
 * deletes and sessions, GET /metrics, the monitor admin command and the bridge's
 * four-letter words (mntr, stat, wchs) report the tree as it is, and agree.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type KeeperClient, connect } from "../../client/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { until } from "../harness/recipe-clients.ts";
import { fourLetterWord } from "../harness/zookeeper/launch.ts";

let server: LocalServer;
const clients: KeeperClient[] = [];

beforeAll(async () => {
  server = await startLocalServer();
});

afterAll(async () => {
  for (const zk of clients) await zk.close().catch(() => undefined);
  await server?.stop();
});

/** A client of the namespace the bridge serves ("default"), as the four-letter words report it. */
async function open(): Promise<KeeperClient> {
  const zk = await connect({ servers: [server.base], namespace: "default", sessionTimeoutMs: 10_000 });
  clients.push(zk);
  return zk;
}

/** mntr's lines as a map. */
async function mntr(): Promise<Record<string, string>> {
  const text = await fourLetterWord(server.zkPort, "mntr");
  return Object.fromEntries(text.trim().split("\n").map((line) => line.split("\t") as [string, string]));
}

/** The unlabelled-but-namespace samples of /metrics, by name. */
async function metrics(): Promise<Record<string, number>> {
  const res = await fetch(`${server.base}/metrics`);
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split("\n")) {
    const match = /^([a-z_]+)\{namespace="default"(?:,shard="([^"]+)",prefix="[^"]*")?\} (\S+)$/.exec(line);
    if (match) out[match[2] ? `${match[1]}:${match[2]}` : match[1]!] = Number(match[3]);
  }
  return out;
}

it("mntr, stat and /metrics agree with the tree after creates, deletes and sessions", async () => {
  const [a, b] = [await open(), await open()];
  await a.create("/app", "hello");
  await a.create("/app/gone");
  await a.create("/cfg", "12345678");
  await a.delete("/app/gone");
  await a.create("/app/lock", "x", { mode: "EPHEMERAL" });
  await b.getData("/cfg", { watch: true });

  // What the tree holds: ZooKeeper's 4 system nodes (44 bytes of paths), /app, /app/lock, /cfg.
  const tree = { nodes: 7, ephemerals: 1, bytes: 44 + (4 + 5) + (9 + 1) + (4 + 8) };
  // Session hosts list themselves in the directory as they open their first session.
  await until(async () => (await metrics()).global_sessions === 2, 20_000, "both sessions to be counted");
  const m = await metrics();
  expect(m).toMatchObject({ znode_count: tree.nodes, ephemerals_count: tree.ephemerals, approximate_data_size: tree.bytes, watch_count: 1, outstanding_requests: 0 });
  expect(await mntr()).toMatchObject({
    zk_znode_count: String(tree.nodes),
    zk_ephemerals_count: String(tree.ephemerals),
    zk_approximate_data_size: String(tree.bytes),
    zk_global_sessions: "2",
    zk_watch_count: "1",
    zk_outstanding_requests: "0",
    zk_shard_last_zxid_root: String(m["edgekeeper_shard_last_zxid:root"]),
  });
  expect(await fourLetterWord(server.zkPort, "wchs")).toBe("1 connections watching 1 paths\nTotal watches:1\n");
  const stat = await fourLetterWord(server.zkPort, "stat");
  expect(stat).toContain(`Node count: ${tree.nodes}\n`);
  expect(stat).toContain(`Zxid: 0x${m["edgekeeper_shard_last_zxid:root"]!.toString(16)}\n`);

  // The ephemeral's session closes: its node, its session and nothing else go.
  await a.close();
  const monitor = await (await fetch(`${server.base}/v1/admin/commands/monitor`)).json();
  expect(monitor).toMatchObject({ znode_count: tree.nodes - 1, ephemerals_count: 0, global_sessions: 1, watch_count: 1 });
  expect(await mntr()).toMatchObject({ zk_znode_count: String(tree.nodes - 1), zk_ephemerals_count: "0", zk_global_sessions: "1" });
});

it("/readyz answers once the directory and the root shard do", async () => {
  const res = await fetch(`${server.base}/readyz`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true });
});

it("logs each request as a JSON line: method, path, status, latency, namespace and the error's name", async () => {
  await fetch(`${server.base}/v1/znodes/not-there-${process.pid}`, { headers: { "X-Edgekeeper-Namespace": "logged" } });
  const wanted = (line: string) => line.includes(`"path":"/v1/znodes/not-there-${process.pid}"`);
  await until(() => server.output().split("\n").some(wanted), 20_000, "the request's log line");
  const line = JSON.parse(server.output().split("\n").find(wanted)!);
  expect(line).toMatchObject({ level: "info", msg: "request", method: "GET", status: 404, namespace: "logged", error: "NoNode" });
  expect(typeof line.ms).toBe("number");
  expect(Number.isNaN(Date.parse(line.time))).toBe(false);
});
