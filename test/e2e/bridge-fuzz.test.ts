/**
 * The wire bridge under hostile input, end to end: one `npm start`, a healthy
 * node-zookeeper-client session beside a few hundred raw TCP connections that send
 * random bytes, valid ConnectRequests followed by mutated requests of every op code,
 * truncated frames, oversized length prefixes, garbage before and after a handshake,
 * and connections dropped mid-frame. The bridge must stay up, end or answer every
 * connection, keep the healthy session working (reads throughout, its watch after),
 * and leave every node outside /fuzz exactly as it was.
 *
 * Writes land under /fuzz by construction: the fuzz's requests name paths under
 * /fuzz, and the root and /known grant the world READ only (a digest the fuzz does
 * not know holds ALL), so a mutated path elsewhere is refused; /fuzz grants
 * everything but ADMIN, so the fuzz cannot lock itself out.
 *
 * Seeded: reproduce a run with BRIDGE_FUZZ_SEED=<the printed seed>;
 * BRIDGE_FUZZ_CONNECTIONS sets how many raw connections (default 300).
 */
import { createHash } from "node:crypto";
import { type Socket, connect as tcpConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  DEFAULT_MAX_BUFFER,
  FrameSplitter,
  type JuteRequest,
  JuteWriter,
  decodeConnectRequest,
  encodeConnectRequest,
  encodeRequest,
} from "../../protocol/jute/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { treeOutside } from "../harness/tree-snapshot.ts";
import { type Any, bridgePort, call, nzc, zookeeper } from "../harness/zk-clients.ts";
import { fourLetterWord } from "../harness/zookeeper/launch.ts";
import { INTERESTING_INTS, fuzzSeed, mutate, rng } from "../jute/mutate.ts";
import { REQUESTS } from "../jute/samples.ts";

const SEED = fuzzSeed("BRIDGE_FUZZ_SEED", "bridge");
const CONNECTIONS = Number(process.env.BRIDGE_FUZZ_CONNECTIONS ?? 300);
const PARALLEL = 8;
/** How long a connection may take to be answered or closed (a hang, not a speed limit). */
const ANSWER_LIMIT_MS = 15_000;
/** The session timeout the fuzz asks for: the least the default tick grants. */
const FUZZ_TIMEOUT_MS = 4_000;
/** A connection left silent with a session must be closed within its timeout and the bridge's check interval; this is the slack. */
const IDLE_CLOSE_SLACK_MS = 4_000;
/**
 * A connection silent before its ConnectRequest is complete must be closed too:
 * ZooKeeper 3.8 closes it after sessionlessCnxnTimeout (10 s; it took 17 s on loopback).
 */
const SESSIONLESS_CLOSE_LIMIT_MS = 20_000;

const KEEPER = "keeper:" + Math.random().toString(36).slice(2);
const KEEPER_ID = `${KEEPER.split(":")[0]}:${createHash("sha1").update(KEEPER).digest("base64")}`;
const PERMS = zookeeper.Permission;
const worldRead = () => [new zookeeper.ACL(PERMS.READ, new zookeeper.Id("world", "anyone")), new zookeeper.ACL(PERMS.ALL, new zookeeper.Id("digest", KEEPER_ID))];
const worldAllButAdmin = () => [
  new zookeeper.ACL(PERMS.READ | PERMS.WRITE | PERMS.CREATE | PERMS.DELETE, new zookeeper.Id("world", "anyone")),
  new zookeeper.ACL(PERMS.ALL, new zookeeper.Id("digest", KEEPER_ID)),
];
/** The tree outside /fuzz, read as the keeper. */
const treeOutsideFuzz = () => treeOutside(server.base, { sandbox: "/fuzz", auth: `digest ${KEEPER}` });
const KNOWN: Record<string, Buffer> = {
  "/known": Buffer.from("root of the known nodes"),
  "/known/a": Buffer.from("alpha"),
  "/known/b": Buffer.from([0, 1, 2, 254, 255]),
  "/known/b/c": Buffer.from("deep"),
  "/known/w": Buffer.from("watched"),
};

