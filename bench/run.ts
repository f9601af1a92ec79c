/**
 * `npm run bench`: edgekeeper against ZooKeeper 3.8 (and etcd 3.4 when asked), on
 * this machine, in the same run. Workloads of DESIGN.md: W1-W3 over the HTTP API and
 * through the TypeScript client (WebSocket sessions), W4 watch latency and W6 1,000
 * idle watching sessions through sessions; W5 lock handoff in lock-workload.ts. The
 * "bridge" rows drive edgekeeper's ZooKeeper wire bridge with node-zookeeper-client,
 * the same code that drives ZooKeeper, for W1-W6.
 *
 * Run with Node 24's type stripping: `node bench/run.ts [options]` (erasable syntax only).
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { cleanup, isStopping, openFileLimit } from "./procs.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import { startEtcd } from "./peers/etcd.ts";
import { type Peer, PeerUnavailable } from "./peers/peer.ts";
import { startZookeeper } from "./peers/zookeeper.ts";
import { type Results, type Row, type Variant, edgekeeperKey, record, renderReport, targetLines } from "./report.ts";
import { type SessionDriver, type SessionTarget, closeAll, rssGrowth, runW4, runW6 } from "./session-workloads.ts";
import { runW5 } from "./lock-workload.ts";
import { runSnapshotBench } from "./snapshot-workload.ts";
import { runHopBench } from "./hops-workload.ts";
import { runRegionBench } from "./regions-workload.ts";
import { formatNumber } from "./stats.ts";
import { type Target, WORKLOADS, type WorkloadOptions, type WorkloadResult, cutShortNote, value } from "./workloads.ts";

const USAGE = `Usage: npm run bench -- [options]      (or: node bench/run.ts [options])

Measures edgekeeper (npm start) against ZooKeeper 3.8 standalone (node-zookeeper-client),
both started here on loopback with temporary state, and prints each figure with the
ratio edgekeeper/ZooKeeper. edgekeeper is reached three ways (rows): its HTTP API, its
TypeScript client, and its ZooKeeper wire bridge driven by node-zookeeper-client, the
same code that drives ZooKeeper ("bridge" rows). Workloads (DESIGN.md):
  W1  sequential create+delete, 1 client (a pair is one op): p50/p99 ms, ops/s
  W2  pipelined setData, 100-byte values, N in flight: ops/s
  W3  pipelined getData, N in flight: ops/s
      (W1-W3 over edgekeeper's HTTP API, through its TypeScript client, and the bridge)
  W4  watch notification latency, writer session to watcher session: p50/p99 ms
  W5  lock handoff, 8 sessions x 50 acquisitions of one lock (our Lock; ZooKeeper's
      lock recipe on node-zookeeper-client, for ZooKeeper and the bridge):
      acq/s, p50/p99 wait ms (bench/lock-workload.ts)
  W6  1,000 idle sessions watching one node: server memory per session (RSS of
      all its processes), time to fan one change out to all; edgekeeper three
      ways: sessions sharing a few WebSockets, a WebSocket per session, and
      node-zookeeper-client through the bridge (a TCP connection per session)

Options:
  --quick            a fast run: one round of a tenth of the ops (figures are noisier)
  --rounds N         run W1-W4 N times per system, report medians (default 3; 1 with --quick)
  --only LIST        workloads to run, e.g. W1,W4,W6 (default W1,W2,W3,W4,W5,W6)
  --http             the HTTP rows (W1-W3 over HTTP: the sessionless benchmark)
  --sessions         the TypeScript client rows (W1-W3 through the client, W4, W5, W6)
  --bridge           the bridge rows (W1-W6 with node-zookeeper-client through the bridge)
                     (these three combine, e.g. --http --bridge; none given: all rows)
  --w1 N, --w2 N, --w3 N, --w4 N
                     measured ops per round (default 2000, 10000, 20000, 1000; each
                     after a warm-up of a tenth as many)
  --in-flight N      requests in flight for W2/W3 (default 64)
  --w6-sessions N    idle watching sessions in W6 (default 1000)
  --w6-per-socket N  sessions per WebSocket in W6's shared-socket run (default 250)
  --w6-rounds N      W6 runs per system, each on a freshly started server (default 2; 1 with --quick)
  --w6-changes N     changes fanned out per W6 run; the median is reported (default 5; 3 with --quick)
  --w6-warm-up N     before W6's first memory reading, N sessions each connect, read 10 times,
                     watch, have their event and close, so that growth every fresh server shows
                     in its first requests (compiled code, heaps sized up) is not counted per
                     session (default 200)
  --snapshot         instead of W1-W6: snapshot save and restore time (npx edgekeeper
                     snapshot) beside ZooKeeper's restart from its own snapshot
                     (bench/snapshot-workload.ts)
  --snapshot-nodes N nodes in the snapshot benchmark's tree (default 100000)
  --trace-hops       instead of W1-W6: where a request's time goes, by hop (wire, host,
                     shard), p50/p99 for W1 and W3 through the TypeScript client on a
                     server started with --trace-hops (bench/hops-workload.ts)
  --regions          instead of W1-W6: write and read latency from each of the five simulated
                     regions (npm start --regions), beside a server without them; --w1 N
                     sets the ops per region (default 200; 50 with --quick); then HTTP reads
                     at each region's replica, replication lag at 200 writes/s (2000 writes;
                     400 with --quick) and the leader's W2 with replicas pulling vs none
                     (--w2 N ops, default 5000, 1000 with --quick; --rounds); a session's
                     writes with a watch held at its region's replica vs without, watch
                     event latency in each region (--w1 N each), and the W2 again with
                     --watchers N sessions (default 1000) watching at the replicas; then
                     --moves N planned moves of a leader between two regions under a steady
                     writer, their write pause (default 100; 20 with --quick); and a
                     multi checking on one shard and writing on another (--w1 N calls);
                     a shard's writes regional vs geo-tier (--w1 N each), and --outages N
                     outages of its leader's region, the time to the first write its new
                     leader acknowledges (default 5; 2 with --quick)
                     (bench/regions-workload.ts, regions-replicas.ts, regions-watches.ts,
                     regions-moves.ts, regions-multi.ts, regions-geo.ts)
  --no-zookeeper     measure edgekeeper alone
  --etcd             also measure etcd 3.4 (Debian's etcd-server) over its HTTP/JSON gateway (W1-W3)
  --timeout S        hard limit for the whole run in seconds (default 1200)
  -h, --help         print this help`;

const ALL_WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6"] as const;

interface Options {
  rounds: number;
  ops: Record<string, number>;
  inFlight: number;
  workloads: Set<string>;
  http: boolean;
  sessions: boolean;
  bridge: boolean;
  w6: { sessions: number; perSocket: number; rounds: number; changes: number; warmUpSessions: number };
  zookeeper: boolean;
  etcd: boolean;
  timeoutMs: number;
  quick: boolean;
  snapshot: { nodes: number } | undefined;
  /** --trace-hops: the hop breakdown of W1 and W3 instead of W1-W6. */
  traceHops: boolean;
  /** --regions: latency from each simulated region, and the replicas' figures, instead of W1-W6. */
  regions: { ops: number; lagWrites: number; w2Ops: number; w2Rounds: number; watchers: number; moves: number; outages: number } | undefined;
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
      only: { type: "string" },
      http: { type: "boolean" },
      sessions: { type: "boolean" },
      bridge: { type: "boolean" },
      w1: { type: "string" },
      w2: { type: "string" },
      w3: { type: "string" },
      w4: { type: "string" },
      "in-flight": { type: "string" },
      "w6-sessions": { type: "string" },
      "w6-per-socket": { type: "string" },
      "w6-rounds": { type: "string" },
      "w6-changes": { type: "string" },
      "w6-warm-up": { type: "string" },
      snapshot: { type: "boolean" },
      "trace-hops": { type: "boolean" },
      regions: { type: "boolean" },
      watchers: { type: "string" },
      moves: { type: "string" },
      outages: { type: "string" },
      "snapshot-nodes": { type: "string" },
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
  const workloads = new Set((values.only ?? ALL_WORKLOADS.join(",")).split(",").map((w) => w.trim().toUpperCase()).filter(Boolean));
  for (const w of workloads) if (!(ALL_WORKLOADS as readonly string[]).includes(w)) throw new Error(`--only: no workload "${w}" (${ALL_WORKLOADS.join(", ")})`);
  const anyRows = values.http || values.sessions || values.bridge;
  const perSocket = positiveInt(values["w6-per-socket"], 250, "--w6-per-socket");
  if (perSocket > 1000) throw new Error("--w6-per-socket: a socket carries at most 1000 sessions (the host's maxSessionsPerSocket)");
  return {
    quick: values.quick ?? false,
    rounds: positiveInt(values.rounds, values.quick ? 1 : 3, "--rounds"),
    ops: {
      W1: positiveInt(values.w1, 2000 / scale, "--w1"),
      W2: positiveInt(values.w2, 10000 / scale, "--w2"),
      W3: positiveInt(values.w3, 20000 / scale, "--w3"),
      W4: positiveInt(values.w4, 1000 / scale, "--w4"),
    },
    inFlight: positiveInt(values["in-flight"], 64, "--in-flight"),
    workloads,
    http: anyRows ? (values.http ?? false) : true,
    sessions: anyRows ? (values.sessions ?? false) : true,
    bridge: anyRows ? (values.bridge ?? false) : true,
    w6: {
      sessions: positiveInt(values["w6-sessions"], 1000, "--w6-sessions"),
      perSocket,
      rounds: positiveInt(values["w6-rounds"], values.quick ? 1 : 2, "--w6-rounds"),
      changes: positiveInt(values["w6-changes"], values.quick ? 3 : 5, "--w6-changes"),
      warmUpSessions: positiveInt(values["w6-warm-up"], 200, "--w6-warm-up"),
    },
    zookeeper: !values["no-zookeeper"],
    etcd: values.etcd ?? false,
    timeoutMs: positiveInt(values.timeout, 1200, "--timeout") * 1000,
    traceHops: values["trace-hops"] ?? false,
    regions: values.regions
      ? {
          ops: positiveInt(values.w1, values.quick ? 50 : 200, "--w1"),
          lagWrites: values.quick ? 400 : 2000,
          w2Ops: positiveInt(values.w2, values.quick ? 1000 : 5000, "--w2"),
          w2Rounds: positiveInt(values.rounds, values.quick ? 1 : 3, "--rounds"),
          watchers: positiveInt(values.watchers, 1000, "--watchers"),
          moves: positiveInt(values.moves, values.quick ? 20 : 100, "--moves"),
          outages: positiveInt(values.outages, values.quick ? 2 : 5, "--outages"),
        }
      : undefined,
    snapshot: values.snapshot ? { nodes: positiveInt(values["snapshot-nodes"], 100_000, "--snapshot-nodes") } : undefined,
  };
}

