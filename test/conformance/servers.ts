/**
 * The two targets of the conformance suite, each started by the test: a real
 * ZooKeeper 3.8 (the reference; launch.ts, extendedTypesEnabled for TTL nodes) and
 * edgekeeper's wire bridge (`npm start` with a free `--zk-port`). Only an absent
 * reference (ZooKeeper or Java not installed) is a reason to skip; a target that is
 * here but does not start throws, so that its cases fail instead of passing unchecked.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, startLocalServer } from "../harness/local-server.ts";
import { ZOOKEEPER_HOST, fourLetterWord, prepareZookeeper, zookeeperUnavailable } from "../harness/zookeeper/launch.ts";
import { Session, type Target } from "./target.ts";

export interface Running {
  target: Target;
  stop(): Promise<void>;
}

/** A running target, or why the reference cannot run on this machine. */
export type Started = Running | { absent: string };

/** Resolves once a session can be opened; throws with the last error after `limitMs`. */
async function takesSessions(target: Target, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const session = await Session.open(target);
      await session.close();
      return;
    } catch (error) {
      last = (error as Error).message;
      await sleep(250);
    }
  }
  throw new Error(`${target.name} took no session in ${limitMs} ms: ${last}`);
}

export async function startReference(): Promise<Started> {
  const missing = await zookeeperUnavailable();
  if (missing) return { absent: missing };
  const dir = await mkdtemp(join(tmpdir(), "edgekeeper-conformance-zk-"));
  const port = await freePort();
  const launch = await prepareZookeeper(dir, port);
  const child: ChildProcess = spawn(launch.command, launch.args, { cwd: launch.cwd, detached: true, stdio: "ignore" });
  const stop = async () => {
    if (running()) {
      const exited = new Promise((done) => child.once("exit", done));
      process.kill(-child.pid!, "SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (running()) process.kill(-child.pid!, "SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };
  const target: Target = { name: "ZooKeeper 3.8", address: `${ZOOKEEPER_HOST}:${port}` };
  const running = () => child.exitCode === null && child.signalCode === null;
  for (let i = 0; i < 240 && running() && (await fourLetterWord(port, "ruok").catch(() => "")) !== "imok"; i++) await sleep(250);
  try {
    if (!running()) throw new Error(`ZooKeeper exited (${child.exitCode ?? child.signalCode}) before serving: \`${launch.command} ${launch.args.join(" ")}\``);
    await takesSessions(target, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { target, stop };
}

/** The line `npm start` prints for the bridge says where it listens. */
const LISTENING = /edgekeeper: ZooKeeper protocol on 127\.0\.0\.1:(\d+)/;

export async function startBridge(): Promise<Running> {
  const server = await startLocalServer();
  try {
    for (let i = 0; i < 100 && !LISTENING.test(server.output()); i++) await sleep(100);
    const port = Number(LISTENING.exec(server.output())?.[1]);
    if (!port) throw new Error("npm start printed no ZooKeeper protocol port");
    const answer = await fourLetterWord(port, "ruok").catch((error: Error) => error.message);
    if (answer !== "imok") throw new Error(`the bridge on port ${port} answered ruok with ${JSON.stringify(answer)}`);
    const target: Target = { name: "edgekeeper bridge", address: `127.0.0.1:${port}` };
    await takesSessions(target, 30_000);
    return { target, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
