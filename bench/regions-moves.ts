/**
 * `npm run bench -- --regions`, the part about planned moves of a leader
 * (`POST /v1/admin/shards/{shard}/leader`): on the server simulating the five
 * regions, a session in the second region writes one node over and over, one write
 * at a time, while the root shard's leader is moved back and forth between the
 * first region and the third. A move's write pause is the longest time between two
 * consecutive acknowledged writes that overlaps the move (from its request to its
 * answer): the seal, the new leader's take-over, and the writer's retry to it, plus
 * one write's round trip (the writer's normal gap, counted in, so the figure never
 * flatters). Figures come from the simulation (protocol/regions.ts), not from production.
 */
import { connect } from "../client/index.ts";
import { REGIONS, roundTripMs } from "../protocol/regions.ts";
import { formatNumber, percentile, renderTable } from "./stats.ts";

const PATH = "/bench-moves";
/** Targets: a move's write pause at p50 and p99. */
const PAUSE_P50_TARGET_MS = 1_000;
const PAUSE_P99_TARGET_MS = 2_000;

async function moveLeader(base: string, region: string): Promise<void> {
  const response = await fetch(`${base}/v1/admin/shards/root/leader`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ region }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`edgekeeper: move of the root shard's leader to ${region}: HTTP ${response.status} ${text}`);
}

/**
 * `moves` moves of the root shard's leader, alternating between the first and the
 * third region, under a steady writer in the second: each one's write pause and its
 * own time, as table lines.
 */
export async function leaderMoveRows(base: string, moves: number, timeLimitMs: number): Promise<string[]> {
  const [home, writerRegion, away] = [REGIONS[0], REGIONS[1], REGIONS[2]];
  const zk = await connect({ servers: [base], sessionTimeoutMs: 20_000, region: writerRegion });
  const acknowledged: number[] = [];
  let writing = true;
  let failure: unknown;
  try {
    await zk.create(PATH, new Uint8Array(100)).catch(() => undefined);
    const writer = (async () => {
      const value = new Uint8Array(100);
      while (writing) {
        await zk.setData(PATH, value);
        acknowledged.push(performance.now());
      }
    })().catch((err: unknown) => {
      failure = err;
    });
    const pauses: number[] = [];
    const durations: number[] = [];
    const deadline = Date.now() + timeLimitMs;
    for (let i = 0; i < moves && Date.now() < deadline && failure === undefined; i++) {
      const started = performance.now();
      await moveLeader(base, i % 2 === 0 ? away : home);
      const ended = performance.now();
      // A write after the move, so that the gap the move opened is closed.
      const seen = acknowledged.length;
      while (acknowledged.length === seen && failure === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      durations.push(ended - started);
      pauses.push(longestGapOverlapping(acknowledged, started, ended));
    }
    writing = false;
    await writer;
    if (failure !== undefined) throw failure;
    // The leader ends where it began.
    if (pauses.length % 2 === 1) await moveLeader(base, home);
    const [p50, p99] = [percentile(pauses, 50), percentile(pauses, 99)];
    const met = p50 < PAUSE_P50_TARGET_MS && p99 < PAUSE_P99_TARGET_MS ? "MET" : "NOT MET";
    const cut = pauses.length < moves ? ` (cut short by the time limit after ${pauses.length})` : "";
    return [
      renderTable(
        ["moves", "write pause p50", "p99", "max", "move p50", "p99", `pause < ${PAUSE_P50_TARGET_MS} (p50), < ${PAUSE_P99_TARGET_MS} (p99)`],
        [[String(pauses.length), ...[p50, p99, Math.max(...pauses), percentile(durations, 50), percentile(durations, 99)].map(formatNumber), `${met}${cut}`]],
      ),
      "",
      `ms; planned moves of the root shard's leader between ${home} and ${away} (RTT ${roundTripMs(home, away)} ms), one after another, while a session`,
      `in ${writerRegion} sets one node (100 bytes) one write at a time (RTT to ${home} ${roundTripMs(writerRegion, home)} ms, to ${away} ${roundTripMs(writerRegion, away)} ms).`,
      "A move's write pause: the longest time between two consecutive acknowledged writes overlapping the move (one write's round trip",
      `included); "move": the POST's own time, catch-up, seal, take-over and the old leader told to follow. ${acknowledged.length} writes acknowledged, none failed.`,
    ];
  } finally {
    writing = false;
    await zk.close();
  }
}

/** The longest gap between consecutive times in `acks` (ascending) that overlaps [from, to]. */
function longestGapOverlapping(acks: readonly number[], from: number, to: number): number {
  let longest = 0;
  for (let i = 1; i < acks.length; i++) {
    const [a, b] = [acks[i - 1]!, acks[i]!];
    if (b >= from && a <= to) longest = Math.max(longest, b - a);
  }
  return longest;
}
