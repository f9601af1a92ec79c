/**
 * `npm run bench -- --regions`, the part about watches at read replicas: what a
 * session pays when its watches live at its region's replica. A session's write,
 * with a watch held, is answered only once its home (the replica in its region) has
 * handed over the events up to the write's zxid (docs/consistency.md); and a watch
 * event reaches a session from its region's replica. Each beside the same workload on
 * the server without regions. The leader's W2 with watchers at every replica is in
 * regions-replicas.ts. Figures come from the simulation (protocol/regions.ts), not
 * from production.
 */
import { type KeeperClient, connect } from "../client/index.ts";
import { REGIONS, type Region, roundTripMs } from "../protocol/regions.ts";
import { PLAIN_ROW } from "./regions-replicas.ts";
import { within } from "./session-workloads.ts";
import { formatNumber, percentile, renderTable } from "./stats.ts";
import { sequentialLatencies, value } from "./workloads.ts";

const LEADER_REGION = REGIONS[0];
const REPLICA_REGIONS = REGIONS.slice(1);
/** Nodes of the default namespace's root shard: one a session writes, one it watches. */
const WRITTEN = "/bench-watch-written";
const WATCHED = "/bench-watch-watched";
/** How long one watch event may take before the run is stopped as broken. */
const EVENT_LIMIT_MS = 30_000;

const session = (base: string, region?: Region): Promise<KeeperClient> => connect({ servers: [base], sessionTimeoutMs: 10_000, ...(region ? { region } : {}) });

/** Creates the nodes these rows use on a server (once per server). */
export async function createWatchNodes(base: string): Promise<void> {
  const zk = await session(base);
  try {
    for (const path of [WRITTEN, WATCHED]) await zk.create(path, value(100, 0));
  } finally {
    await zk.close();
  }
}

interface WriteLatencies {
  bare: { p50: number; p99: number };
  watching: { p50: number; p99: number };
}

/**
 * One session from `region` (or, on the plain server, from anywhere) runs `ops`
 * setData of WRITTEN without a watch, then the same holding a data watch on WATCHED
 * (a node of the same shard nobody writes, so it stays held); each after a tenth as
 * many unmeasured. The session is the only one of its region, so its host holds no
 * other watch.
 */
async function writesWithAndWithoutWatch(base: string, region: Region | undefined, ops: number, timeLimitMs: number): Promise<WriteLatencies> {
  const zk = await session(base, region);
  try {
    const data = value(100, 1);
    const options = { warmup: Math.max(1, Math.round(ops / 10)), ops, timeLimitMs };
    const bare = await sequentialLatencies(options, () => zk.setData(WRITTEN, data));
    let fired = false;
    await zk.getData(WATCHED, { watch: () => (fired = true) });
    const watching = await sequentialLatencies(options, () => zk.setData(WRITTEN, data));
    if (fired) throw new Error(`the watch on ${WATCHED} fired: something else wrote it`);
    return { bare, watching };
  } finally {
    await zk.close();
  }
}

/** (a) A write from each replica region with a watch held there vs without, beside the same on the plain server. */
export async function writesWithWatchRows(simulated: string, plain: string, ops: number, timeLimitMs: number): Promise<string[]> {
  const rows: string[][] = [];
  const row = (name: string, rtt: string, { bare, watching }: WriteLatencies) => [
    name,
    rtt,
    ...[bare.p50, bare.p99, watching.p50, watching.p99, watching.p50 - bare.p50].map(formatNumber),
  ];
  for (const region of REPLICA_REGIONS) {
    rows.push(row(region, String(roundTripMs(region, LEADER_REGION)), await writesWithAndWithoutWatch(simulated, region, ops, timeLimitMs)));
  }
  rows.push(row(PLAIN_ROW, "", await writesWithAndWithoutWatch(plain, undefined, ops, timeLimitMs)));
  return [
    renderTable(["session's region", "RTT to leader", "write p50", "p99", "watching p50", "p99", "p50 difference"], rows),
    "",
    `ms per setData (100 bytes) through the TypeScript client, ${ops} sequential writes of one node by one session, first`,
    "without a watch, then holding a data watch on another node of the same shard (nobody writes it). With a watch held at",
    "its region's replica (its home), a write's answer waits until that replica has applied the write and handed over its",
    `events; the difference is that wait, expected about one in-region round trip (6 ms). Leaders in ${LEADER_REGION}, which has no replica.`,
    `"${PLAIN_ROW}": the same session, once, on the server without --regions (every watch at the leader).`,
  ];
}

