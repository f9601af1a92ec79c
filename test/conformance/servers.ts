/**
 * The two targets of the conformance suite, each started by the test: a real
 * ZooKeeper 3.8 (the reference; launch.ts, extendedTypesEnabled for TTL nodes) and
 * edgekeeper's wire bridge (`npm start` with a free `--zk-port`). Each answers a
 * running target or the reason it cannot run here, so that only that target skips.
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

export type Started = Running | { unavailable: string };

/** Resolves once a session can be opened, or with why not. */
async function takesSessions(target: Target, limitMs: number): Promise<string | undefined> {
  const deadline = Date.now() + limitMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const session = await Session.open(target);
      await session.close();
      return undefined;
    } catch (error) {
      last = (error as Error).message;
      await sleep(250);
    }
  }
  return `${target.name} took no session: ${last}`;
}

export async function startReference(): Promise<Started> {
  const missing = await zookeeperUnavailable();
  if (missing) return { unavailable: missing };
  const dir = await mkdtemp(join(tmpdir(), "edgekeeper-conformance-zk-"));
  const port = await freePort();
  const launch = await prepareZookeeper(dir, port);
  const child: ChildProcess = spawn(launch.command, launch.args, { cwd: launch.cwd, detached: true, stdio: "ignore" });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once("exit", done));
      process.kill(-child.pid!, "SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };
  const target: Target = { name: "ZooKeeper 3.8", address: `${ZOOKEEPER_HOST}:${port}` };
  for (let i = 0; i < 240 && (await fourLetterWord(port, "ruok").catch(() => "")) !== "imok"; i++) await sleep(250);
  const why = await takesSessions(target, 30_000);
  if (why) {
    await stop();
    return { unavailable: why };
  }
  return { target, stop };
}

/** The line `npm start` prints for the bridge says where it listens. */
const LISTENING = /edgekeeper: ZooKeeper protocol on 127\.0\.0\.1:(\d+)/;

export async function startBridge(): Promise<Started> {
  let server;
  try {
    server = await startLocalServer();
  } catch (error) {
    return { unavailable: `npm start --zk-port failed: ${(error as Error).message.split("\n").slice(0, 6).join(" | ")}` };
  }
  for (let i = 0; i < 100 && !LISTENING.test(server.output()); i++) await sleep(100);
  const port = Number(LISTENING.exec(server.output())?.[1]);
  if (!port) {
    await server.stop();
    return { unavailable: "npm start printed no ZooKeeper protocol port (no bridge in this checkout?)" };
  }
  const answer = await fourLetterWord(port, "ruok").catch((error: Error) => error.message);
  if (answer !== "imok") {
    await server.stop();
    return { unavailable: `the bridge on port ${port} answered ruok with ${JSON.stringify(answer)}` };
  }
  const target: Target = { name: "edgekeeper bridge", address: `127.0.0.1:${port}` };
  const why = await takesSessions(target, 30_000);
  if (why) {
    await server.stop();
    return { unavailable: why };
  }
  return { target, stop: () => server.stop() };
}
