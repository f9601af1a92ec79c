/**
 * `npm run bench -- --regions`, the read replicas' part: over HTTP on a server
 * simulating the five regions (leaders in the first), a sequential read in the
 * caller's region, the replicas' lag behind writes at a fixed rate, their pulls and
 * rows written per write, and the leader's W2 throughput with replicas pulling (and watchers
 * at them) vs none. Each against the target.
 * Figures come from the simulation (protocol/regions.ts), not from production.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CONSISTENCY_HEADER } from "../protocol/read-modes.ts";
import { REGIONS, type Region, REGION_HEADER, roundTripMs } from "../protocol/regions.ts";
import { edgekeeperHttpTarget } from "./peers/edgekeeper.ts";
import { sharedSocketDriver } from "./peers/edgekeeper-mux.ts";
import { type SessionTarget, closeAll, within } from "./session-workloads.ts";
import { formatNumber, formatRatio, median, percentile, renderTable } from "./stats.ts";
import { type Target, WORKLOADS, type WorkloadOptions, cutShortNote, sequentialLatencies, value } from "./workloads.ts";

const LEADER_REGION = REGIONS[0];
const REPLICA_REGIONS = REGIONS.slice(1);
const verdict = (ok: boolean) => (ok ? "MET" : "NOT MET");

interface ReadAnswer {
  servedBy: string;
  mzxid: number;
}

interface CallOptions {
  region?: Region;
  namespace?: string;
  consistency?: string;
  method?: "GET" | "PUT" | "POST";
  data?: string;
}

/** One call of the znode API; its Served-By and the node's mzxid (from the answer's stat). */
async function call(base: string, path: string, options: CallOptions = {}): Promise<ReadAnswer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.region) headers[REGION_HEADER] = options.region;
  if (options.namespace) headers["X-Edgekeeper-Namespace"] = options.namespace;
  if (options.consistency) headers[CONSISTENCY_HEADER] = options.consistency;
  const body = options.data === undefined ? undefined : JSON.stringify({ data: options.data });
  const response = await fetch(`${base}/v1/znodes${path}`, { method: options.method ?? "GET", headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`edgekeeper: ${options.method ?? "GET"} ${path}: HTTP ${response.status} ${text}`);
  const { stat } = JSON.parse(text) as { stat: { mzxid: number } };
  return { servedBy: response.headers.get("X-Edgekeeper-Served-By") ?? "?", mzxid: stat.mzxid };
}

/**
 * Reads `path` from `region` until its replica serves it (the first read starts the
 * replica; in the leader's region there is none), at most `limit` reads.
 */
async function warmReplica(base: string, path: string, region: Region, limit: number, namespace?: string): Promise<void> {
  for (let i = 0; i < limit; i++) {
    const { servedBy } = await call(base, path, { region, namespace });
    if (region === LEADER_REGION || servedBy.endsWith("/replica")) return;
  }
}

/** "enam/replica 50" or "wnam/leader 49, enam/replica 1": who served a run's reads. */
function servedBySummary(answers: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const servedBy of answers) counts.set(servedBy, (counts.get(servedBy) ?? 0) + 1);
  return [...counts].map(([who, n]) => `${who} ${n}`).join(", ");
}

/** The row of the figures from the server started without --regions. */
export const PLAIN_ROW = "plain (no regions)";

/** p50/p99 ms of `ops` sequential reads of `path` (default consistency), not warmed up, and who served them. */
async function timedReads(base: string, path: string, ops: number, timeLimitMs: number, region?: Region): Promise<{ p50: number; p99: number; cutShort: boolean; servedBy: string }> {
  const served: string[] = [];
  const { p50, p99, cutShort } = await sequentialLatencies({ warmup: 0, ops, timeLimitMs }, async () => served.push((await call(base, path, { region })).servedBy));
  return { p50, p99, cutShort, servedBy: servedBySummary(served) };
}

/** 1. A sequential read in the caller's region, beside the same reads, once, on the plain server. */
export async function sequentialReadRows(simulated: string, plain: string, path: string, ops: number, timeLimitMs: number): Promise<string[]> {
  const rows: string[][] = [];
  for (const region of REGIONS) {
    await warmReplica(simulated, path, region, Math.max(10, Math.round(ops / 10)));
    const read = await timedReads(simulated, path, ops, timeLimitMs, region);
    const met = read.p50 < 10 && read.p99 < 25;
    rows.push([region, formatNumber(read.p50), formatNumber(read.p99), read.servedBy, `${verdict(met)}${cutShortNote(read.cutShort)}`]);
  }
  const without = await timedReads(plain, path, ops, timeLimitMs);
  rows.push([PLAIN_ROW, formatNumber(without.p50), formatNumber(without.p99), without.servedBy, cutShortNote(without.cutShort).trim()]);
  return [
    renderTable(["caller's region", "read p50", "p99", "served by (reads)", "p50 < 10, p99 < 25"], rows),
    "",
    `ms per HTTP GET (X-Edgekeeper-Region, default consistency: sequential), ${ops} sequential reads of one node per region,`,
    `after reads until its replica served one (the first starts it). "${PLAIN_ROW}": the same GETs on the server without --regions.`,
  ];
}

