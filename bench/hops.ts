/**
 * The hop breakdown of `npm run bench -- --trace-hops`: from per-request records
 * (protocol/hops.ts: the relaying side's send and receive, the session host's
 * stamps), each hop's p50 and p99.
 *
 * - bridge: through the bridge only, its own time both ways: decoding the ZooKeeper
 *   packet, planning, waiting for the link's flush, and encoding the reply;
 * - wire: from the client (or the bridge's link) to the host and back: serialising, the
 *   WebSocket both ways, workerd handing the frame to the object;
 * - host: from the frame's arrival to the request's turn in its session's pipeline;
 * - shard: the host's RPC to the shard and back: the shard's work, its SQLite
 *   statements and their commit (one figure: the clock does not move inside them);
 * - total: from send to answer, as the client (or the bridge) saw it.
 *
 * The host's stamps are whole milliseconds (workerd's clock), so sub-millisecond
 * hops read as 0 or 1.
 */
import type { HopRecord } from "../protocol/hops.ts";
import { percentile } from "./stats.ts";

export interface HopFigure {
  hop: "bridge" | "wire" | "host" | "shard" | "total";
  p50: number;
  p99: number;
}

const HOPS: Record<HopFigure["hop"], (r: HopRecord) => number> = {
  bridge: (r) => (r.bridge ? r.bridge.in - r.sent + (r.received - r.bridge.out) : 0),
  wire: (r) => r.host.in - (r.bridge?.in ?? r.sent) + ((r.bridge?.out ?? r.received) - r.host.out),
  host: (r) => r.host.run - r.host.in,
  shard: (r) => r.host.out - r.host.run,
  total: (r) => r.received - r.sent,
};

/**
 * @example
 * hopBreakdown([{ sent: 0, received: 5, host: { in: 1, run: 2, out: 4 } }]);
 * // [{ hop: "bridge", p50: 0, ... }, { hop: "wire", p50: 2, p99: 2 }, { hop: "host", p50: 1, ... }, { hop: "shard", p50: 2, ... }, { hop: "total", p50: 5, ... }]
 */
export function hopBreakdown(records: readonly HopRecord[]): HopFigure[] {
  return (Object.keys(HOPS) as HopFigure["hop"][]).map((hop) => {
    const samples = records.map(HOPS[hop]);
    return { hop, p50: percentile(samples, 50), p99: percentile(samples, 99) };
  });
}