const STARTUP_LIMIT_MS = 60_000;
const WORKLOAD_LIMIT_MS = 30_000; // per workload run: stops it, the figures say so
const OPEN_LIMIT_MS = 120_000; // opening W6's sessions
const EVENT_LIMIT_MS = 30_000; // one W4 notification, one W6 fan-out: beyond it the run is broken
const SETTLE_MS = 2_000; // before each W6 memory reading
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

function describe(result: WorkloadResult): string {
  const metrics = result.metrics.map((m) => `${m.name} ${formatNumber(m.value)}`).join(", ");
  const head = result.elapsedMs > 0 ? `${result.ops} ops in ${(result.elapsedMs / 1000).toFixed(1)} s: ` : "";
  return `${head}${metrics}${cutShortNote(result.cutShort)}`;
}

function driverOf(peer: Peer, id: SessionDriver["id"]): SessionDriver | undefined {
  return peer.sessions?.find((d) => d.id === id);
}

/** One way of reaching a system for W1-W4: a column of the report, and what drives it. */
interface Lane {
  key: string; // results key: "edgekeeper HTTP", "edgekeeper client", "ZooKeeper", "etcd"
  target: Target;
  /** W4's two sessions, where the lane has sessions. */
  w4?: { writer: SessionTarget; watcher: SessionTarget };
}