/** When each write was answered (ms, performance.now) and its zxid. */
interface Write {
  answeredAt: number;
  zxid: number;
}

/**
 * 2. Replication lag: a writer in the leader's region sets `path` at `rate` writes/s
 * (paced, not waiting for answers) while a poller per replica region reads it there
 * with consistency `any` (the replica's state as it is) back to back. A write's lag
 * in a region: from its answer to the first poll showing its zxid (the node's mzxid),
 * that poll taken at the middle of its round trip. Polls are about one in-region
 * round trip apart, so a figure is within about half of it.
 */
export async function replicationLagRows(base: string, path: string, rate: number, writes: number): Promise<string[]> {
  for (const region of REPLICA_REGIONS) await warmReplica(base, path, region, 20);
  const polls = new Map<Region, { at: number; zxid: number }[]>(REPLICA_REGIONS.map((r) => [r, []]));
  let polling = true;
  const pollers = REPLICA_REGIONS.map(async (region) => {
    while (polling) {
      const sent = performance.now();
      const { mzxid } = await call(base, path, { region, consistency: "any" });
      polls.get(region)!.push({ at: (sent + performance.now()) / 2, zxid: mzxid });
    }
  });
  const { answered, elapsedMs } = await pacedWrites(base, path, rate, writes, "w");
  const last = Math.max(...answered.map((w) => w.zxid));
  await until(() => REPLICA_REGIONS.every((r) => (polls.get(r)!.at(-1)?.zxid ?? 0) >= last), 10_000, 20);
  polling = false;
  await Promise.all(pollers);

  const rows = REPLICA_REGIONS.map((region) => {
    const seen = polls.get(region)!;
    const lags: number[] = [];
    let missed = 0;
    for (const write of answered) {
      const poll = seen.find((p) => p.zxid >= write.zxid);
      if (poll) lags.push(Math.max(0, poll.at - write.answeredAt));
      else missed++;
    }
    const rtt = roundTripMs(region, LEADER_REGION);
    const [p50, p99] = [percentile(lags, 50), percentile(lags, 99)];
    const met = missed === 0 && p50 <= rtt / 2 + 10 && p99 <= rtt + 50;
    return [region, String(rtt), formatNumber(p50), formatNumber(p99), formatNumber(seen.length / (elapsedMs / 1000)), String(missed), verdict(met)];
  });
  return [
    renderTable(["replica region", "RTT to leader", "lag p50", "p99", "polls/s", "never seen", "p50 <= RTT/2+10, p99 <= RTT+50"], rows),
    "",
    `ms from a write's answer to its replica having applied it: ${answered.length} setData at ${formatNumber((answered.length * 1000) / elapsedMs)} writes/s`,
    `(target ${rate}) from ${LEADER_REGION}; each region polled with reads at its replica (consistency any), the poll's time`,
    `taken at the middle of its round trip; "never seen": writes no poll showed within 10 s. Without replicas there is no lag.`,
  ];
}

/**
 * 4. The leader's W2 (setData, `inFlight` outstanding) in three namespaces of the
 * simulated server, from the leader's region: one whose shard has a replica pulling in
 * every other region, the same with `watchers` sessions spread over those regions each
 * holding a data watch on another node of the shard (so at its region's replica; nobody
 * writes that node), and one with no replica (nothing read from other regions). Rounds
 * rotate which goes first; medians. Beside each, the CPU workerd spent per write
 * (`workerdCpuMs`: what it has used so far): every object shares this machine's cores.
 */
