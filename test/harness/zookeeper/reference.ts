/**
 * A real ZooKeeper 3.8 for a test to compare with, the one way tests start it:
 * on a free loopback port in a temporary directory (launch.ts's config: TTL nodes
 * through extendedTypesEnabled, four-letter words as `options` allow),
 * ready once it takes a session, stopped (and its directory removed) by `stop`.
 * A test first asks launch.ts's `zookeeperUnavailable` and skips with its reason;
 * an installed ZooKeeper that does not start makes this throw, so nothing passes unchecked.
 *
 * @example
 * const zk = await startZookeeper({ fourLetterWords: "ruok,srvr" });
 * // ... compare with zk.port, or zk.address for a client's connect string ...
 * await zk.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ZOOKEEPER_HOST, type ZookeeperOptions, fourLetterWord, freePort, prepareZookeeper } from "./launch.ts";
import { takesSessions } from "./raw-connection.ts";

const STARTUP_LIMIT_MS = 60_000; // a limit for a stuck start, not a speed assertion

export interface RunningZookeeper {
  port: number;
  /** `127.0.0.1:port`, as a client's connect string. */
  address: string;
  /** SIGTERM to its process group (SIGKILL if still there after 10 s), then its directory removed. */
  stop(): Promise<void>;
}

/** Starts ZooKeeper; throws with its output if it does not take a session in time. Needs `ruok` allowed. */
export async function startZookeeper(options: ZookeeperOptions = {}): Promise<RunningZookeeper> {
  const dir = await mkdtemp(join(tmpdir(), "edgekeeper-zk-"));
  const port = await freePort();
  const launch = await prepareZookeeper(dir, port, options);
  const child: ChildProcess = spawn(launch.command, launch.args, { cwd: launch.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) {
      const exited = once(child, "exit");
      process.kill(-child.pid!, "SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (running()) process.kill(-child.pid!, "SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (running() && Date.now() <= deadline) {
    // imok comes before the server takes sessions: ready once a handshake succeeds
    if ((await fourLetterWord(port, "ruok").catch(() => "")) === "imok" && (await takesSessions(port))) {
      return { port, address: `${ZOOKEEPER_HOST}:${port}`, stop };
    }
    await sleep(200);
  }
  const why = running() ? `did not take a session in ${STARTUP_LIMIT_MS} ms` : `exited (${child.exitCode ?? child.signalCode})`;
  await stop();
  throw new Error(`ZooKeeper on port ${port} ${why}: \`${launch.command} ${launch.args.join(" ")}\`\n${output}`);
}