const BRIDGE_LABEL = "bridge (zk client)";

function rowsFor(options: Options): Row[] {
  const rows: Row[] = [];
  const variants: Variant[] = [
    ...(options.http ? ["HTTP" as const] : []),
    ...(options.sessions ? ["client" as const] : []),
    ...(options.bridge ? ["bridge" as const] : []),
  ];
  const how: Record<string, string> = { HTTP: "HTTP", client: "client (WS)", bridge: BRIDGE_LABEL };
  const titles: Record<string, string> = { W1: "W1 create+delete", W2: `W2 setData x${options.inFlight}`, W3: `W3 getData x${options.inFlight}` };
  for (const w of ["W1", "W2", "W3"]) {
    for (const variant of variants) rows.push({ workload: w, variant, label: `${titles[w]}, ${how[variant]}` });
  }
  const sessionVariants = variants.filter((v) => v !== "HTTP");
  for (const variant of sessionVariants) rows.push({ workload: "W4", variant, label: `W4 watch latency, ${how[variant]}` });
  for (const variant of sessionVariants) rows.push({ workload: "W5", variant, label: `W5 lock handoff 8x50, ${how[variant]}` });
  const n = options.w6.sessions.toLocaleString("en-US");
  if (options.sessions) {
    rows.push({ workload: "W6", variant: "shared", label: `W6 ${n} watchers, ${options.w6.perSocket}/socket` });
    rows.push({ workload: "W6", variant: "client", label: `W6 ${n} watchers, socket each` });
  }
  if (options.bridge) rows.push({ workload: "W6", variant: "bridge", label: `W6 ${n} watchers, ${BRIDGE_LABEL}` });
  return rows;
}