let server: LocalServer;
let zkPort: number;
let healthy: Any;

beforeAll(async () => {
  server = await startLocalServer();
  zkPort = await bridgePort(server);
});

afterAll(async () => {
  healthy?.close();
  await server?.stop();
});

// ---- what the fuzz sends ----

/** A request with every path moved under /fuzz ("/" becomes "/fuzz"). */
function underFuzz<T>(value: T): T {
  if (typeof value === "string") return (value.startsWith("/") ? `/fuzz${value === "/" ? "" : value}` : value) as T;
  if (Array.isArray(value)) return value.map(underFuzz) as T;
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, underFuzz(v)])) as T;
  }
  return value;
}

/** Payloads (no length prefix) of a valid request of every op code, paths under /fuzz. */
const VALID: Uint8Array[] = REQUESTS.map((r) => encodeRequest(underFuzz(r) as JuteRequest).subarray(4));

const connectRequest = (sessionId = 0n): Uint8Array =>
  encodeConnectRequest({ protocolVersion: 0, lastZxidSeen: 0n, timeOut: FUZZ_TIMEOUT_MS, sessionId, passwd: new Uint8Array(16), readOnly: false });

/** A payload with its length prefix (through the codec's framed writer). */
const framed = (payload: Uint8Array): Uint8Array => new JuteWriter(true).writeRaw(payload).finish();

const KINDS = ["random", "mutated", "mutated-connect", "truncated", "oversized", "garbage-before", "garbage-after", "dropped"] as const;
type Kind = (typeof KINDS)[number];

interface Plan {
  index: number;
  kind: Kind;
  /** Written one after another, a few ms apart. */
  chunks: Uint8Array[];
  /** Destroy the socket right after the last chunk (a client that vanishes mid-frame). */
  drop: boolean;
  /** After every answer, stay silent and expect the bridge to close the connection. */
  awaitIdleClose: boolean;
}

function plan(random: () => number, index: number): Plan {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  const requests = (n: number) =>
    Array.from({ length: n }, () => {
      const valid = pick(VALID);
      const body = random() < 0.85 ? mutate(random, valid) : valid;
      // Now and then a wrong length prefix for a good body.
      if (random() < 0.08) return Uint8Array.from([...new JuteWriter().writeInt(pick(INTERESTING_INTS)).finish(), ...body]);
      return framed(body.byteLength > 0 ? body : Uint8Array.of(0));
    });
  const kind = pick(KINDS);
  let chunks: Uint8Array[];
  switch (kind) {
    case "random":
      chunks = [bytes(Math.floor(random() * (random() < 0.2 ? 3_000 : 200)))];
      break;
    case "mutated":
      chunks = [connectRequest(), ...requests(1 + Math.floor(random() * 16))];
      break;
    case "mutated-connect":
      chunks = [framed(mutate(random, connectRequest().subarray(4))), ...requests(Math.floor(random() * 6))];
      break;
    case "truncated": {
      const all = [connectRequest(), ...requests(Math.floor(random() * 6))];
      const last = framed(pick(VALID));
      all.push(last.subarray(0, Math.floor(random() * last.byteLength)));
      chunks = index % 5 === 0 ? all.slice(0, 1).map((c) => c.subarray(0, Math.floor(random() * c.byteLength))) : all;
      break;
    }
    case "oversized": {
      const length = pick([DEFAULT_MAX_BUFFER + 1, 0x100000, 0x7fffffff, -1, 0, -0x80000000, 0x10000000 + Math.floor(random() * 0x1000)]);
      const prefix = new JuteWriter().writeInt(length).finish();
      chunks = random() < 0.3 ? [prefix, bytes(Math.floor(random() * 64))] : [connectRequest(), ...requests(Math.floor(random() * 3)), prefix, bytes(Math.floor(random() * 64))];
      break;
    }
    case "garbage-before":
      chunks = [bytes(1 + Math.floor(random() * 40)), connectRequest(), ...requests(Math.floor(random() * 4))];
      break;
    case "garbage-after":
      chunks = [connectRequest(), ...requests(Math.floor(random() * 4)), bytes(1 + Math.floor(random() * 300)), ...requests(Math.floor(random() * 3))];
      break;
    case "dropped": {
      const all = [connectRequest(), ...requests(Math.floor(random() * 4))];
      const last = framed(pick(VALID));
      chunks = [...all, last.subarray(0, 1 + Math.floor(random() * (last.byteLength - 1)))];
      if (random() < 0.3) chunks = [connectRequest().subarray(0, 1 + Math.floor(random() * 40))];
      break;
    }
  }
  // Split some chunks at random points, so frames also arrive in pieces.
  if (random() < 0.3) {
    chunks = chunks.flatMap((c) => {
      if (c.byteLength < 2 || random() < 0.5) return [c];
      const at = 1 + Math.floor(random() * (c.byteLength - 1));
      return [c.subarray(0, at), c.subarray(at)];
    });
  }
  return { index, kind, chunks, drop: kind === "dropped", awaitIdleClose: kind === "truncated" && index % 3 === 0 };
}

