/**
 * The two targets of the conformance suite, each started by the test: a real
 * ZooKeeper 3.8 (the reference; harness/zookeeper/reference.ts, extendedTypesEnabled
 * for TTL nodes) and edgekeeper's wire bridge (`npm start` with a free `--zk-port`). Only an absent
 * reference (ZooKeeper or Java not installed) is a reason to skip; a target that is
 * here but does not start throws, so that its cases fail instead of passing unchecked.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { startLocalServer } from "../harness/local-server.ts";
import { bridgePort } from "../harness/zk-clients.ts";
import { fourLetterWord, zookeeperUnavailable } from "../harness/zookeeper/launch.ts";
import { startZookeeper } from "../harness/zookeeper/reference.ts";
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
  const zookeeper = await startZookeeper();
  return { target: { name: "ZooKeeper 3.8", address: zookeeper.address }, stop: zookeeper.stop };
}

export async function startBridge(): Promise<Running> {
  const server = await startLocalServer();
  try {
    const port = await bridgePort(server);
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