/** W1-W4 on the long-running servers, rounds alternating who goes first. */
async function runOnLanes(lanes: Lane[], options: Options, results: Results): Promise<void> {
  const w13 = WORKLOADS.filter((w) => options.workloads.has(w.id));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? lanes : [...lanes].reverse();
    const tag = options.rounds > 1 ? ` round ${round + 1}` : "";
    for (const workload of w13) {
      const ops = options.ops[workload.id]!;
      const runOptions: WorkloadOptions = { ops, warmup: Math.max(1, Math.round(ops / 10)), inFlight: options.inFlight, timeLimitMs: WORKLOAD_LIMIT_MS };
      for (const lane of order) {
        const result = await workload.run(lane.target, PREFIX, runOptions);
        record(results, workload.id, lane.key, result);
        console.log(`  ${workload.id} ${workload.title}${tag}, ${lane.key}: ${describe(result)}`);
      }
    }
    if (!options.workloads.has("W4")) continue;
    const ops = options.ops.W4!;
    for (const lane of order) {
      if (!lane.w4) continue;
      const result = await runW4(lane.w4.writer, lane.w4.watcher, `${PREFIX}/w4`, {
        ops,
        warmup: Math.max(1, Math.round(ops / 10)),
        timeLimitMs: WORKLOAD_LIMIT_MS,
        eventLimitMs: EVENT_LIMIT_MS,
      });
      record(results, "W4", lane.key, result);
      console.log(`  W4 watch latency${tag}, ${lane.key}: ${describe(result)}`);
    }
  }
}

/** Opens one session of a driver (for the client lanes). */
async function openOne(driver: SessionDriver): Promise<SessionTarget> {
  const [session] = await driver.open(1, { perSocket: 1, timeLimitMs: OPEN_LIMIT_MS });
  return session!;
}

/**
 * W6: each run on a server started afresh (memory freed by earlier work would hide
 * the growth), stopped after. Rounds alternate the order of the systems.
 */
