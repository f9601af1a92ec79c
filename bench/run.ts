/**
 * `npm run bench`: edgekeeper's HTTP API against ZooKeeper 3.8 (and etcd 3.4 when
 * asked), on this machine, in the same run. Workloads W1-W3 of DESIGN.md; the
 * others need sessions and watches, which do not exist yet.
 *
 * Run with Node 24's type stripping: `node bench/run.ts [options]` (erasable syntax only).
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { cleanup, isStopping } from "./procs.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import { startEtcd } from "./peers/etcd.ts";
import { type Peer, PeerUnavailable } from "./peers/peer.ts";
import { startZookeeper } from "./peers/zookeeper.ts";
import { formatNumber, formatRatio, median, renderTable } from "./stats.ts";
import { WORKLOADS, type Metric, type Workload, type WorkloadOptions, type WorkloadResult } from "./workloads.ts";

const USAGE = `Usage: npm run bench -- [options]      (or: node bench/run.ts [options])

Measures edgekeeper's HTTP API (npm start) against ZooKeeper 3.8 standalone, both
started here on loopback with temporary state, and prints each figure with the
ratio edgekeeper/ZooKeeper. Workloads (DESIGN.md):
  W1  sequential create+delete, 1 client (a pair is one op): p50/p99 ms, ops/s
  W2  pipelined setData, 100-byte values, N in flight: ops/s
  W3  pipelined getData, N in flight: ops/s

Options:
  --quick            a fast run: one round of a tenth of the ops (figures are noisier)
  --rounds N         run every workload N times per system, report medians
                     (default 3; 1 with --quick)
  --w1 N, --w2 N, --w3 N
                     measured ops per round (default 2000, 10000, 20000; each after
                     a warm-up of a tenth as many)
  --in-flight N      requests in flight for W2/W3 (default 64)
  --no-zookeeper     measure edgekeeper alone
  --etcd             also measure etcd 3.4 (Debian's etcd-server) over its HTTP/JSON gateway
  --timeout S        hard limit for the whole run in seconds (default 300)
  -h, --help         print this help`;

interface Options {
  rounds: number;
  ops: Record<string, number>;
  inFlight: number;
  zookeeper: boolean;
  etcd: boolean;
  timeoutMs: number;
  quick: boolean;
}

function positiveInt(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new Error(`${what} must be a positive integer, not "${value}"`);
  return n;
}

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      w1: { type: "string" },
      w2: { type: "string" },
      w3: { type: "string" },
      "in-flight": { type: "string" },
      "no-zookeeper": { type: "boolean" },
      etcd: { type: "boolean" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const scale = values.quick ? 10 : 1;
  return {
    quick: values.quick ?? false,
    rounds: positiveInt(values.rounds, values.quick ? 1 : 3, "--rounds"),
    ops: {
      W1: positiveInt(values.w1, 2000 / scale, "--w1"),
      W2: positiveInt(values.w2, 10000 / scale, "--w2"),
      W3: positiveInt(values.w3, 20000 / scale, "--w3"),
    },
    inFlight: positiveInt(values["in-flight"], 64, "--in-flight"),
    zookeeper: !values["no-zookeeper"],
    etcd: values.etcd ?? false,
    timeoutMs: positiveInt(values.timeout, 300, "--timeout") * 1000,
  };
}

const STARTUP_LIMIT_MS = 60_000;
const WORKLOAD_LIMIT_MS = 30_000; // per workload run: stops it, the figures say so
const PREFIX = "/bench";

function machineLine(): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const memGiB = (totalmem() / 2 ** 30).toFixed(0);
  return `machine: ${availableParallelism()} cores (${cpu}), ${memGiB} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
}

/** Starts a peer; a peer that is not there (or fails to start) is reported and left out. */
async function tryStart(name: string, start: () => Promise<Peer>, notes: string[]): Promise<Peer | undefined> {
  try {
    return await start();
  } catch (error) {
    if (isStopping()) return undefined; // Ctrl-C or the hard timeout during start-up
    const why = error instanceof PeerUnavailable ? error.message : `failed to start: ${(error as Error).stack ?? error}`;
    notes.push(`${name} not measured: ${why}`);
    console.error(`bench: ${name} not measured: ${why}`);
    return undefined;
  }
}

type Results = Map<string, Map<string, WorkloadResult[]>>; // workload id -> peer name -> rounds

function record(results: Results, workload: Workload, peer: Peer, result: WorkloadResult): void {
  let byPeer = results.get(workload.id);
  if (!byPeer) results.set(workload.id, (byPeer = new Map()));
  let rounds = byPeer.get(peer.name);
  if (!rounds) byPeer.set(peer.name, (rounds = []));
  rounds.push(result);
}

function describe(result: WorkloadResult): string {
  const metrics = result.metrics.map((m) => `${m.name} ${formatNumber(m.value)}`).join(", ");
  return `${result.ops} ops in ${(result.elapsedMs / 1000).toFixed(1)} s: ${metrics}${result.cutShort ? " (cut short by the time limit)" : ""}`;
}

