/**
 * etcd 3.4 from Debian's etcd-server, one member on loopback with a temp data dir,
 * driven over its HTTP/JSON gateway (`/v3/kv/*`) with fetch, as edgekeeper is: the
 * same client stack, so the difference is the server. etcd's keys are flat, so a
 * znode is a key; create is a transaction "create only if absent", like ZooKeeper's.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Target } from "../workloads.ts";
import { HOST, freePort, startGroup, stopGroup, tempDir, waitUntil } from "../procs.ts";
import { type Peer, PeerUnavailable } from "./peer.ts";

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");

function etcdTarget(base: string): Target {
  const post = async (endpoint: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${base}/v3/${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`etcd: ${endpoint}: HTTP ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  return {
    name: "etcd",
    async create(path, data) {
      const key = b64(path);
      const reply = await post("kv/txn", {
        compare: [{ target: "CREATE", key, create_revision: "0" }],
        success: [{ request_put: { key, value: b64(data) } }],
      });
      if (reply.succeeded !== true) throw new Error(`etcd: create ${path}: key exists`);
    },
    async remove(path) {
      const reply = await post("kv/deleterange", { key: b64(path) });
      if (String(reply.deleted) !== "1") throw new Error(`etcd: delete ${path}: no key`);
    },
    async setData(path, data) {
      await post("kv/put", { key: b64(path), value: b64(data) });
    },
    async getData(path) {
      const reply = (await post("kv/range", { key: b64(path) })) as { kvs?: { value?: string }[] };
      const value = reply.kvs?.[0]?.value;
      if (reply.kvs?.length !== 1) throw new Error(`etcd: getData ${path}: no key`);
      return Buffer.from(value ?? "", "base64").length;
    },
    async close() {},
  };
}

export async function startEtcd(startupLimitMs: number): Promise<Peer> {
  const etcd = process.env.ETCD ?? "etcd";
  let version: string;
  try {
    const { stdout } = await promisify(execFile)(etcd, ["--version"]);
    version = /etcd Version: (\S+)/.exec(stdout)?.[1] ?? "?";
  } catch {
    throw new PeerUnavailable(`no etcd (\`${etcd} --version\` failed); apt-get install etcd-server`);
  }
  const dir = await tempDir("etcd-bench-");
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://${HOST}:${clientPort}`;
  const peerUrl = `http://${HOST}:${peerPort}`;
  const proc = startGroup(
    "etcd",
    etcd,
    [
      "--name=bench",
      `--data-dir=${join(dir, "data")}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=bench=${peerUrl}`,
      "--logger=zap",
      "--log-level=warn",
    ],
    { cwd: dir, stopSignal: "SIGTERM" },
  );
  try {
    await waitUntil(proc, "health", startupLimitMs, async () => {
      const response = await fetch(`${client}/health`);
      return ((await response.json()) as { health?: string }).health === "true";
    });
  } catch (error) {
    await stopGroup(proc);
    throw new PeerUnavailable(`etcd did not start: ${(error as Error).message}`);
  }
  return {
    name: "etcd",
    description: `etcd ${version}, one member, HTTP/JSON gateway via fetch at ${client}`,
    target: etcdTarget(client),
    async stop() {
      await stopGroup(proc);
    },
  };
}
