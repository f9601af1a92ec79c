/**
 * edgekeeper as a user runs it: `npm start -- --port N --state DIR` on a free
 * loopback port with a temporary state dir, driven over its HTTP API with Node's
 * fetch (keep-alive; undici pools connections per origin, so 64 requests in flight
 * use up to 64 connections); over WebSocket sessions (edgekeeper-client.ts,
 * edgekeeper-mux.ts); and through its ZooKeeper wire bridge, which npm start serves
 * on `--zk-port` (0 here: a free port, read from the line it prints), with
 * node-zookeeper-client (zookeeper-sessions.ts, the code that drives ZooKeeper).
 * Stopped as Ctrl-C stops it: SIGINT to its process group (node, hosting the
 * bridge, and workerd).
 */
import { join, resolve } from "node:path";
import type { Target } from "../workloads.ts";
import { HOST, freePort, groupCpuMs, groupRss, startGroup, stopGroup, tempDir, waitUntil } from "../procs.ts";
import { clientDriver } from "./edgekeeper-client.ts";
import { sharedSocketDriver } from "./edgekeeper-mux.ts";
import type { Peer } from "./peer.ts";
import { zookeeperDriver } from "./zookeeper-sessions.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const decoder = new TextDecoder();
/** The line npm start prints once the bridge listens (as test/e2e/bridge.test.ts reads it). */
const BRIDGE_LISTENING = /edgekeeper: ZooKeeper protocol on 127\.0\.0\.1:(\d+)/;

async function expectStatus(response: Response, status: number, what: string): Promise<string> {
  const body = await response.text(); // always read it, so the connection goes back to the pool
  if (response.status !== status) throw new Error(`edgekeeper: ${what}: HTTP ${response.status} ${body}`);
  return body;
}

/** W1-W3 over the HTTP API; `extraHeaders` go on every request (a namespace, a region). */
export function edgekeeperHttpTarget(base: string, extraHeaders: Record<string, string> = {}): Target {
  const url = (path: string) => `${base}/v1/znodes${path}`;
  const headers = { "content-type": "application/json", ...extraHeaders };
  return {
    name: "edgekeeper",
    async create(path, data) {
      const body = JSON.stringify({ data: decoder.decode(data) });
      await expectStatus(await fetch(url(path), { method: "POST", headers, body }), 201, `create ${path}`);
    },
    async remove(path) {
      await expectStatus(await fetch(url(path), { method: "DELETE", headers: extraHeaders }), 200, `delete ${path}`);
    },
    async setData(path, data) {
      const body = JSON.stringify({ data: decoder.decode(data) });
      await expectStatus(await fetch(url(path), { method: "PUT", headers, body }), 200, `setData ${path}`);
    },
    async getData(path) {
      const text = await expectStatus(await fetch(url(path), { headers: extraHeaders }), 200, `getData ${path}`);
      const { data, encoding } = JSON.parse(text) as { data: string; encoding: "utf8" | "base64" };
      return Buffer.byteLength(data, encoding);
    },
    async close() {
      // Idle keep-alive connections close with the server; nothing is held open here.
    },
  };
}

/**
 * `traceHops`: started with --trace-hops, so session answers carry hop stamps (bench/hops.ts).
 * `regions`: started with --regions (a comma-separated list), simulating them.
 */
export async function startEdgekeeper(startupLimitMs: number, { traceHops = false, regions = "" } = {}): Promise<Peer> {
  const dir = await tempDir("edgekeeper-bench-");
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  // Warnings and errors only, as etcd runs here (--log-level=warn): the default (info)
  // writes a line per HTTP request, which etcd does not.
  const args = ["start", "--", "--port", String(port), "--zk-port", "0", "--state", join(dir, "state"), "--log-level", "warn", ...(traceHops ? ["--trace-hops"] : []), ...(regions ? ["--regions", regions] : [])];
  const proc = startGroup("edgekeeper (npm start)", "npm", args, {
    cwd: repoRoot,
    stopSignal: "SIGINT",
    nofile: 65536, // W6 holds a socket per session open on workerd
  });
  await waitUntil(proc, "HTTP API", startupLimitMs, async () => {
    if (!proc.output().includes(`edgekeeper: HTTP on ${base}`)) return false;
    const response = await fetch(`${base}/healthz`);
    await response.text();
    return response.ok;
  });
  await waitUntil(proc, "the bridge's listening line", startupLimitMs, async () => BRIDGE_LISTENING.test(proc.output()));
  const bridge = `${HOST}:${BRIDGE_LISTENING.exec(proc.output())![1]}`;
  return {
    name: "edgekeeper",
    description: `edgekeeper: npm start (Miniflare/workerd), HTTP API via fetch at ${base}, ZooKeeper wire bridge at ${bridge}`,
    target: edgekeeperHttpTarget(base),
    httpBase: base,
    zookeeperAddress: bridge,
    sessions: [clientDriver(base), sharedSocketDriver(base), zookeeperDriver(bridge, "bridge", "edgekeeper bridge")],
    rss: () => groupRss(proc),
    workerdCpuMs: () => groupCpuMs(proc, "workerd"),
    async stop() {
      await stopGroup(proc);
    },
  };
}