/**
 * What the bridge owes a connection, read from the bytes sent as the bridge reads
 * them: the xids it must answer (unless it closes), and whether it must close
 * (a bad frame length, an unreadable ConnectRequest or request header).
 */
function owed(chunks: Uint8Array[]): { xids: number[]; mustClose: boolean; handshake: boolean; frames: number } {
  const splitter = new FrameSplitter(DEFAULT_MAX_BUFFER);
  const frames: Uint8Array[] = [];
  let mustClose = false;
  try {
    for (const chunk of chunks) frames.push(...splitter.push(chunk));
  } catch {
    mustClose = true;
  }
  if (frames.length === 0) return { xids: [], mustClose, handshake: false, frames: 0 };
  try {
    decodeConnectRequest(frames[0]!);
  } catch {
    return { xids: [], mustClose: true, handshake: false, frames: frames.length };
  }
  const xids: number[] = [];
  for (const frame of frames.slice(1)) {
    if (frame.byteLength < 8) {
      mustClose = true;
      break;
    }
    xids.push(new DataView(frame.buffer, frame.byteOffset).getInt32(0));
  }
  return { xids, mustClose, handshake: true, frames: frames.length };
}

interface Outcome {
  plan: Plan;
  closed: boolean;
  answered: boolean;
  hung?: string;
  ms: number;
}

const hex = (chunks: Uint8Array[]) => chunks.map((c) => Buffer.from(c).toString("hex")).join(" | ");

