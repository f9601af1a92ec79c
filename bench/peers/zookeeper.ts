/**
 * ZooKeeper 3.8 from Debian's package, standalone on a free loopback port with its
 * own temp data dir and config (test/harness/zookeeper/launch.ts, shared with the wire
 * tests), driven by node-zookeeper-client over
 * one TCP connection (one session; requests pipelined on it as ZooKeeper's clients do).
 * Logging goes to the console at WARN; the server is stopped with SIGTERM to its group.
 */
import zookeeper from "node-zookeeper-client";
import { fourLetterWord, javaVersion, prepareZookeeper, zookeeperUnavailable } from "../../test/harness/zookeeper/launch.ts";
import type { Target } from "../workloads.ts";
import { HOST, freePort, groupRss, startGroup, stopGroup, tempDir, waitUntil } from "../procs.ts";
import { type Peer, PeerUnavailable } from "./peer.ts";
import { zookeeperDriver } from "./zookeeper-sessions.ts";

function call<T>(what: string, run: (done: (error: Error | null, result?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, result) => (error ? reject(new Error(`zookeeper: ${what}: ${error.message}`)) : resolve(result as T))),
  );
}

function zkTarget(client: ReturnType<typeof zookeeper.createClient>): Target {
  return {
    name: "ZooKeeper",
    create: async (path, data) => {
      await call<string>(`create ${path}`, (done) => client.create(path, Buffer.from(data), done));
    },
    remove: (path) => call(`delete ${path}`, (done) => client.remove(path, -1, done)),
    setData: (path, data) => call(`setData ${path}`, (done) => client.setData(path, Buffer.from(data), -1, done)),
    getData: async (path) => {
      const data = await call<Buffer | undefined>(`getData ${path}`, (done) => client.getData(path, done));
      return data?.length ?? 0;
    },
    async close() {
      client.close();
    },
  };
}

export async function startZookeeper(startupLimitMs: number): Promise<Peer> {
  const unavailable = await zookeeperUnavailable();
  if (unavailable) throw new PeerUnavailable(unavailable);
  const javaVersionLine = await javaVersion();

  const dir = await tempDir("zookeeper-bench-");
  const port = await freePort();
  const launch = await prepareZookeeper(dir, port);
  const proc = startGroup("ZooKeeper", launch.command, launch.args, { cwd: launch.cwd, stopSignal: "SIGTERM", nofile: 65536 });
  try {
    await waitUntil(proc, "imok to ruok", startupLimitMs, async () => (await fourLetterWord(port, "ruok")) === "imok");
  } catch (error) {
    await stopGroup(proc);
    throw new PeerUnavailable(`ZooKeeper did not start: ${(error as Error).message}`);
  }
  const srvr = await fourLetterWord(port, "srvr").catch(() => "");
  const version = /Zookeeper version: ([^-,\s]+)/.exec(srvr)?.[1] ?? "3.8";

  const client = zookeeper.createClient(`${HOST}:${port}`, { sessionTimeout: 30_000, retries: 0 });
  const connected = new Promise<void>((resolve) => client.once("connected", resolve));
  client.connect();
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`node-zookeeper-client: not connected after 10 s`)), 10_000).unref(),
  );
  try {
    await Promise.race([connected, timer]);
  } catch (error) {
    client.close();
    await stopGroup(proc);
    throw error;
  }

  return {
    name: "ZooKeeper",
    description: `ZooKeeper ${version} standalone (${javaVersionLine}), node-zookeeper-client 1.1.3 at ${HOST}:${port}`,
    target: zkTarget(client),
    sessions: [zookeeperDriver(`${HOST}:${port}`)],
    rss: () => groupRss(proc),
    async stop() {
      client.close();
      await stopGroup(proc);
    },
  };
}
