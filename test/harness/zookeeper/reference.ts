/**
 * A real ZooKeeper 3.8 for a test to compare with: started on a free loopback port
 * in a temporary directory, ready once it takes a session, stopped (and its
 * directory removed) by `stop`.
 *
 * @example
 * const zk = await startZookeeper({ fourLetterWords: "ruok,srvr" });
 * // ... compare with zk.port ...
 * await zk.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ZookeeperOptions, fourLetterWord, freePort, prepareZookeeper } from "./launch.ts";
import { takesSessions } from "./raw-connection.ts";

const STARTUP_LIMIT_MS = 60_000; // a limit for a stuck start, not a speed assertion

export interface RunningZookeeper {
  port: number;
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
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      process.kill(-child.pid!, "SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  for (;;) {
    if (child.exitCode !== null) break;
    // imok comes before the server takes sessions: ready once a handshake succeeds
    if ((await fourLetterWord(port, "ruok").catch(() => "")) === "imok" && (await takesSessions(port))) return { port, stop };
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  await stop();
  throw new Error(`ZooKeeper did not start serving on port ${port}:\n${output}`);
}