async function run(p: Plan): Promise<Outcome> {
  const started = Date.now();
  const due = owed(p.chunks);
  const socket: Socket = tcpConnect(zkPort, "127.0.0.1");
  socket.setNoDelay(true);
  let closed = false;
  const replies = new FrameSplitter(DEFAULT_MAX_BUFFER);
  let gotConnectResponse = false;
  const waiting = [...due.xids];
  let changed: () => void = () => {};
  socket.on("data", (chunk: Buffer) => {
    let frames: Uint8Array[] = [];
    try {
      frames = replies.push(chunk);
    } catch {
      // a malformed reply stream: count as nothing answered
    }
    for (const frame of frames) {
      if (!gotConnectResponse) {
        gotConnectResponse = true;
        continue;
      }
      const xid = frame.byteLength >= 4 ? new DataView(frame.buffer, frame.byteOffset).getInt32(0) : NaN;
      const at = waiting.indexOf(xid);
      if (at >= 0) waiting.splice(at, 1);
    }
    changed();
  });
  socket.on("close", () => {
    closed = true;
    changed();
  });
  socket.on("error", () => {});
  await new Promise<void>((done) => socket.once("connect", done).once("error", () => done()));
  for (const chunk of p.chunks) {
    if (closed) break;
    socket.write(chunk);
    if (p.chunks.length > 1) await sleep(Math.floor(Math.random() * 3));
  }
  if (p.drop) {
    socket.destroy();
    return { plan: p, closed: true, answered: false, ms: Date.now() - started };
  }
  const answered = () => !due.mustClose && (!due.handshake || gotConnectResponse) && waiting.length === 0;
  const until = async (done: () => boolean, limitMs: number) => {
    const deadline = Date.now() + limitMs;
    while (!done() && Date.now() < deadline) {
      await Promise.race([new Promise<void>((wake) => (changed = wake)), sleep(Math.max(0, deadline - Date.now()))]);
    }
    return done();
  };
  let hung: string | undefined;
  if (!(await until(() => closed || answered(), ANSWER_LIMIT_MS))) {
    hung = due.mustClose
      ? `not closed within ${ANSWER_LIMIT_MS} ms after a frame the bridge must close on`
      : `neither closed nor answered within ${ANSWER_LIMIT_MS} ms (${waiting.length} of ${due.xids.length} requests unanswered: xids ${waiting.slice(0, 8).join(",")}${gotConnectResponse ? "" : ", no ConnectResponse"})`;
  } else if (p.awaitIdleClose && !closed) {
    const limit = gotConnectResponse ? FUZZ_TIMEOUT_MS + IDLE_CLOSE_SLACK_MS : SESSIONLESS_CLOSE_LIMIT_MS;
    if (!(await until(() => closed, limit))) {
      hung = gotConnectResponse
        ? `left open ${limit} ms after going silent with a session of ${FUZZ_TIMEOUT_MS} ms`
        : `left open ${limit} ms after going silent before its ConnectRequest was complete (ZooKeeper closes such a connection after 10 s)`;
    }
  }
  const result: Outcome = { plan: p, closed, answered: answered(), ms: Date.now() - started, ...(hung ? { hung } : {}) };
  socket.destroy();
  return result;
}

// ---- the test ----

