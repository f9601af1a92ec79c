/**
 * ZooKeeper 3.8 from Debian's package, standalone on a free loopback port with its
 * own temp data dir and config (test/harness/zookeeper/launch.ts, shared with the wire
 * tests), driven by node-zookeeper-client (zookeeper-sessions.ts, the code that also
 * drives edgekeeper's bridge) over one TCP connection (one session; requests
 * pipelined on it as ZooKeeper's clients do).
 * Logging goes to the console at WARN; the server is stopped with SIGTERM to its group.
 */
import { fourLetterWord, javaVersion, prepareZookeeper, zookeeperServing, zookeeperUnavailable } from "../../test/harness/zookeeper/launch.ts";
import { HOST, type Proc, freePort, groupRss, startGroup, stopGroup, tempDir, waitUntil } from "../procs.ts";
import { type Peer, PeerUnavailable } from "./peer.ts";
import { openZookeeperSession, zookeeperDriver } from "./zookeeper-sessions.ts";

/**
 * ZooKeeper on `port` with its data in `dir` (fresh, or where it ran before: it then
 * replays its log and snapshot), registered for cleanup; resolves once it serves
 * requests, or stops it and rejects after `startupLimitMs`. The one way every
 * benchmark starts it.
 */
export async function launchZookeeper(dir: string, port: number, startupLimitMs: number): Promise<Proc> {
  const launch = await prepareZookeeper(dir, port);
  const proc = startGroup("ZooKeeper", launch.command, launch.args, { cwd: launch.cwd, stopSignal: "SIGTERM", nofile: 65536 });
  try {
    await waitUntil(proc, "serving requests", startupLimitMs, () => zookeeperServing(port));
  } catch (error) {
    await stopGroup(proc);
    throw error;
  }
  return proc;
}

export async function startZookeeper(startupLimitMs: number): Promise<Peer> {
  const unavailable = await zookeeperUnavailable();
  if (unavailable) throw new PeerUnavailable(unavailable);
  const javaVersionLine = await javaVersion();

  const dir = await tempDir("zookeeper-bench-");
  const port = await freePort();
  const proc = await launchZookeeper(dir, port, startupLimitMs).catch((error: Error) => {
    throw new PeerUnavailable(`ZooKeeper did not start: ${error.message}`);
  });
  const srvr = await fourLetterWord(port, "srvr").catch(() => "");
  const version = /Zookeeper version: ([^-,\s]+)/.exec(srvr)?.[1] ?? "3.8";

  const address = `${HOST}:${port}`;
  let target: Awaited<ReturnType<typeof openZookeeperSession>>;
  try {
    target = await openZookeeperSession(address, "ZooKeeper", 10_000);
  } catch (error) {
    await stopGroup(proc);
    throw error;
  }

  return {
    name: "ZooKeeper",
    description: `ZooKeeper ${version} standalone (${javaVersionLine}), node-zookeeper-client 1.1.3 at ${address}`,
    target,
    sessions: [zookeeperDriver(address)],
    rss: () => groupRss(proc),
    async stop() {
      await target.close();
      await stopGroup(proc);
    },
  };
}
