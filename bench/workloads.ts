/**
 * The workloads of DESIGN.md that fit a sessionless API (W1-W3), written once
 * against `Target` so that every system runs exactly the same loop.
 *
 * Each run does a warm-up (not measured), then the measured ops. A workload also
 * stops at its time limit; the figures then cover the ops done so far and the
 * result says it was cut short.
 */
import { percentile } from "./stats.ts";

/** One system under test, as seen by one client process. */
export interface Target {
  /** Column name in the report. */
  name: string;
  /** Creates a persistent znode (its parent exists). */
  create(path: string, data: Uint8Array): Promise<void>;
  /** Deletes a znode, any version. */
  remove(path: string): Promise<void>;
  /** setData, any version. */
  setData(path: string, data: Uint8Array): Promise<void>;
  /** getData; returns the value's length in bytes, to check it came back. */
  getData(path: string): Promise<number>;
  /** Closes connections; the server is stopped by its peer module. */
  close(): Promise<void>;
}

export interface WorkloadOptions {
  warmup: number;
  ops: number;
  /** W2/W3: requests kept in flight. */
  inFlight: number;
  timeLimitMs: number;
}

export interface Metric {
  /** e.g. "ops/s", "p50 ms" */
  name: string;
  value: number;
  /** Whether a larger value is better (throughput) or smaller (latency). */
  higherIsBetter: boolean;
}

export interface WorkloadResult {
  ops: number;
  elapsedMs: number;
  metrics: Metric[];
  /** Set when the time limit stopped it before `ops`. */
  cutShort: boolean;
}

export interface Workload {
  id: string;
  title: string;
  /** Creates what the workload needs; `run` may be called several times after it. */
  prepare(target: Target, prefix: string): Promise<void>;
  run(target: Target, prefix: string, options: WorkloadOptions): Promise<WorkloadResult>;
}

const encoder = new TextEncoder();

/** A printable value of exactly `size` bytes (ASCII, so UTF-8 and raw bytes agree). */
export function value(size: number, seed: number): Uint8Array {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let text = "";
  for (let i = 0; i < size; i++) text += alphabet[(seed + i * 7) % alphabet.length];
  return encoder.encode(text);
}

const now = () => performance.now();

/**
 * Runs `once` sequentially, `warmup` times untimed and then up to `ops` times within
 * the time limit; each call returns its own latency in ms. Reports p50/p99, and the
 * rate of ops when `withRate`.
 */
export async function measureLatencies(
  options: Pick<WorkloadOptions, "warmup" | "ops" | "timeLimitMs">,
  once: (i: number) => Promise<number>,
  withRate: boolean,
): Promise<WorkloadResult> {
  for (let i = 0; i < options.warmup; i++) await once(i);
  const latencies: number[] = [];
  const start = now();
  const deadline = start + options.timeLimitMs;
  for (let i = 0; i < options.ops && now() < deadline; i++) latencies.push(await once(i));
  const elapsedMs = now() - start;
  const metrics: Metric[] = [
    { name: "p50 ms", value: percentile(latencies, 50), higherIsBetter: false },
    { name: "p99 ms", value: percentile(latencies, 99), higherIsBetter: false },
  ];
  if (withRate) metrics.push({ name: "ops/s", value: (latencies.length * 1000) / elapsedMs, higherIsBetter: true });
  return { ops: latencies.length, elapsedMs, cutShort: latencies.length < options.ops, metrics };
}

/** What a result's row says when the time limit stopped it before its ops were done. */
export const cutShortNote = (cutShort: boolean): string => (cutShort ? " (cut short by the time limit)" : "");

/**
 * p50 and p99 ms of `call` run as measureLatencies runs it (sequentially, after a
 * warm-up), each call timed from outside; `cutShort` when the time limit ended it.
 */
export async function sequentialLatencies(options: Pick<WorkloadOptions, "warmup" | "ops" | "timeLimitMs">, call: () => Promise<unknown>): Promise<{ p50: number; p99: number; cutShort: boolean }> {
  const result = await measureLatencies(
    options,
    async () => {
      const t0 = now();
      await call();
      return now() - t0;
    },
    false,
  );
  const metric = (name: string) => result.metrics.find((m) => m.name === name)!.value;
  return { p50: metric("p50 ms"), p99: metric("p99 ms"), cutShort: result.cutShort };
}

/** W1: one client, create then delete a znode, one request at a time; a pair is one op. */
const w1: Workload = {
  id: "W1",
  title: "sequential create+delete, 1 client",
  async prepare(target, prefix) {
    await target.create(`${prefix}/w1`, new Uint8Array(0));
  },
  async run(target, prefix, options) {
    const data = value(16, 1);
    const path = `${prefix}/w1/n`;
    return measureLatencies(
      options,
      async () => {
        const t0 = now();
        await target.create(path, data);
        await target.remove(path);
        return now() - t0;
      },
      true,
    );
  },
};

/**
 * Keeps `inFlight` requests outstanding: each of `inFlight` loops issues its next
 * request as soon as its previous one completes, until `count` have been issued.
 */
async function pipelined(
  count: number,
  inFlight: number,
  deadline: number,
  request: (i: number) => Promise<unknown>,
): Promise<number> {
  let issued = 0;
  let done = 0;
  const loop = async () => {
    while (issued < count && now() < deadline) {
      const i = issued++;
      await request(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, loop));
  return done;
}

async function runPipelined(options: WorkloadOptions, request: (i: number) => Promise<unknown>): Promise<WorkloadResult> {
  await pipelined(options.warmup, options.inFlight, Number.POSITIVE_INFINITY, request);
  const start = now();
  const done = await pipelined(options.ops, options.inFlight, start + options.timeLimitMs, request);
  const elapsedMs = now() - start;
  return {
    ops: done,
    elapsedMs,
    cutShort: done < options.ops,
    metrics: [{ name: "ops/s", value: (done * 1000) / elapsedMs, higherIsBetter: true }],
  };
}

/** W2: setData of 100-byte values on one znode, `inFlight` requests outstanding. */
const w2: Workload = {
  id: "W2",
  title: "pipelined setData, 100-byte values",
  async prepare(target, prefix) {
    await target.create(`${prefix}/w2`, value(100, 0));
  },
  async run(target, prefix, options) {
    const path = `${prefix}/w2`;
    const values = Array.from({ length: 16 }, (_, seed) => value(100, seed));
    return runPipelined(options, (i) => target.setData(path, values[i % values.length]!));
  },
};

/** W3: getData of one znode holding 100 bytes, `inFlight` requests outstanding. */
const w3: Workload = {
  id: "W3",
  title: "pipelined getData",
  async prepare(target, prefix) {
    await target.create(`${prefix}/w3`, value(100, 3));
  },
  async run(target, prefix, options) {
    const path = `${prefix}/w3`;
    return runPipelined(options, async () => {
      const length = await target.getData(path);
      if (length !== 100) throw new Error(`${target.name}: getData ${path} returned ${length} bytes, expected 100`);
    });
  },
};

export const WORKLOADS: readonly Workload[] = [w1, w2, w3];
