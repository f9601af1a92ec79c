/**
 * The report: one row per (workload, way edgekeeper was reached, metric), medians of
 * the rounds, each peer's figure beside it with the ratio edgekeeper/peer; then the
 * issue's targets for the session workloads and whether this run meets them.
 */
import type { WorkloadResult } from "./workloads.ts";
import { formatNumber, formatRatio, median, renderTable } from "./stats.ts";

/**
 * How edgekeeper was reached in a row: its HTTP API, its TypeScript client, sessions
 * sharing WebSockets, or node-zookeeper-client through its ZooKeeper wire bridge.
 */
export type Variant = "HTTP" | "client" | "shared" | "bridge";

/** Rounds of results: workload id -> system ("edgekeeper HTTP", "ZooKeeper", ...) -> one result per round. */
export type Results = Map<string, Map<string, WorkloadResult[]>>;

/** The key edgekeeper's results are kept under, per variant. */
export function edgekeeperKey(variant: Variant): string {
  return `edgekeeper ${variant}`;
}

export function record(results: Results, workload: string, system: string, result: WorkloadResult): void {
  let bySystem = results.get(workload);
  if (!bySystem) results.set(workload, (bySystem = new Map()));
  let rounds = bySystem.get(system);
  if (!rounds) bySystem.set(system, (rounds = []));
  rounds.push(result);
}

/** The median over rounds of one metric; NaN when not measured. */
export function metricOf(results: Results, workload: string, system: string, metric: string): number {
  const rounds = results.get(workload)?.get(system) ?? [];
  return median(rounds.map((r) => r.metrics.find((m) => m.name === metric)?.value ?? Number.NaN));
}

export interface Row {
  workload: string;
  variant: Variant;
  label: string;
}

/**
 * The table. A peer's figure sits on a row if it applies there: ZooKeeper's (one
 * node-zookeeper-client session per client) on every row; a sessionless peer's
 * (etcd over HTTP) on HTTP rows only.
 */
export function renderReport(results: Results, rows: readonly Row[], peers: readonly { name: string; sessions: boolean }[]): string {
  const header = ["workload", "metric", "edgekeeper"];
  for (const peer of peers) header.push(peer.name, `ratio ek/${peer.name === "ZooKeeper" ? "zk" : peer.name}`);
  const lines: string[][] = [];
  for (const row of rows) {
    const ours = results.get(row.workload)?.get(edgekeeperKey(row.variant));
    if (!ours || ours.length === 0) continue;
    for (const metric of ours[0]!.metrics) {
      const value = metricOf(results, row.workload, edgekeeperKey(row.variant), metric.name);
      const line = [row.label, metric.name, formatNumber(value)];
      for (const peer of peers) {
        const applies = peer.sessions || row.variant === "HTTP";
        const theirs = applies ? metricOf(results, row.workload, peer.name, metric.name) : Number.NaN;
        line.push(formatNumber(theirs), formatRatio(value / theirs));
      }
      lines.push(line);
    }
  }
  return renderTable(header, lines);
}

/** The targets for W6, each with this run's figures and a verdict. */
export function targetLines(results: Results, sessions: number): string[] {
  if (!results.get("W6")?.has(edgekeeperKey("shared")) && !results.get("W6")?.has(edgekeeperKey("client"))) return [];
  const zk = (metric: string) => metricOf(results, "W6", "ZooKeeper", metric);
  const ek = (variant: Variant, metric: string) => metricOf(results, "W6", edgekeeperKey(variant), metric);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "MET" : "NOT MET");
  const judge = (a: number, b: number, ok: (a: number, b: number) => boolean) =>
    Number.isFinite(a) && Number.isFinite(b) ? ok(a, b) : undefined;
  const kib = (v: number) => `${formatNumber(v)} KiB`;
  const ms = (v: number) => `${formatNumber(v)} ms`;
  const memShared = ek("shared", "KiB/session");
  const memZk = zk("KiB/session");
  const lines = [
    `memory per idle session on shared sockets <= 1/10 of ZooKeeper's: ${kib(memShared)} vs ${kib(memZk)} ` +
      `(${formatRatio(memShared / memZk)}): ${verdict(judge(memShared, memZk, (a, b) => a <= b / 10))}`,
  ];
  for (const variant of ["shared", "client"] as const) {
    const ours = ek(variant, "fan-out ms");
    const theirs = zk("fan-out ms");
    const how = variant === "shared" ? "shared sockets" : "a socket per session";
    lines.push(
      `fan-out of one change to ${sessions.toLocaleString("en-US")} watchers (${how}) faster than ZooKeeper's: ` +
        `${ms(ours)} vs ${ms(theirs)} (${formatRatio(ours / theirs)}): ${verdict(judge(ours, theirs, (a, b) => a < b))}`,
    );
  }
  const memClient = ek("client", "KiB/session");
  if (Number.isFinite(memClient)) {
    lines.push(`(not a target) memory per idle session, a socket per session: ${kib(memClient)} vs ${kib(memZk)} (${formatRatio(memClient / memZk)})`);
  }
  return lines;
}