export async function w2WithReplicasRows(base: string, options: Omit<WorkloadOptions, "warmup">, rounds: number, watchers: number, workerdCpuMs: () => Promise<number>): Promise<string[]> {
  const w2 = WORKLOADS.find((w) => w.id === "W2")!;
  const prefix = "/bench-w2";
  const watched = `${prefix}/watched`;
  const namespaces = { replicas: "bench-w2-replicas", watchers: "bench-w2-watchers", none: "bench-w2-none" } as const;
  const kinds = Object.keys(namespaces) as (keyof typeof namespaces)[];
  const targets = Object.fromEntries(kinds.map((kind) => [kind, edgekeeperHttpTarget(base, { "X-Edgekeeper-Namespace": namespaces[kind] })])) as Record<keyof typeof namespaces, Target>;
  for (const target of Object.values(targets)) {
    await target.create(prefix, value(0, 0));
    await w2.prepare(target, prefix);
  }
  await targets.watchers.create(watched, value(100, 0));
  for (const namespace of [namespaces.replicas, namespaces.watchers]) {
    for (const region of REPLICA_REGIONS) await warmReplica(base, `${prefix}/w2`, region, 20, namespace);
  }
  const sessions = await watchingSessions(base, namespaces.watchers, watched, watchers, options.timeLimitMs);
  const rates: Record<keyof typeof namespaces, number[]> = { replicas: [], watchers: [], none: [] };
  const cpuPerWrite: Record<keyof typeof namespaces, number[]> = { replicas: [], watchers: [], none: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < kinds.length; i++) {
        const which = kinds[(round + i) % kinds.length]!;
        const warmup = Math.round(options.ops / 10);
        const cpuBefore = await workerdCpuMs();
        const result = await w2.run(targets[which], prefix, { ...options, warmup });
        cpuPerWrite[which].push(((await workerdCpuMs()) - cpuBefore) / (options.ops + warmup));
        rates[which].push(result.metrics.find((m) => m.name === "ops/s")!.value);
      }
    }
  } finally {
    await closeAll(sessions.opened);
  }
  if (sessions.fired() > 0) throw new Error(`${sessions.fired()} watches on ${watched} fired: something wrote it`);
  const [withReplicas, withWatchers, none] = [median(rates.replicas), median(rates.watchers), median(rates.none)];
  const cpu = (kind: keyof typeof namespaces) => formatNumber(median(cpuPerWrite[kind]));
  const row = (name: string, rate: number, kind: keyof typeof namespaces) => [name, formatNumber(rate), formatRatio(rate / none), verdict(rate / none >= 0.85), cpu(kind)];
  return [
    renderTable(
      ["leader's W2", "ops/s", "with / none", "at most 15% below", "workerd CPU ms/write"],
      [
        row(`${REPLICA_REGIONS.length} replicas pulling`, withReplicas, "replicas"),
        row(`${REPLICA_REGIONS.length} replicas + ${formatNumber(watchers)} watchers`, withWatchers, "watchers"),
        ["no replicas", formatNumber(none), "", "", cpu("none")],
      ],
    ),
    "",
    `HTTP setData of 100 bytes on one node from ${LEADER_REGION}, ${options.inFlight} in flight, ${options.ops} ops (+ a tenth as warm-up),`,
    `${rounds} round(s), medians; three namespaces of the same server: one read from every region (so its shard's replicas pull),`,
    `the same with ${watchers} sessions (${REPLICA_REGIONS.length} regions, sharing a socket per region) each holding a data watch on another node`,
    "of the shard, which they hold at their region's replica (nobody writes it), and one read from nowhere else.",
    `The five regions hold a leader and ${REPLICA_REGIONS.length} replicas (none in the leader's own region).`,
    "workerd CPU ms/write: user and system CPU of the server's workerd over the run, divided by its writes (warm-up included).",
    "Every object runs in that one workerd, which shares this machine's cores with the benchmark's own client, so the",
    "replicas' applies of each write (deployed: in their own regions) come out of the leader's throughput here.",
  ];
}

/**
 * `count` sessions of `namespace` spread evenly over the replica regions, one shared
 * socket per region, each with a data watch on `path`; and how many of those fired.
 */
async function watchingSessions(base: string, namespace: string, path: string, count: number, timeLimitMs: number): Promise<{ opened: SessionTarget[]; fired: () => number }> {
  const opened: SessionTarget[] = [];
  let fired = 0;
  try {
    for (const [i, region] of REPLICA_REGIONS.entries()) {
      const n = Math.floor(count / REPLICA_REGIONS.length) + (i < count % REPLICA_REGIONS.length ? 1 : 0);
      if (n === 0) continue;
      const sessions = await sharedSocketDriver(base, { namespace, region }).open(n, { perSocket: n, timeLimitMs });
      opened.push(...sessions);
      await within(Promise.all(sessions.map((session) => session.watchData(path, () => fired++))), timeLimitMs, `setting ${n} watches from ${region}`);
    }
  } catch (error) {
    await closeAll(opened);
    throw error;
  }
  return { opened, fired: () => fired };
}

