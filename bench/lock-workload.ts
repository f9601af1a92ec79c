/**
 * W5, lock handoff (DESIGN.md): C contenders, each on its own session, take one lock
 * N times each (8 x 50 by default): acquire, note the holder in a shared counter (two
 * at once fails the run), release, again. Reports acquisitions/s over the whole run
 * and the wait per acquisition (acquire called -> held; p50/p99 ms). edgekeeper runs
 * our Lock (client/recipes/lock.ts) through the TypeScript client; ZooKeeper 3.8 runs
 * ZooKeeper's documented lock recipe (zookeeper-lock.ts) through node-zookeeper-client,
 * and the same code (only the host:port differs) runs against edgekeeper's wire bridge.
 * All are the herd-free recipe: each waiter watches its predecessor only.
 *
 * Each system on a freshly started server of its own, stopped after. `npm run bench --
 * --only W5` runs it inside the report; `node bench/lock-workload.ts [--bridge]` runs it alone.
 */
import zookeeper from "node-zookeeper-client";
import { connect, type KeeperClient } from "../client/index.ts";
import { Lock } from "../client/recipes/index.ts";
import { zookeeperUnavailable } from "../test/harness/zookeeper/launch.ts";
import { HOST, cleanup, freePort, stopGroup, tempDir } from "./procs.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import { launchZookeeper } from "./peers/zookeeper.ts";
import { within } from "./session-workloads.ts";
import { formatNumber, percentile } from "./stats.ts";
import type { WorkloadResult } from "./workloads.ts";
import { ZookeeperLock } from "./zookeeper-lock.ts";

const LOCK_PATH = "/bench-w5/lock";
const SESSION_TIMEOUT_MS = 30_000;

export interface W5Options {
  contenders: number;
  acquisitions: number;
  startupLimitMs: number;
  /** Also run ZooKeeper (when installed). */
  zookeeper: boolean;
  /** Run our Lock through the TypeScript client (default true). */
  client?: boolean;
  /** Run ZooKeeper's recipe on node-zookeeper-client against edgekeeper's bridge (default false). */
  bridge?: boolean;
}

export interface W5Report {
  /** By system: "edgekeeper client", "edgekeeper bridge", "ZooKeeper". */
  results: Map<string, WorkloadResult>;
  notes: string[];
}

/** A contender: acquire and release one lock, close its session. */
interface Contender {
  acquire(): Promise<void>;
  release(): Promise<void>;
  close(): Promise<void>;
}

