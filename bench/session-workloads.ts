/**
 * The workloads of DESIGN.md that need sessions and watches: W4 (watch notification
 * latency, writer to watcher) and W6 (1,000 idle watching sessions: server memory per
 * session, fan-out time of one change). Written once against `SessionDriver`, so
 * every system runs exactly the same loop; W1-W3 through a session client reuse
 * workloads.ts with a session as the Target.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { GroupRss } from "./procs.ts";
import { percentile } from "./stats.ts";
import { type Metric, type Target, type WorkloadResult, measureLatencies, value } from "./workloads.ts";

/** One session of a system, as W1-W6 use it. */
export interface SessionTarget extends Target {
  /**
   * getData with a one-shot data watch; resolves once the server has answered (the
   * watch is set). `onEvent` is called once, when the watch fires.
   */
  watchData(path: string, onEvent: () => void): Promise<void>;
}

export interface OpenOptions {
  /** Sessions per socket, for drivers that share sockets. */
  perSocket: number;
  /** Give up (and close what was opened) after this long. */
  timeLimitMs: number;
}

/** Opens sessions of one system, one way (a client library, or a driver sharing sockets). */
export interface SessionDriver {
  /**
   * "client" (our TypeScript client, a socket per session), "shared" (several sessions
   * per socket), "bridge" (node-zookeeper-client to edgekeeper's wire bridge), "zk"
   * (node-zookeeper-client to ZooKeeper).
   */
  id: "client" | "shared" | "bridge" | "zk";
  /** How the sessions are reached, for the report. */
  label(options: OpenOptions): string;
  /** Opens `count` sessions; rejects (having closed them) if it cannot open them all in time. */
  open(count: number, options: OpenOptions): Promise<SessionTarget[]>;
}

const now = () => performance.now();