/** A replica's counters as GET /v1/admin/shards reports them. */
interface ReplicaCounters {
  region: string;
  appliedZxid: number;
  pulls: number;
  pushes: number;
  entriesApplied: number;
  rowsWritten: number;
}

/** The replicas of the shard serving `/` in the default namespace, by region. */
async function rootReplicas(base: string): Promise<Map<string, ReplicaCounters>> {
  const response = await fetch(`${base}/v1/admin/shards`);
  const text = await response.text();
  if (!response.ok) throw new Error(`edgekeeper: GET /v1/admin/shards: HTTP ${response.status} ${text}`);
  const { shards } = JSON.parse(text) as { shards: { prefix: string; replicas: ReplicaCounters[] }[] };
  const root = shards.find((shard) => shard.prefix === "/");
  return new Map((root?.replicas ?? []).map((replica) => [replica.region, replica]));
}

/**
 * 3. What replicating costs each replica: a writer in the leader's region sets `path`
 * at `rate` writes/s (paced, not waiting for answers); the replicas' counters
 * (GET /v1/admin/shards) before and after, once every replica has applied the last
 * write, give its pulls and SQLite rows written per write.
 */
export async function replicationCostRows(base: string, path: string, rate: number, writes: number): Promise<string[]> {
  for (const region of REPLICA_REGIONS) await warmReplica(base, path, region, 20);
  const before = await rootReplicas(base);
  const { answered, elapsedMs } = await pacedWrites(base, path, rate, writes, "c");
  const last = Math.max(...answered.map((w) => w.zxid));
  let after = await rootReplicas(base);
  await until(async () => {
    if (REPLICA_REGIONS.every((region) => (after.get(region)?.appliedZxid ?? 0) >= last)) return true;
    after = await rootReplicas(base);
    return false;
  }, 10_000, 50);
  const rows = REPLICA_REGIONS.map((region) => {
    const [was, now] = [before.get(region), after.get(region)];
    if (!was || !now) return [region, "not started", "", "", "", "", "", "", ""];
    const [pulls, pushes, entries, rowsWritten] = [now.pulls - was.pulls, now.pushes - was.pushes, now.entriesApplied - was.entriesApplied, now.rowsWritten - was.rowsWritten];
    const [pullsPerWrite, rowsPerWrite] = [pulls / writes, rowsWritten / writes];
    return [region, String(pulls), formatNumber(pullsPerWrite), verdict(pullsPerWrite <= 0.1), formatNumber(pushes / writes), String(entries), String(rowsWritten), rowsPerWrite.toFixed(3), verdict(rowsPerWrite <= 2)];
  });
  return [
    renderTable(["replica region", "pulls", "per write", "<= 0.1", "pushes per write", "entries applied", "rows written", "per write", "<= 2"], rows),
    "",
    `${writes} setData of one node at ${formatNumber((writes * 1000) / elapsedMs)} writes/s (target ${rate}) from ${LEADER_REGION}; each replica's`,
    "pulls, pages pushed to it over streaming pulls, entries applied and SQLite rows written (GET /v1/admin/shards) from before the first write until it had applied",
    `the last, divided by the ${writes} writes. Without replicas nothing is pulled or replicated. A replica also stores its meta (a row)`,
    "every 1,024 entries; once its log is at its bound (EDGEKEEPER_CHANGE_LOG_WINDOW, 10,000 entries by default, beyond this run) each entry",
    "also deletes the oldest, and a trim every 64 entries stores meta: 3 rows and a 64th per setData then.",
  ];
}

/**
 * Digits of a paced write's number: every value has one length, so a write's rows are
 * replication's own (a value changing size also moves the tree's data counter, at the
 * leader as at each replica).
 */
const VALUE_DIGITS = 6;

/**
 * `writes` setData of `path` from the leader's region, paced at `rate` per second and
 * not waiting for answers: when each was answered and its zxid, and the run's length.
 */
async function pacedWrites(base: string, path: string, rate: number, writes: number, tag: string): Promise<{ answered: Write[]; elapsedMs: number }> {
  const start = performance.now();
  const answered: Write[] = [];
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < writes; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(call(base, path, { method: "PUT", data: `${tag}${String(i).padStart(VALUE_DIGITS, "0")}` }).then(({ mzxid }) => void answered.push({ answeredAt: performance.now(), zxid: mzxid })));
  }
  await Promise.all(inFlight);
  return { answered, elapsedMs: performance.now() - start };
}

/** Asks `done` every `stepMs` until it holds or `limitMs` has passed. */
async function until(done: () => boolean | Promise<boolean>, limitMs: number, stepMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline && !(await done())) await sleep(stepMs);
}