function report(results: Results, peers: Peer[], options: Options): string {
  const [subject, ...others] = peers;
  const header = ["workload", "metric", subject!.name];
  for (const other of others) header.push(other.name, `ratio ek/${other.name === "ZooKeeper" ? "zk" : other.name}`);
  const rows: string[][] = [];
  for (const workload of WORKLOADS) {
    const byPeer = results.get(workload.id);
    if (!byPeer) continue;
    const metricOf = (peer: Peer, name: string): number =>
      median((byPeer.get(peer.name) ?? []).map((r) => r.metrics.find((m) => m.name === name)?.value ?? Number.NaN));
    const metrics: Metric[] = byPeer.get(subject!.name)?.[0]?.metrics ?? [];
    for (const metric of metrics) {
      const ours = metricOf(subject!, metric.name);
      const label = workload.id === "W1" ? `W1 create+delete` : workload.id === "W2" ? `W2 setData x${options.inFlight}` : `W3 getData x${options.inFlight}`;
      const row = [label, metric.name, formatNumber(ours)];
      for (const other of others) {
        const theirs = metricOf(other, metric.name);
        row.push(formatNumber(theirs), formatRatio(ours / theirs));
      }
      rows.push(row);
    }
  }
  return renderTable(header, rows);
}

async function main(options: Options): Promise<void> {
  const notes: string[] = [];
  console.log(machineLine());
  console.log(
    `rounds ${options.rounds}; ops per round W1 ${options.ops.W1}, W2 ${options.ops.W2}, W3 ${options.ops.W3}` +
      ` (+ a tenth as warm-up); ${options.inFlight} in flight${options.quick ? "; --quick" : ""}`,
  );
  console.log("starting servers on 127.0.0.1 ...");

  // Started together: their start-up overlaps, their measurement does not.
  const started = await Promise.all([
    tryStart("edgekeeper", () => startEdgekeeper(STARTUP_LIMIT_MS), notes),
    options.zookeeper ? tryStart("ZooKeeper", () => startZookeeper(STARTUP_LIMIT_MS), notes) : undefined,
    options.etcd ? tryStart("etcd", () => startEtcd(STARTUP_LIMIT_MS), notes) : undefined,
  ]);
  const [edgekeeper] = started;
  if (!edgekeeper) throw new Error("edgekeeper did not start; nothing to measure");
  const peers = started.filter((p): p is Peer => p !== undefined);
  if (!options.zookeeper) notes.push("ZooKeeper not measured: --no-zookeeper");
  for (const peer of peers) console.log(`  ${peer.description}`);

  for (const peer of peers) {
    await peer.target.create(PREFIX, new Uint8Array(0));
    for (const workload of WORKLOADS) await workload.prepare(peer.target, PREFIX);
  }

  const results: Results = new Map();
  for (let round = 0; round < options.rounds; round++) {
    for (const workload of WORKLOADS) {
      const ops = options.ops[workload.id]!;
      const runOptions: WorkloadOptions = {
        ops,
        warmup: Math.max(1, Math.round(ops / 10)),
        inFlight: options.inFlight,
        timeLimitMs: WORKLOAD_LIMIT_MS,
      };
      // Alternate who goes first, so neither always runs on a warmer (or more tired) machine.
      const order = round % 2 === 0 ? peers : [...peers].reverse();
      for (const peer of order) {
        const result = await workload.run(peer.target, PREFIX, runOptions);
        record(results, workload, peer, result);
        const tag = options.rounds > 1 ? ` round ${round + 1}` : "";
        console.log(`  ${workload.id} ${workload.title}${tag}, ${peer.name}: ${describe(result)}`);
      }
    }
  }

  for (const peer of peers) await peer.target.close();
  await cleanup();

  console.log("");
  console.log(report(results, peers, options));
  console.log("");
  if (options.rounds > 1) console.log(`Figures are medians of ${options.rounds} rounds.`);
  console.log(
    "ratio = edgekeeper / peer: above 1 is edgekeeper ahead on ops/s, behind on latency (ms).\n" +
      `Clients and servers share this machine's ${availableParallelism()} cores, so figures are noisy and` +
      " lower than each server alone would reach; compare ratios from the same run.",
  );
  for (const note of notes) console.log(`note: ${note}`);
}

let exiting = false;
async function exitAfterCleanup(code: number, message?: string): Promise<void> {
  if (exiting) return;
  exiting = true;
  if (message) console.error(message);
  await cleanup().catch((error: unknown) => console.error("bench: cleanup failed:", error));
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void exitAfterCleanup(130, `bench: ${signal}, stopping servers`));
}

const options = (() => {
  try {
    return readOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();
setTimeout(
  () => void exitAfterCleanup(1, `bench: hard timeout after ${options.timeoutMs / 1000} s, stopping servers`),
  options.timeoutMs,
).unref();

main(options).then(
  () => process.exit(0),
  (error: unknown) => void exitAfterCleanup(1, `bench: ${(error as Error).stack ?? error}`),
);
