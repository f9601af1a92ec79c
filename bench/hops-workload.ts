/**
 * `npm run bench -- --trace-hops`: where one request's time goes. A server of its
 * own is started with --trace-hops (tracing costs a little, so the other figures
 * never come from a traced server); W1 and W3 run through the TypeScript client,
 * whose onHops collects each answer's stamps; the table gives each hop's p50/p99
 * (bench/hops.ts says what each hop includes).
 */
import type { HopRecord } from "../protocol/hops.ts";
import { type HopFigure, hopBreakdown } from "./hops.ts";
import { clientDriver } from "./peers/edgekeeper-client.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import { formatNumber, renderTable } from "./stats.ts";
import { WORKLOADS, type WorkloadOptions } from "./workloads.ts";

export interface HopBenchOptions {
  ops: Record<"W1" | "W3", number>;
  inFlight: number;
  startupLimitMs: number;
  timeLimitMs: number;
}

const PREFIX = "/hops";

/** Runs W1 and W3 on a traced server; the breakdown table's lines. */
export async function runHopBench(options: HopBenchOptions): Promise<string[]> {
  const server = await startEdgekeeper(options.startupLimitMs, { traceHops: true });
  let records: HopRecord[] = [];
  const [session] = await clientDriver(server.httpBase!, (record) => records.push(record)).open(1, { perSocket: 1, timeLimitMs: options.startupLimitMs });
  const rows: string[][] = [];
  try {
    await session!.create(PREFIX, new Uint8Array(0));
    for (const workload of WORKLOADS.filter((w) => w.id === "W1" || w.id === "W3")) {
      const ops = options.ops[workload.id as "W1" | "W3"];
      const run: WorkloadOptions = { ops, warmup: 0, inFlight: options.inFlight, timeLimitMs: options.timeLimitMs };
      await workload.prepare(session!, PREFIX);
      await workload.run(session!, PREFIX, { ...run, ops: Math.max(1, Math.round(ops / 10)) }); // warm-up, not counted
      records = [];
      await workload.run(session!, PREFIX, run);
      const label = workload.id === "W1" ? "W1 create+delete (per request)" : `W3 getData x${options.inFlight}`;
      rows.push([label, String(records.length), ...hopBreakdown(records).flatMap((f: HopFigure) => [formatNumber(f.p50), formatNumber(f.p99)])]);
    }
  } finally {
    await session!.close();
    await server.stop();
  }
  const header = ["hops (TypeScript client, ms)", "requests", "wire p50", "p99", "host p50", "p99", "shard p50", "p99", "total p50", "p99"];
  return [
    renderTable(header, rows),
    "",
    "wire: client to session host and back (serialising, WebSocket, workerd's dispatch); host: frame arrival to the",
    "request's turn in its session's pipeline; shard: the host's RPC to the shard and back, the shard's work, SQLite",
    "and commit included (workerd's clock does not move inside them); total: as the client saw it. The host's stamps",
    "are whole milliseconds, so sub-millisecond hops read 0 or 1.",
  ];
}
