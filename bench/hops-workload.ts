/**
 * `npm run bench -- --trace-hops`: where one request's time goes. A server of its
 * own is started with --trace-hops (tracing costs a little, so the other figures
 * never come from a traced server); W1 and W3 run through the TypeScript client,
 * whose onHops collects each answer's stamps, and through the bridge with
 * node-zookeeper-client, whose records the bridge keeps and the bench takes with
 * the four-letter word `hops`. The table gives each hop's p50/p99 (bench/hops.ts
 * says what each hop includes).
 */
import type { HopRecord } from "../protocol/hops.ts";
import { fourLetterWord } from "../test/harness/zookeeper/launch.ts";
import { hopBreakdown } from "./hops.ts";
import { clientDriver } from "./peers/edgekeeper-client.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import { openZookeeperSession } from "./peers/zookeeper-sessions.ts";
import type { SessionTarget } from "./session-workloads.ts";
import { formatNumber, renderTable } from "./stats.ts";
import { WORKLOADS, type WorkloadOptions } from "./workloads.ts";

export interface HopBenchOptions {
  ops: Record<"W1" | "W3", number>;
  inFlight: number;
  startupLimitMs: number;
  timeLimitMs: number;
}

/** A way in whose requests are traced: the records since the last take. */
interface TracedPath {
  name: string;
  session: SessionTarget;
  take(): Promise<HopRecord[]>;
}

const PREFIX = "/hops";
const TAKE_LIMIT_MS = 10_000;

const HEADER = ["hops, ms", "requests", "bridge p50", "p99", "wire p50", "p99", "host p50", "p99", "shard p50", "p99", "total p50", "p99"];

/** Runs W1 and W3 through the client and through the bridge on a traced server; the breakdown table's lines. */
export async function runHopBench(options: HopBenchOptions): Promise<string[]> {
  const server = await startEdgekeeper(options.startupLimitMs, { traceHops: true });
  const paths: TracedPath[] = [];
  const rows: string[][] = [];
  try {
    let clientRecords: HopRecord[] = [];
    const [client] = await clientDriver(server.httpBase!, (record) => clientRecords.push(record)).open(1, { perSocket: 1, timeLimitMs: options.startupLimitMs });
    paths.push({
      name: "client (WS)",
      session: client!,
      take: async () => {
        const taken = clientRecords;
        clientRecords = [];
        return taken;
      },
    });
    const bridgePort = Number(server.zookeeperAddress!.split(":")[1]);
    paths.push({
      name: "bridge (zk client)",
      session: await openZookeeperSession(server.zookeeperAddress!, "edgekeeper bridge"),
      take: async () => {
        const lines = await fourLetterWord(bridgePort, "hops", TAKE_LIMIT_MS);
        return lines.split("\n").filter(Boolean).map((line) => JSON.parse(line) as HopRecord);
      },
    });
    await paths[0]!.session.create(PREFIX, new Uint8Array(0));
    for (const workload of WORKLOADS.filter((w) => w.id === "W1" || w.id === "W3")) {
      const ops = options.ops[workload.id as "W1" | "W3"];
      const run: WorkloadOptions = { ops, warmup: 0, inFlight: options.inFlight, timeLimitMs: options.timeLimitMs };
      await workload.prepare(paths[0]!.session, PREFIX);
      for (const path of paths) {
        await workload.run(path.session, PREFIX, { ...run, ops: Math.max(1, Math.round(ops / 10)) }); // warm-up
        await path.take(); // not counted
        await workload.run(path.session, PREFIX, run);
        const records = await path.take();
        const label = workload.id === "W1" ? `W1 create+delete, ${path.name}` : `W3 getData x${options.inFlight}, ${path.name}`;
        rows.push([label, String(records.length), ...hopBreakdown(records).flatMap((f) => [formatNumber(f.p50), formatNumber(f.p99)])]);
      }
    }
  } finally {
    for (const path of paths) await path.session.close().catch(() => undefined);
    await server.stop();
  }
  return [
    renderTable(HEADER, rows),
    "",
    "Per request (W1's create and delete each count). bridge: the bridge's own time both ways (decode, plan, the wait for",
    "its link's flush, encode; 0 for the client); wire: from the client (or the bridge's link) to the session host and",
    "back: serialising, WebSocket, workerd's dispatch; host: the frame's arrival to the request's turn in its session's",
    "pipeline; shard: the host's RPC to the shard and back, the shard's work, SQLite and commit included (workerd's",
    "clock does not move inside them); total: as the client saw it, or, for the bridge, from reading the ZooKeeper",
    "packet to writing its reply (node-zookeeper-client and its TCP hop are outside). The host's stamps are whole",
    "milliseconds, so sub-millisecond hops read 0 or 1.",
  ];
}