/** Closes sessions, a bounded number at a time; errors are ignored (the server is stopped after). */
export async function closeAll(sessions: readonly SessionTarget[], concurrency = 100): Promise<void> {
  await eachBounded(sessions, concurrency, (session) => session.close().catch(() => undefined));
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export interface W4Options {
  warmup: number;
  ops: number;
  timeLimitMs: number;
  /** How long one notification may take before the run is stopped as broken. */
  eventLimitMs: number;
}

/**
 * W4: a writer session sets a node on which a watcher session holds a data watch;
 * the watcher re-arms it (getData with a watch) after each event, and the next set
 * waits for that. Latency: from just before setData to the event's arrival, both
 * sessions in this process.
 */
export async function runW4(writer: SessionTarget, watcher: SessionTarget, path: string, options: W4Options): Promise<WorkloadResult> {
  const values = Array.from({ length: 16 }, (_, seed) => value(100, seed));
  const once = async (i: number): Promise<number> => {
    let fired!: (at: number) => void;
    const event = new Promise<number>((resolve) => (fired = resolve));
    await within(watcher.watchData(path, () => fired(now())), options.eventLimitMs, "W4 re-arming the watch");
    const t0 = now();
    const write = writer.setData(path, values[i % values.length]!);
    const at = await within(event, options.eventLimitMs, "W4 watch event");
    await write;
    return at - t0;
  };
  return measureLatencies(options, once, false);
}

export interface W6Options extends OpenOptions {
  sessions: number;
  /** Changes fanned out per run (each after every watch is re-armed); the median is reported. */
  changes: number;
  /** How long the server is left alone before each memory reading. */
  settleMs: number;
  /** How long one fan-out may take before the run is stopped as broken. */
  eventLimitMs: number;
  /**
   * Sessions opened, used and closed before the first reading (0: none). A fresh
   * server's first few thousand requests grow its memory whatever they are (compiled
   * code, heaps sized up): without this the reading counts that as the sessions'.
   */
  warmUpSessions: number;
}

export interface W6Result extends WorkloadResult {
  /** Seconds to open the sessions and set their watches. */
  openSeconds: number;
  rssBefore: GroupRss;
  rssAfter: GroupRss;
}

/**
 * W6: `sessions` sessions, each with a data watch on one shared node, left idle;
 * the server's memory (RSS of all its processes) before and after, per session;
 * then a writer (one more session) changes the node and the time until the last
 * of the watchers has its event is the fan-out time. The watches are re-armed and
 * the change repeated `changes` times.
 */
export async function runW6(
  driver: SessionDriver,
  rss: () => Promise<GroupRss>,
  path: string,
  options: W6Options,
  log: (line: string) => void,
): Promise<W6Result> {
  const opened: SessionTarget[] = [];
  try {
    // Warm-up: the objects and code paths on the server exist before the first reading.
    const [writer] = await driver.open(1, options);
    opened.push(writer!);
    const [probe] = await driver.open(1, options);
    opened.push(probe!);
    let probed!: () => void;
    const probeEvent = new Promise<void>((resolve) => (probed = resolve));
    await probe!.watchData(path, () => probed());
    await writer!.setData(path, value(100, 0));
    await within(probeEvent, options.eventLimitMs, "W6 warm-up event");
    if (options.warmUpSessions > 0) await warmUp(driver, writer!, path, options);

    await sleep(options.settleMs);
    const rssBefore = await rss();

    const openStart = now();
    const watchers = await driver.open(options.sessions, options);
    opened.push(...watchers);
    let arrivals: number[] = [];
    let expected = 0;
    let allIn!: () => void;
    let allArrived = Promise.resolve();
    const expect = () => {
      arrivals = [];
      expected = watchers.length;
      allArrived = new Promise<void>((resolve) => (allIn = resolve));
    };
    const onEvent = () => {
      arrivals.push(now());
      if (arrivals.length === expected) allIn();
    };
    expect();
    await armAll(watchers, path, onEvent);
    const openSeconds = (now() - openStart) / 1000;
    log(`    ${watchers.length} sessions open and watching in ${openSeconds.toFixed(1)} s`);

    await sleep(options.settleMs);
    const rssAfter = await rss();

    const fanouts: number[] = [];
    const firsts: number[] = [];
    for (let change = 0; change < options.changes; change++) {
      if (change > 0) {
        expect();
        await armAll(watchers, path, onEvent);
      }
      const t0 = now();
      await writer!.setData(path, value(100, change + 1));
      try {
        await within(allArrived, options.eventLimitMs, "W6 fan-out");
      } catch (error) {
        throw new Error(`${(error as Error).message}: ${arrivals.length} of ${expected} watchers had their event`);
      }
      fanouts.push(arrivals[arrivals.length - 1]! - t0);
      firsts.push(arrivals[0]! - t0);
    }
    const perSession = (rssAfter.total - rssBefore.total) / watchers.length;
    const metrics: Metric[] = [
      { name: "KiB/session", value: perSession / 1024, higherIsBetter: false },
      { name: "fan-out ms", value: percentile(fanouts, 50), higherIsBetter: false },
      { name: "first event ms", value: percentile(firsts, 50), higherIsBetter: false },
      { name: "open+watch s", value: openSeconds, higherIsBetter: false },
    ];
    return { ops: options.changes, elapsedMs: 0, cutShort: false, metrics, openSeconds, rssBefore, rssAfter };
  } finally {
    await closeAll(opened);
  }
}

/** Each of `warmUpSessions` sessions opens, reads, watches, has its event and closes. */
async function warmUp(driver: SessionDriver, writer: SessionTarget, path: string, options: W6Options): Promise<void> {
  const sessions = await driver.open(options.warmUpSessions, options);
  try {
    await eachBounded(sessions, 50, async (session) => {
      for (let i = 0; i < WARM_UP_READS; i++) await session.getData(path);
    });
    let fired = 0;
    let allFired!: () => void;
    const events = new Promise<void>((resolve) => (allFired = resolve));
    await armAll(sessions, path, () => ++fired === sessions.length && allFired());
    await writer.setData(path, value(100, 0));
    await within(events, options.eventLimitMs, "W6 warm-up fan-out");
  } finally {
    await closeAll(sessions);
  }
}

/** Reads per warm-up session: with its connect, watch and close, a dozen requests. */
const WARM_UP_READS = 10;

/** What each process of the group grew by, e.g. "node +1.2 MiB, workerd +30.4 MiB". */
export function rssGrowth(before: GroupRss, after: GroupRss): string {
  const mib = (bytes: number) => `${bytes >= 0 ? "+" : ""}${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return after.parts
    .map((part) => `${part.name} ${mib(part.bytes - (before.parts.find((p) => p.pid === part.pid)?.bytes ?? 0))}`)
    .join(", ");
}

/** Sets a data watch from every session, a bounded number at a time. */
async function armAll(sessions: readonly SessionTarget[], path: string, onEvent: () => void): Promise<void> {
  await eachBounded(sessions, 200, (session) => session.watchData(path, onEvent));
}

/** Runs `fn` on every session, at most `limit` at a time. */
async function eachBounded(sessions: readonly SessionTarget[], limit: number, fn: (session: SessionTarget) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < sessions.length) await fn(sessions[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, sessions.length) }, worker));
}