/** Runs the handoff loop on `contenders` and measures it. */
async function handoff(contenders: readonly Contender[], acquisitions: number): Promise<WorkloadResult> {
  let holders = 0;
  const waits: number[] = [];
  const started = performance.now();
  await Promise.all(
    contenders.map(async (c) => {
      for (let i = 0; i < acquisitions; i++) {
        const asked = performance.now();
        await c.acquire();
        waits.push(performance.now() - asked);
        if (++holders !== 1) throw new Error(`W5: ${holders} holders at once`);
        holders--;
        await c.release();
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return {
    ops: waits.length,
    elapsedMs,
    cutShort: false,
    metrics: [
      { name: "acq/s", value: (waits.length / elapsedMs) * 1000, higherIsBetter: true },
      { name: "p50 wait ms", value: percentile(waits, 50), higherIsBetter: false },
      { name: "p99 wait ms", value: percentile(waits, 99), higherIsBetter: false },
    ],
  };
}

async function edgekeeperW5(options: W5Options): Promise<WorkloadResult> {
  const peer = await startEdgekeeper(options.startupLimitMs);
  const base = peer.httpBase!;
  const clients: KeeperClient[] = [];
  try {
    for (let i = 0; i < options.contenders; i++) clients.push(await connect({ servers: [base], sessionTimeoutMs: SESSION_TIMEOUT_MS }));
    const contenders = clients.map((zk): Contender => {
      const lock = new Lock(zk, LOCK_PATH);
      return {
        acquire: async () => {
          if (!(await lock.acquire())) throw new Error("W5: acquire without a timeout returned false");
        },
        release: () => lock.release(),
        close: () => zk.close(),
      };
    });
    await handoff(contenders.slice(0, 1), 5); // warm-up: the container, the first socket frames
    return await handoff(contenders, options.acquisitions);
  } finally {
    await Promise.all(clients.map((zk) => zk.close().catch(() => undefined)));
    await peer.stop();
  }
}

async function openZookeeper(connectionString: string): Promise<ReturnType<typeof zookeeper.createClient>> {
  const client = zookeeper.createClient(connectionString, { sessionTimeout: SESSION_TIMEOUT_MS, retries: 0 });
  const connected = new Promise<void>((resolve) => client.once("connected", resolve));
  client.connect();
  try {
    await within(connected, 20_000, `node-zookeeper-client connect to ${connectionString}`);
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/**
 * ZooKeeper's lock recipe on node-zookeeper-client against `connectionString`:
 * ZooKeeper itself, or edgekeeper's bridge; the same code for both.
 */
async function recipeHandoff(connectionString: string, options: W5Options): Promise<WorkloadResult> {
  const clients: ReturnType<typeof zookeeper.createClient>[] = [];
  try {
    for (let i = 0; i < options.contenders; i++) clients.push(await openZookeeper(connectionString));
    await ZookeeperLock.ensureDir(clients[0], LOCK_PATH);
    const contenders = clients.map((client): Contender => {
      const lock = new ZookeeperLock(client, LOCK_PATH);
      return { acquire: () => lock.acquire(), release: () => lock.release(), close: async () => client.close() };
    });
    await handoff(contenders.slice(0, 1), 5);
    return await handoff(contenders, options.acquisitions);
  } finally {
    for (const client of clients) client.close();
  }
}

async function zookeeperW5(options: W5Options): Promise<WorkloadResult> {
  const dir = await tempDir("zookeeper-w5-");
  const port = await freePort();
  const proc = await launchZookeeper(dir, port, options.startupLimitMs);
  try {
    return await recipeHandoff(`${HOST}:${port}`, options);
  } finally {
    await stopGroup(proc);
  }
}

/** The same recipe and client against edgekeeper's wire bridge (npm start --zk-port 0). */
async function bridgeW5(options: W5Options): Promise<WorkloadResult> {
  const peer = await startEdgekeeper(options.startupLimitMs);
  try {
    return await recipeHandoff(peer.zookeeperAddress!, options);
  } finally {
    await peer.target.close();
    await peer.stop();
  }
}

/** W5 on each system in turn, each on a fresh server. */
export async function runW5(options: W5Options, log: (line: string) => void = console.log): Promise<W5Report> {
  const results = new Map<string, WorkloadResult>();
  const notes: string[] = [];
  const describe = (r: WorkloadResult) => `${r.ops} acquisitions in ${(r.elapsedMs / 1000).toFixed(1)} s: ${r.metrics.map((m) => `${m.name} ${formatNumber(m.value)}`).join(", ")}`;
  if (options.client ?? true) {
    log(`  W5 lock handoff, ${options.contenders} contenders x ${options.acquisitions}, edgekeeper Lock (TypeScript client), fresh server:`);
    const ours = await edgekeeperW5(options);
    results.set("edgekeeper client", ours);
    log(`    ${describe(ours)}`);
  }
  if (options.bridge) {
    log(`  W5 lock handoff, edgekeeper bridge, ZooKeeper's lock recipe (node-zookeeper-client), fresh server:`);
    const bridged = await bridgeW5(options);
    results.set("edgekeeper bridge", bridged);
    log(`    ${describe(bridged)}`);
  }
  const unavailable = options.zookeeper ? await zookeeperUnavailable() : "--no-zookeeper";
  if (unavailable) {
    notes.push(`W5 ZooKeeper not measured: ${unavailable}`);
  } else {
    log(`  W5 lock handoff, ZooKeeper's lock recipe (node-zookeeper-client), fresh server:`);
    const theirs = await zookeeperW5(options);
    results.set("ZooKeeper", theirs);
    log(`    ${describe(theirs)}`);
  }
  return { results, notes };
}

if (import.meta.main) {
  const report = await runW5({
    contenders: 8,
    acquisitions: 50,
    startupLimitMs: 120_000,
    zookeeper: !process.argv.includes("--no-zookeeper"),
    bridge: process.argv.includes("--bridge"),
  }).finally(() => cleanup());
  for (const note of report.notes) console.log(`note: ${note}`);
  process.exit(0);
}