interface EventLatencies {
  fromSend: number[];
  fromAnswer: number[];
}

/**
 * `ops` times: every watcher sets a one-shot data watch on `path` (getData), then
 * the writer sets it; from just before the setData, and from its answer, to each
 * watcher's event. After a tenth as many unmeasured.
 */
async function eventLatencies(writer: KeeperClient, watchers: readonly KeeperClient[], path: string, ops: number, timeLimitMs: number): Promise<EventLatencies[]> {
  const results = watchers.map((): EventLatencies => ({ fromSend: [], fromAnswer: [] }));
  const warmup = Math.max(1, Math.round(ops / 10));
  const deadline = performance.now() + timeLimitMs;
  for (let i = 0; i < warmup + ops && performance.now() < deadline; i++) {
    // Each event wrapped: an async function returning the promise itself would wait for it.
    const events = await Promise.all(
      watchers.map(async (watcher) => {
        let fired!: (at: number) => void;
        const event = new Promise<number>((resolve) => (fired = resolve));
        await within(watcher.getData(path, { watch: () => fired(performance.now()) }), EVENT_LIMIT_MS, "setting a watch");
        return { event };
      }),
    );
    const sent = performance.now();
    await writer.setData(path, value(100, i));
    const answered = performance.now();
    const arrivals = await within(Promise.all(events.map(({ event }) => event)), EVENT_LIMIT_MS, "a watch event");
    if (i < warmup) continue;
    arrivals.forEach((at, w) => {
      results[w]!.fromSend.push(at - sent);
      results[w]!.fromAnswer.push(at - answered);
    });
  }
  return results;
}

/** (b) Watch latency in each region, a writer in the leader's region, beside the same on the plain server. */
export async function watchLatencyRows(simulated: string, plain: string, ops: number, timeLimitMs: number): Promise<string[]> {
  const rows: string[][] = [];
  const run = async (base: string, regions: readonly (Region | undefined)[]) => {
    const writer = await session(base, regions[0]);
    const watchers = await Promise.all(regions.map((region) => session(base, region)));
    try {
      return await eventLatencies(writer, watchers, WATCHED, ops, timeLimitMs);
    } finally {
      await Promise.all([writer, ...watchers].map((zk) => zk.close()));
    }
  };
  const figures = (latencies: EventLatencies) => [percentile(latencies.fromSend, 50), percentile(latencies.fromSend, 99), percentile(latencies.fromAnswer, 50), percentile(latencies.fromAnswer, 99)];
  const simulatedLatencies = await run(simulated, REGIONS);
  const leaders = percentile(simulatedLatencies[0]!.fromSend, 50);
  REGIONS.forEach((region, i) => {
    const latencies = simulatedLatencies[i]!;
    const difference = i === 0 ? "" : formatNumber(percentile(latencies.fromSend, 50) - leaders);
    rows.push([region, String(roundTripMs(region, LEADER_REGION) / 2), ...figures(latencies).map(formatNumber), difference]);
  });
  const [plainLatencies] = await run(plain, [undefined]);
  rows.push([PLAIN_ROW, "", ...figures(plainLatencies!).map(formatNumber), ""]);
  return [
    renderTable(["watcher's region", "RTT/2 to leader", "from send p50", "p99", "from answer p50", "p99", "p50 - leader region's"], rows),
    "",
    `ms from a setData by a session in ${LEADER_REGION} (the leaders' region) to a watch event at a session in each region, all five`,
    `watching at once, each re-setting its one-shot data watch (getData) before the next write; ${ops} writes (+ a tenth as warm-up).`,
    `"from send": from just before the setData; "from answer": from the writer having its answer (negative: the event came first).`,
    `A session outside ${LEADER_REGION} has its watch at its region's replica, which fires it as it applies the write; expected`,
    `about RTT/2 more than in ${LEADER_REGION}. "${PLAIN_ROW}": one writer and one watcher on the server without --regions.`,
  ];
}