async function runW6Rounds(options: Options, results: Results, notes: string[]): Promise<void> {
  const limit = openFileLimit();
  const needed = options.w6.sessions + 512;
  if (limit !== undefined && limit < needed) {
    const why = `W6 not run: this process may open ${limit} files, ${needed} needed (run \`ulimit -n ${needed * 2}\` first)`;
    notes.push(why);
    console.error(`bench: ${why}`);
    return;
  }
  type Run = { key: string; start: () => Promise<Peer>; driver: SessionDriver["id"] };
  const runs: Run[] = [];
  if (options.sessions) {
    runs.push({ key: edgekeeperKey("shared"), start: () => startEdgekeeper(STARTUP_LIMIT_MS), driver: "shared" });
    runs.push({ key: edgekeeperKey("client"), start: () => startEdgekeeper(STARTUP_LIMIT_MS), driver: "client" });
  }
  if (options.bridge) runs.push({ key: edgekeeperKey("bridge"), start: () => startEdgekeeper(STARTUP_LIMIT_MS), driver: "bridge" });
  if (options.zookeeper) runs.push({ key: "ZooKeeper", start: () => startZookeeper(STARTUP_LIMIT_MS), driver: "zk" });
  const w6 = { ...options.w6, timeLimitMs: OPEN_LIMIT_MS, settleMs: SETTLE_MS, eventLimitMs: EVENT_LIMIT_MS };
  for (let round = 0; round < options.w6.rounds; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    const tag = options.w6.rounds > 1 ? ` round ${round + 1}` : "";
    for (const run of order) {
      const peer = await run.start();
      try {
        const driver = driverOf(peer, run.driver);
        if (!driver || !peer.rss) throw new Error(`${peer.name} has no ${run.driver} sessions or no memory reading`);
        console.log(`  W6${tag}, ${run.key} (${driver.label(w6)}), fresh server:`);
        await peer.target.create(PREFIX, new Uint8Array(0));
        await peer.target.create(`${PREFIX}/w6`, value(100, 0));
        const result = await runW6(driver, peer.rss, `${PREFIX}/w6`, w6, (line) => console.log(line));
        record(results, "W6", run.key, result);
        const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
        console.log(`    RSS ${mib(result.rssBefore.total)} -> ${mib(result.rssAfter.total)} (${rssGrowth(result.rssBefore, result.rssAfter)})`);
        console.log(`    ${describe(result)}`);
      } finally {
        await peer.target.close();
        await peer.stop();
      }
    }
  }
}