it(`random and mutated frames never crash the bridge, never touch data outside /fuzz, and other sessions keep working (seed ${SEED})`, async () => {
  expect(zkPort).toBeGreaterThan(0);
  healthy = await nzc(zkPort, { sessionTimeout: 20_000 });
  healthy.addAuthInfo("digest", Buffer.from(KEEPER));
  for (const [path, data] of Object.entries(KNOWN)) await call((cb) => healthy.create(path, data, worldRead(), cb));
  await call((cb) => healthy.setData("/known/a", Buffer.from("alpha"), -1, cb));
  await call((cb) => healthy.setData("/known/a", KNOWN["/known/a"], 1, cb));
  await call((cb) => healthy.create("/fuzz", Buffer.from(""), worldAllButAdmin(), cb));
  await call((cb) => healthy.setACL("/", worldRead(), -1, cb));
  // The watch the healthy session keeps through the fuzz.
  let watchFired: (event: Any) => void = () => {};
  const fired = new Promise<Any>((done) => (watchFired = done));
  const [watchedData] = await call<[Buffer, Any]>((cb) => healthy.getData("/known/w", (event: Any) => watchFired(event), cb));
  expect(watchedData.toString()).toBe("watched");
  const before = await treeOutsideFuzz();
  expect(Object.keys(before)).toEqual(expect.arrayContaining(["/", ...Object.keys(KNOWN)]));

  // Reads by the healthy session all through the fuzz.
  let fuzzing = true;
  const reads = { ok: 0, failed: [] as string[], slowestMs: 0 };
  const reader = (async () => {
    while (fuzzing) {
      const started = Date.now();
      try {
        const [data] = await Promise.race([
          call<[Buffer, Any]>((cb) => healthy.getData("/known/a", cb)),
          sleep(10_000).then(() => {
            throw new Error("no answer in 10 s");
          }),
        ]);
        if (data.toString() !== "alpha") reads.failed.push(`read ${JSON.stringify(data.toString())}`);
        else reads.ok++;
      } catch (err) {
        reads.failed.push(`${(err as Error).message} after ${Date.now() - started} ms`);
      }
      reads.slowestMs = Math.max(reads.slowestMs, Date.now() - started);
      await sleep(200);
    }
  })();

  const started = Date.now();
  const random = rng(SEED);
  const plans = Array.from({ length: CONNECTIONS }, (_, i) => plan(random, i));
  const outcomes: Outcome[] = [];
  // Connections that wait to be closed for silence take no slot: they send nothing more.
  const silent = plans.filter((p) => p.awaitIdleClose);
  const busy = plans.filter((p) => !p.awaitIdleClose);
  let next = 0;
  await Promise.all([
    ...silent.map(async (p) => outcomes.push(await run(p))),
    ...Array.from({ length: PARALLEL }, async () => {
      while (next < busy.length) outcomes.push(await run(busy[next++]!));
    }),
  ]);
  fuzzing = false;
  await reader;
  const fuzzMs = Date.now() - started;

  const frames = plans.reduce((n, p) => n + owed(p.chunks).frames, 0);
  const bytes = plans.reduce((n, p) => n + p.chunks.reduce((m, c) => m + c.byteLength, 0), 0);
  const byKind = Object.fromEntries(KINDS.map((k) => [k, outcomes.filter((o) => o.plan.kind === k).length]));
  console.log(
    `bridge fuzz seed ${SEED}: ${plans.length} connections, ${frames} complete frames, ${bytes} bytes in ${fuzzMs} ms; ` +
      `${outcomes.filter((o) => o.closed).length} closed by the bridge or us, ${outcomes.filter((o) => o.answered).length} answered in full; ` +
      `${reads.ok} healthy reads (slowest ${reads.slowestMs} ms); kinds ${JSON.stringify(byKind)}`,
  );

  // Bad frames were caught as the codec's errors, never as anything else.
  const unexpected = server.output().split("\n").filter((line) => /unexpected error|uncaught|unhandled/i.test(line));
  expect.soft(unexpected, unexpected.join("\n")).toEqual([]);

  // The process is up and answers.
  expect(server.exited()).toBe(false);
  expect(await fourLetterWord(zkPort, "ruok")).toBe("imok");
  expect((await fetch(`${server.base}/healthz`)).ok).toBe(true);

  // Every connection ended: closed, or answered in full.
  const hangs = outcomes.filter((o) => o.hung).map((o) => `connection ${o.plan.index} (${o.plan.kind}, seed ${SEED}): ${o.hung}; sent ${hex(o.plan.chunks)}`);
  expect.soft(hangs, hangs.join("\n")).toEqual([]);

  // The healthy session worked throughout and still does.
  expect(reads.failed).toEqual([]);
  expect(reads.ok).toBeGreaterThan(0);

  // Nothing outside /fuzz changed: the known nodes hold their data, Stat and ACL, and no node appeared.
  const after = await treeOutsideFuzz();
  expect(after).toEqual(before);
  for (const [path, data] of Object.entries(KNOWN)) {
    const [now, stat] = await call<[Buffer, Any]>((cb) => healthy.getData(path, cb));
    expect(Buffer.compare(now, data), path).toBe(0);
    expect(stat.version, path).toBe(path === "/known/a" ? 2 : 0);
  }

  // Its watch, set before the fuzz, fires on the next change.
  const res = await fetch(`${server.base}/v1/znodes/known/w`, {
    method: "PUT",
    headers: { "X-Edgekeeper-Auth": `digest ${KEEPER}`, "Content-Type": "application/json" },
    body: JSON.stringify({ data: "changed" }),
  });
  expect(res.status, await res.text()).toBe(200);
  const event = await Promise.race([fired, sleep(10_000).then(() => undefined)]);
  expect(event?.getName()).toBe("NODE_DATA_CHANGED");
  expect(event?.getPath()).toBe("/known/w");
  expect(server.exited()).toBe(false);
});
