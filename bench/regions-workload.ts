/**
 * `npm run bench -- --regions`: what the simulated regions cost a caller. Two servers:
 * one started with --regions over the five simulated regions (leaders in the first),
 * one without. From each region, a TypeScript client session living there writes
 * (setData, one at a time) and reads (getData) one node; the same runs on the plain
 * server beside it. A write costs about the round trip to the leader's region plus
 * the 6 ms inside the caller's; a session's read is served by the replica in its
 * region (its host's home), once it has applied the session's writes. Then the read
 * replicas' figures (regions-replicas.ts): HTTP reads in the caller's region,
 * replication lag, pulls and rows written per write; a session's writes with a
 * watch held at its region's replica, and watch events in each region
 * (regions-watches.ts); the leader's W2 with replicas pulling and watchers at them;
 * the write pause of planned moves of a leader (regions-moves.ts); and a multi across
 * shards, a check on one and a write on another (regions-multi.ts); a shard's writes
 * regional and geo-tier, and outages of its leader's region (regions-geo.ts). Figures come
 * from the simulation (protocol/regions.ts), not from production.
 */
import { type KeeperClient, connect } from "../client/index.ts";
import { REGIONS, type Region, roundTripMs } from "../protocol/regions.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import type { Peer } from "./peers/peer.ts";
import { PLAIN_ROW, replicationCostRows, replicationLagRows, sequentialReadRows, w2WithReplicasRows } from "./regions-replicas.ts";
import { createWatchNodes, watchLatencyRows, writesWithWatchRows } from "./regions-watches.ts";
import { leaderMoveRows } from "./regions-moves.ts";
import { crossShardMultiRows } from "./regions-multi.ts";
import { geoTierRows } from "./regions-geo.ts";
import { formatNumber, renderTable } from "./stats.ts";
import { cutShortNote, sequentialLatencies } from "./workloads.ts";

export interface RegionBenchOptions {
  /** Sequential writes, and reads, per region. */
  ops: number;
  /** Writes at 200/s for the replication lag (half as many at 100/s for the replicas' pulls and rows written). */
  lagWrites: number;
  /** The leader's W2: ops per run, and rounds. */
  w2Ops: number;
  w2Rounds: number;
  /** Sessions holding watches at the replicas during the leader's W2. */
  watchers: number;
  /** Planned moves of the root shard's leader, for their write pause. */
  moves: number;
  /** Outages of a geo-tier shard's leader's region, for the time to its first write after. */
  outages: number;
  timeLimitMs: number;
  startupLimitMs: number;
}

const PATH = "/bench-regions";
/** The moves' run may take this long (a move takes a few round trips between regions). */
const MOVES_LIMIT_MS = 300_000;
const HEADER = ["from region", "RTT to leader", "write p50", "p99", "p50 - RTT", "read p50", "p99", "p50 - RTT <= 15"];

type Latencies = Awaited<ReturnType<typeof sequentialLatencies>>;

/** Write and read latency from `region` (on the plain server: from anywhere), each after a tenth as many unmeasured. */
async function measure(server: Peer, region: Region | undefined, ops: number, timeLimitMs: number): Promise<{ write: Latencies; read: Latencies }> {
  const zk: KeeperClient = await connect({ servers: [server.httpBase!], sessionTimeoutMs: 10_000, ...(region ? { region } : {}) });
  try {
    const value = new Uint8Array(100);
    const options = { warmup: Math.max(1, Math.round(ops / 10)), ops, timeLimitMs };
    const write = await sequentialLatencies(options, () => zk.setData(PATH, value));
    const read = await sequentialLatencies(options, () => zk.getData(PATH));
    return { write, read };
  } finally {
    await zk.close();
  }
}

/** The tables' lines: one row per region, the plain server's figures beside the simulated ones. */
export async function runRegionBench(options: RegionBenchOptions): Promise<string[]> {
  const [simulated, plain] = await Promise.all([startEdgekeeper(options.startupLimitMs, { regions: REGIONS.join(",") }), startEdgekeeper(options.startupLimitMs)]);
  const rows: string[][] = [];
  const replicaLines: string[] = [];
  try {
    for (const server of [simulated, plain]) {
      const zk = await connect({ servers: [server.httpBase!], sessionTimeoutMs: 10_000 });
      await zk.create(PATH, new Uint8Array(100));
      await zk.close();
      await createWatchNodes(server.httpBase!);
    }
    for (const region of REGIONS) {
      const { write, read } = await measure(simulated, region, options.ops, options.timeLimitMs);
      const rtt = roundTripMs(region, REGIONS[0]);
      rows.push([region, String(rtt), ...[write.p50, write.p99, write.p50 - rtt, read.p50, read.p99].map(formatNumber), `${write.p50 - rtt <= 15 ? "MET" : "NOT MET"}${cutShortNote(write.cutShort || read.cutShort)}`]);
    }
    const { write, read } = await measure(plain, undefined, options.ops, options.timeLimitMs);
    rows.push([PLAIN_ROW, "", ...[write.p50, write.p99].map(formatNumber), "", ...[read.p50, read.p99].map(formatNumber), cutShortNote(write.cutShort || read.cutShort).trim()]);
    replicaLines.push(
      "",
      ...(await sequentialReadRows(simulated.httpBase!, plain.httpBase!, PATH, options.ops, options.timeLimitMs)),
      "",
      ...(await replicationLagRows(simulated.httpBase!, PATH, 200, options.lagWrites)),
      "",
      // At 100 writes/s for as long as the lag's run.
      ...(await replicationCostRows(simulated.httpBase!, PATH, 100, Math.round(options.lagWrites / 2))),
      "",
      ...(await writesWithWatchRows(simulated.httpBase!, plain.httpBase!, options.ops, options.timeLimitMs)),
      "",
      ...(await watchLatencyRows(simulated.httpBase!, plain.httpBase!, options.ops, options.timeLimitMs)),
      "",
      ...(await w2WithReplicasRows(simulated.httpBase!, { ops: options.w2Ops, inFlight: 64, timeLimitMs: options.timeLimitMs }, options.w2Rounds, options.watchers, simulated.workerdCpuMs!)),
      "",
      ...(await leaderMoveRows(simulated.httpBase!, options.moves, MOVES_LIMIT_MS)),
      "",
      ...(await crossShardMultiRows(simulated.httpBase!, options.ops, options.timeLimitMs)),
      "",
      ...(await geoTierRows(simulated.httpBase!, options.ops, options.outages, options.timeLimitMs)),
    );
  } finally {
    await Promise.all([simulated.stop(), plain.stop()]);
  }
  return [
    renderTable(HEADER, rows),
    "",
    `ms per call through the TypeScript client, ${options.ops} sequential setData (100 bytes) then getData of one node per region;`,
    `leaders in ${REGIONS[0]}; "p50 - RTT": what a write costs beyond the round trip to the leader's region (target: at most 15);`,
    `"${PLAIN_ROW}": the same calls, once, on a server started without --regions. A session's reads are served by the replica`,
    "in its region once it has applied the session's writes (HTTP reads below). Figures from the simulated matrix (docs/api.md), not from production.",
    ...replicaLines,
  ];
}