async function main(options: Options): Promise<void> {
  const notes: string[] = [];
  console.log(machineLine());
  if (options.snapshot) {
    const { lines, notes: snapshotNotes } = await runSnapshotBench({ ...options.snapshot, zookeeper: options.zookeeper, startupLimitMs: STARTUP_LIMIT_MS });
    await cleanup();
    console.log(["", ...lines, "", ...snapshotNotes.map((n) => `note: ${n}`)].join("\n"));
    return;
  }
  if (options.regions) {
    const lines = await runRegionBench({ ...options.regions, startupLimitMs: STARTUP_LIMIT_MS, timeLimitMs: WORKLOAD_LIMIT_MS });
    await cleanup();
    console.log(["", ...lines].join("\n"));
    return;
  }
  if (options.traceHops) {
    const lines = await runHopBench({ ops: { W1: options.ops.W1!, W3: options.ops.W3! }, inFlight: options.inFlight, startupLimitMs: STARTUP_LIMIT_MS, timeLimitMs: WORKLOAD_LIMIT_MS });
    await cleanup();
    console.log(["", ...lines].join("\n"));
    return;
  }
  /** Rows with sessions: the TypeScript client's, or the bridge's. */
  const withSessions = options.sessions || options.bridge;
  const w13 = ["W1", "W2", "W3"].filter((w) => options.workloads.has(w));
  console.log(
    `rounds ${options.rounds}; ops per round ${[...w13, ...(withSessions && options.workloads.has("W4") ? ["W4"] : [])].map((w) => `${w} ${options.ops[w]}`).join(", ")}` +
      ` (+ a tenth as warm-up); ${options.inFlight} in flight${options.quick ? "; --quick" : ""}`,
  );
  const w6 = withSessions && options.workloads.has("W6");
  if (w6) {
    console.log(`W6: ${options.w6.sessions} sessions, ${options.w6.rounds} run(s) per system on fresh servers, ${options.w6.changes} changes each; shared sockets carry ${options.w6.perSocket} sessions` +
        (options.w6.warmUpSessions > 0 ? `; ${options.w6.warmUpSessions} warm-up sessions before the first reading` : ""));
  }

  const lanesWanted = w13.length > 0 || (withSessions && options.workloads.has("W4"));
  const results: Results = new Map();
  if (lanesWanted) {
    console.log("starting servers on 127.0.0.1 ...");
    // Started together: their start-up overlaps, their measurement does not.
    const started = await Promise.all([
      tryStart("edgekeeper", () => startEdgekeeper(STARTUP_LIMIT_MS), notes),
      options.zookeeper ? tryStart("ZooKeeper", () => startZookeeper(STARTUP_LIMIT_MS), notes) : undefined,
      options.etcd ? tryStart("etcd", () => startEtcd(STARTUP_LIMIT_MS), notes) : undefined,
    ]);
    const [edgekeeper, zk, etcd] = started;
    if (!edgekeeper) throw new Error("edgekeeper did not start; nothing to measure");
    for (const peer of started) if (peer) console.log(`  ${peer.description}`);

    const opened: SessionTarget[] = [];
    try {
      for (const peer of started) {
        if (!peer) continue;
        await peer.target.create(PREFIX, new Uint8Array(0));
        for (const workload of WORKLOADS) await workload.prepare(peer.target, PREFIX);
        await peer.target.create(`${PREFIX}/w4`, value(100, 4));
      }
      const lanes: Lane[] = [];
      if (options.http && w13.length > 0) lanes.push({ key: edgekeeperKey("HTTP"), target: edgekeeper.target });
      if (options.sessions) {
        const driver = driverOf(edgekeeper, "client")!;
        const [session, writer, watcher] = [await openOne(driver), await openOne(driver), await openOne(driver)];
        opened.push(session, writer, watcher);
        lanes.push({ key: edgekeeperKey("client"), target: session, w4: { writer, watcher } });
        console.log(`  edgekeeper client: ${driver.label({ perSocket: 1, timeLimitMs: 0 })}`);
      }
      if (options.bridge) {
        // node-zookeeper-client through the bridge: the code that drives ZooKeeper below.
        const driver = driverOf(edgekeeper, "bridge")!;
        const [session, writer, watcher] = [await openOne(driver), await openOne(driver), await openOne(driver)];
        opened.push(session, writer, watcher);
        lanes.push({ key: edgekeeperKey("bridge"), target: session, w4: { writer, watcher } });
        console.log(`  edgekeeper bridge: ${driver.label({ perSocket: 1, timeLimitMs: 0 })}`);
      }
      if (zk) {
        let w4: Lane["w4"];
        if (withSessions && options.workloads.has("W4")) {
          const driver = driverOf(zk, "zk")!;
          w4 = { writer: await openOne(driver), watcher: await openOne(driver) };
          opened.push(w4.writer, w4.watcher);
        }
        lanes.push({ key: zk.name, target: zk.target, w4 });
      }
      if (etcd && options.http) lanes.push({ key: etcd.name, target: etcd.target });
      await runOnLanes(lanes, options, results);
    } finally {
      await closeAll(opened);
      for (const peer of started) if (peer) await peer.target.close();
      for (const peer of started) if (peer) await peer.stop();
    }
  }
  if (!options.zookeeper) notes.push("ZooKeeper not measured: --no-zookeeper");
  if (withSessions && options.workloads.has("W5")) {
    const w5 = await runW5({
      contenders: 8,
      acquisitions: 50,
      startupLimitMs: STARTUP_LIMIT_MS,
      zookeeper: options.zookeeper,
      client: options.sessions,
      bridge: options.bridge,
    });
    for (const [system, result] of w5.results) record(results, "W5", system, result);
    notes.push(...w5.notes);
  }
  if (w6) await runW6Rounds(options, results, notes);
  await cleanup();

  const peers = [
    ...(options.zookeeper && [...results.values()].some((m) => m.has("ZooKeeper")) ? [{ name: "ZooKeeper", sessions: true }] : []),
    ...(options.etcd && [...results.values()].some((m) => m.has("etcd")) ? [{ name: "etcd", sessions: false }] : []),
  ];
  console.log("");
  console.log(renderReport(results, rowsFor(options), peers));
  console.log("");
  if (options.rounds > 1) console.log(`W1-W4 figures are medians of ${options.rounds} rounds.`);
  if (w6) {
    console.log(
      `W6: medians of ${options.w6.rounds} run(s) on fresh servers; KiB/session = (RSS of all the server's processes with the sessions` +
        ` open and watching - before) / ${options.w6.sessions}; fan-out ms = setData sent to the last watcher's event (median of ${options.w6.changes} changes).`,
    );
    const targets = targetLines(results, options.w6.sessions);
    if (targets.length > 0) {
      console.log("");
      console.log("targets (memory per idle session, fan-out to 1,000 watchers):");
      for (const line of targets) console.log(`  ${line}`);
    }
  }
  console.log("");
  console.log(
    "ratio = edgekeeper / peer: above 1 is edgekeeper ahead on ops/s, behind on ms and KiB.\n" +
      (options.bridge ? `"${BRIDGE_LABEL}" rows: node-zookeeper-client through edgekeeper's wire bridge, the same code as ZooKeeper's column.\n` : "") +
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
