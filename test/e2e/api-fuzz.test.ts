/**
 * The HTTP API and the session socket under hostile input, end to end: one
 * `npm start`, a control session of the TypeScript client beside seeded random
 * HTTP requests (paths with encoded and dot segments and unicode; bodies that are
 * invalid JSON, invalid UTF-8, huge or deeply nested, sent by length or chunked;
 * auth, namespace, session, content-type, Host and Origin headers) on kept-alive
 * connections, and WebSocket session sockets (garbage, binary, oversized frames,
 * unknown ops, other sessions' ids). The process must stay up; every HTTP request
 * must get an answer (never a dropped connection, never a 5xx but the runtime's 501
 * to a method HTTP does not define, a 4xx of /v1 carrying a ZooKeeper error; a
 * problem is shown with the request before it on its connection); every socket must
 * get its answers or be closed; the control session must keep reading, and its watch
 * fire after; and no node outside /fuzz may change, in any namespace the fuzz names.
 *
 * Writes land under /fuzz by construction: the root and /known of each namespace
 * grant the world READ only (a digest the fuzz does not know holds ALL), /fuzz grants
 * everything but ADMIN, so the fuzz cannot lock itself out.
 *
 * Seeded: reproduce a run with EDGEKEEPER_FUZZ_SEED=<the printed seed>;
 * EDGEKEEPER_FUZZ_REQUESTS and EDGEKEEPER_FUZZ_SOCKETS set how many (default 400, 60).
 */
import { createHash } from "node:crypto";
import { Agent, type IncomingHttpHeaders, request as httpRequest } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type KeeperClient, type WatchEvent, connect } from "../../client/index.ts";
import { KEEPER_ERRORS } from "../../protocol/index.ts";
import { until } from "../harness/recipe-clients.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { treeOutside } from "../harness/tree-snapshot.ts";
import { fuzzSeed, mutate, rng } from "../jute/mutate.ts";

const SEED = fuzzSeed("EDGEKEEPER_FUZZ_SEED", "api");
const REQUESTS = Number(process.env.EDGEKEEPER_FUZZ_REQUESTS ?? 400);
const SOCKETS = Number(process.env.EDGEKEEPER_FUZZ_SOCKETS ?? 60);
const PARALLEL = 6;
/** No new request or socket is started after this long (the rest are counted as not run). */
const FUZZ_TIME_LIMIT_MS = 120_000;
/** How long an answer may take (a hang, not a speed limit); blocking reads get their wait on top. */
const ANSWER_LIMIT_MS = 15_000;
/** A request over the largest body (EDGEKEEPER_MAX_REQUEST_BYTES, 4 MiB) and a frame over the largest frame (EDGEKEEPER_MAX_FRAME_BYTES). */
const OVER_LIMIT_BYTES = 4 * 1024 * 1024 + 100;

const KEEPER = "keeper:" + Math.random().toString(36).slice(2);
const KEEPER_AUTH = `digest ${KEEPER}`;
const KEEPER_ID = `${KEEPER.split(":")[0]}:${createHash("sha1").update(KEEPER).digest("base64")}`;
const WORLD_READ = [
  { perms: "r", scheme: "world", id: "anyone" },
  { perms: "cdrwa", scheme: "digest", id: KEEPER_ID },
];
const WORLD_ALL_BUT_ADMIN = [
  { perms: "cdrw", scheme: "world", id: "anyone" },
  { perms: "cdrwa", scheme: "digest", id: KEEPER_ID },
];
/** The namespaces the fuzz names, each sandboxed; undefined sends no header ("default"). */
const MAIN = `fuzz-${process.pid}`;
const NAMESPACES = [MAIN, `fuzz-other-${process.pid}`, undefined];
const KNOWN: Record<string, string> = { "/known": "root of the known nodes", "/known/a": "alpha", "/known/b": "beta", "/known/w": "watched" };

let server: LocalServer;
let port: number;
let control: KeeperClient | undefined;
/** An HTTP session the fuzz owns (its header is a valid one to send). */
let ownSession = { id: 0, password: "" };

beforeAll(async () => {
  server = await startLocalServer();
  port = server.port;
});

afterAll(async () => {
  await control?.close().catch(() => undefined);
  await server?.stop();
});

// ---- set-up, as the keeper ----

async function keeper(method: string, path: string, namespace: string | undefined, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { "X-Edgekeeper-Auth": KEEPER_AUTH, "Content-Type": "application/json" };
  if (namespace) headers["X-Edgekeeper-Namespace"] = namespace;
  const res = await fetch(`${server.base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} (${namespace ?? "default"}): ${res.status} ${text}`);
  return JSON.parse(text);
}

async function sandbox(namespace: string | undefined): Promise<void> {
  for (const [path, data] of Object.entries(KNOWN)) await keeper("POST", `/v1/znodes${path}`, namespace, { data, acl: WORLD_READ });
  await keeper("POST", "/v1/znodes/fuzz", namespace, { acl: WORLD_ALL_BUT_ADMIN });
  await keeper("PUT", "/v1/znodes?view=acl", namespace, { acl: WORLD_READ });
}

const snapshot = () => Promise.all(NAMESPACES.map((namespace) => treeOutside(server.base, { sandbox: "/fuzz", auth: KEEPER_AUTH, ...(namespace ? { namespace } : {}) })));

// ---- what the fuzz sends over HTTP ----

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number) => random() < p;
const word = (random: Random) => Array.from({ length: 1 + Math.floor(random() * 8) }, () => pick(random, [..."abcxyz019-_"])).join("");

/** One path segment, raw as it goes on the request line. */
function segment(random: Random): string {
  return pick(random, [
    () => word(random),
    () => encodeURIComponent(pick(random, ["ü", "日本", "🙂", "\u200b", "a b", "é\u0301", "\ufeff"])),
    () => pick(random, ["%2e%2e", "%2E%2e", "%2e", "..", ".", "", "%00", "%01", "%2f", "%ff", "%c3", "%e2%82", "%", "%zz", "zookeeper", "%7f"]),
    () => "x".repeat(1 + Math.floor(random() * 5_000)),
  ])();
}

/** One path segment as a JSON body carries it (decoded). */
function decodedSegment(random: Random): string {
  return pick(random, [() => word(random), () => pick(random, ["ü", "日本", "🙂", "\u200b", "..", ".", "", "\u0000", "\u0001", "zookeeper", "a/b"]), () => "x".repeat(1 + Math.floor(random() * 5_000))])();
}

/** A path under /fuzz mostly, elsewhere now and then, of 0-2 more segments. */
function fuzzPath(random: Random, next: (random: Random) => string): string {
  const base = chance(random, 0.75) ? "/fuzz" : pick(random, ["", "/known", "/known/a", "/zookeeper", "/zookeeper/quota", "/nope"]);
  const segments = Array.from({ length: Math.floor(random() * 3) }, () => next(random));
  return [base, ...segments].join("/") + (chance(random, 0.05) ? "/" : "");
}
const znodePath = (random: Random) => fuzzPath(random, segment);

function data(random: Random): unknown {
  return pick(random, [() => word(random), () => "日本🙂\u0000", () => "", () => null, () => 42, () => "x".repeat(1024 * 1024 + 1), () => "not base64!"])();
}

function acl(random: Random): unknown {
  return pick(random, [
    [{ perms: 31, scheme: "world", id: "anyone" }],
    [],
    [{ perms: 999, scheme: "x", id: "" }],
    "cdrwa",
    [{ perms: "r", scheme: "digest", id: "a:b" }],
    [{ perms: "cdrwa", scheme: "auth", id: "" }],
    [{ perms: 31, scheme: "ip", id: "1.2.3.4/99" }],
    [{ perms: 1, scheme: "world", id: "anyone" }],
  ]);
}

const MODES = ["PERSISTENT", "EPHEMERAL", "PERSISTENT_SEQUENTIAL", "EPHEMERAL_SEQUENTIAL", "CONTAINER", "PERSISTENT_WITH_TTL", "BOGUS", 7, -1, 6];

/** A znode op as a multi, multi-read or session request carries it (paths mostly under /fuzz). */
function op(random: Random): Record<string, unknown> {
  const path = fuzzPath(random, decodedSegment);
  return pick(random, [
    () => ({ op: "create", path, data: data(random), mode: pick(random, MODES), ...(chance(random, 0.3) ? { acl: acl(random) } : {}), ...(chance(random, 0.2) ? { ttlMs: pick(random, [1, 0, -5, 2 ** 41]) } : {}) }),
    () => ({ op: "delete", path, version: pick(random, [-1, 0, 3, "x"]) }),
    () => ({ op: "setData", path, data: data(random), version: pick(random, [-1, 0, 2 ** 40]) }),
    () => ({ op: "check", path, version: pick(random, [0, -1, 1]) }),
    () => ({ op: "getData", path, watch: chance(random, 0.5) }),
    () => ({ op: "getChildren", path, watch: chance(random, 0.5) }),
    () => ({ op: "exists", path, watch: chance(random, 0.5) }),
    () => ({ op: "setACL", path, acl: acl(random), version: -1 }),
    () => ({ op: "addWatch", path, mode: pick(random, ["persistent", "recursive", "x"]) }),
    () => ({ op: "removeWatches", path, kind: pick(random, ["any", "data", "nope"]) }),
    () => ({ op: "addAuth", scheme: pick(random, ["digest", "ip", "super"]), credentials: pick(random, ["fuzz:pw", "", "super:nope"]) }),
    () => ({ op: "sync", path }),
    () => ({ op: pick(random, ["bogus", "", "__proto__", "constructor"]), path }),
    () => ({ op: "multi", ops: Array.from({ length: Math.floor(random() * 4) }, () => op(random)) }),
  ])();
}

/** A JSON body, then sometimes broken: invalid JSON or UTF-8, huge, deeply nested, not an object, mutated bytes. */
function body(random: Random, value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  return pick(random, [
    () => json,
    () => json,
    () => json,
    () => json.subarray(0, Math.floor(random() * json.length)),
    () => Buffer.concat([Buffer.from('{"data":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    () => Buffer.concat([Buffer.from('{"data":"'), Buffer.alloc(OVER_LIMIT_BYTES, "a"), Buffer.from('"}')]),
    () => Buffer.from(`{"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
    () => Buffer.from(pick(random, ["[]", "1", "null", '"x"', "", "{", '{"__proto__":{"admin":true}}', '{"data":"x","data":"y"}'])),
    () => Buffer.from(mutate(random, json)),
  ])();
}

interface HttpPlan {
  index: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The longest a blocking read may legitimately wait, in ms. */
  waitMs: number;
}

function httpPlan(random: Random, index: number): HttpPlan {
  const host = `127.0.0.1:${port}`;
  const headers: Record<string, string> = { Host: chance(random, 0.85) ? host : pick(random, [`localhost:${port}`, "evil.example", `127.0.0.1.evil.example:${port}`, `[::1]:${port}`, ""]) };
  const namespace = pick(random, [...NAMESPACES, MAIN, MAIN, "", "bad name!", "x".repeat(65), "..", "\u00fcber"]);
  if (namespace !== undefined) headers["X-Edgekeeper-Namespace"] = namespace;
  if (chance(random, 0.2)) headers.Origin = pick(random, [`http://${host}`, "https://evil.example", "null", `http://localhost:${port}`]);
  if (chance(random, 0.9)) headers["Content-Type"] = pick(random, ["application/json", "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json;;;"]);
  if (chance(random, 0.3)) headers["X-Edgekeeper-Auth"] = pick(random, ["digest fuzz:pw", "digest ", "digest a", "ip 1.2.3.4", "super", "digest super:wrong", `digest ${"x".repeat(5_000)}`]);
  if (chance(random, 0.1)) headers.Authorization = pick(random, ["Bearer x", "Basic Zm9v", "Bearer "]);
  if (chance(random, 0.25)) {
    headers["X-Edgekeeper-Session"] = pick(random, ["garbage", "1:pw", "0x:", `${ownSession.id}:${ownSession.password}`, `${ownSession.id}:wrong`, `${control?.sessionId}:wrong`, "-1:x", "99999999999999999999:x"]);
  }
  if (chance(random, 0.1)) headers["CF-Connecting-IP"] = pick(random, ["1.2.3.4", "::1", "garbage"]);
  if (chance(random, 0.1)) headers["If-Match"] = pick(random, ['"0"', "*", '"x"', 'W/"1"']);
  if (chance(random, 0.05)) headers["X-Edgekeeper-Cxid"] = pick(random, ["1", "-1", "x", "1e30"]);

  let waitMs = 0;
  const query = (entries: [string, string][]) => (entries.length ? `?${entries.map(([k, v]) => `${k}=${v}`).join("&")}` : "");
  const route = random();
  let method: string;
  let path: string;
  let value: unknown;
  if (route < 0.55) {
    method = pick(random, ["GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]);
    const q: [string, string][] = [];
    if (chance(random, 0.4)) q.push(["view", pick(random, ["data", "stat", "children", "count", "acl", "bogus", ""])]);
    if (chance(random, 0.2)) q.push(["encoding", pick(random, ["base64", "utf8", "hex"])]);
    if (chance(random, 0.15)) q.push(["version", pick(random, ["0", "-1", "x", "99999999999999999999"])]);
    if (chance(random, 0.15)) {
      q.push(["index", pick(random, ["0", "1", "-1", "x", "1e300"])]);
      if (chance(random, 0.9)) q.push(["wait", pick(random, ["0", "0.3", "1", "-1", "abc", "", "NaN", "Infinity", "1e-9"])]);
      waitMs = 61_000; // at most 60 s, the documented cap
    }
    path = `/v1/znodes${znodePath(random)}${query(q)}`;
    value = pick(random, [
      () => ({ data: data(random), encoding: pick(random, ["utf8", "base64", "hex"]), mode: pick(random, MODES), ...(chance(random, 0.3) ? { acl: acl(random) } : {}) }),
      () => ({ data: data(random), version: pick(random, [-1, 0, "x"]) }),
      () => ({ acl: acl(random), version: -1 }),
      () => ({}),
    ])();
  } else if (route < 0.6) {
    method = "GET";
    path = `/v1/events${znodePath(random)}${query([["scope", pick(random, ["subtree", "node", "children", "x"])], ["after", pick(random, ["0", "-1", "x", "1"])]])}`;
  } else if (route < 0.72) {
    method = pick(random, ["POST", "POST", "GET"]);
    path = pick(random, ["/v1/multi", "/v1/multi-read", "/v1/multi-read?encoding=base64"]);
    value = { ops: Array.from({ length: Math.floor(random() * 6) }, () => op(random)) };
  } else if (route < 0.82) {
    const id = pick(random, [String(ownSession.id), "1", "x", "0x1", String(control?.sessionId)]);
    [method, path] = pick(random, [
      ["POST", "/v1/sessions"],
      ["POST", `/v1/sessions/${id}/keepalive`],
      ["DELETE", `/v1/sessions/${id}`],
      ["GET", `/v1/ephemerals?prefix=${pick(random, ["/", "/fuzz", "", "x"])}`],
    ] as const);
    value = { timeoutMs: pick(random, [4_000, 0, -1, 2 ** 60, "x"]) };
  } else if (route < 0.84) {
    method = "GET";
    path = "/v1/admin/mounts";
  } else if (route < 0.9) {
    method = pick(random, ["GET", "POST", "PUT"]);
    path = pick(random, ["/v1/nope", "/v1", "/v1/", "/V1/znodes/fuzz", "/v1/znodes/fuzz?view=children&view=data", "/v1/sessions/socket"]);
    value = {};
  } else {
    method = pick(random, ["GET", "POST", "FOO"]);
    path = pick(random, ["/healthz", "/", "/ui/", "/nope", "/v1/znodes/fuzz/%2e%2e/%2e%2e/%2e%2e/healthz"]);
  }
  const plan: HttpPlan = { index, method, path, headers, waitMs };
  if (value !== undefined && method !== "HEAD") {
    plan.body = body(random, value);
    // Framed, as a body must be: node:http frames no body of a GET, DELETE or OPTIONS
    // by itself, and unframed bytes reach the server as the next request on the connection.
    if (chance(random, 0.2)) headers["Transfer-Encoding"] = "chunked";
    else headers["Content-Length"] = String(plan.body.length);
  }
  return plan;
}

// ---- sending it, and what every answer must be ----

/** Kept-alive connections, as browsers and clients use: a refusal must not leave one unusable. */
const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL });

interface HttpOutcome {
  plan: HttpPlan;
  /** The request sent before this one on the same kept-alive connection, if any: a problem often starts there. */
  previous?: HttpPlan;
  status?: number;
  problem?: string;
}

/** The last request sent on each connection. */
const lastSentOn = new WeakMap<Socket, HttpPlan>();

const shown = (p: HttpPlan) => `#${p.index} ${p.method} ${p.path.slice(0, 200)} headers ${JSON.stringify(p.headers).slice(0, 400)} body ${p.body ? `${p.body.length} bytes ${JSON.stringify(p.body.subarray(0, 120).toString("latin1"))}` : "none"}`;

/**
 * Methods HTTP defines; the runtime answers any other with 501 Not Implemented, as HTTP
 * says it should, before the Worker runs, and closes the connection (docs/api.md).
 */
const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

/** What is wrong with an answer, if anything. */
function judge(p: HttpPlan, status: number, headers: IncomingHttpHeaders, text: string): string | undefined {
  const contentType = String(headers["content-type"] ?? "");
  if (!HTTP_METHODS.has(p.method)) {
    return status === 501 && headers.connection === "close" ? undefined : `a method HTTP does not define answered ${status} (Connection: ${headers.connection}), not 501 and a closed connection`;
  }
  if (status >= 500) return `answered ${status}: ${text.slice(0, 300)}`;
  const route = new URL(p.path, "http://127.0.0.1").pathname;
  if (status < 400 || p.method === "HEAD" || !route.startsWith("/v1/")) return undefined;
  let name: string | undefined;
  let code: unknown;
  try {
    ({ name, code } = (JSON.parse(text) as { error: { name: string; code: number } }).error);
  } catch {
    return `answered ${status} without a JSON error (${contentType}): ${text.slice(0, 300)}`;
  }
  const known = KEEPER_ERRORS[name as keyof typeof KEEPER_ERRORS];
  // An unknown route or method is Unimplemented at 404 (the table's 400 is for an unknown op).
  const unknownEndpoint = name === "Unimplemented" && status === 404;
  if (!known || known.code !== code || (known.httpStatus !== status && !unknownEndpoint)) return `answered ${status} with ${JSON.stringify({ name, code })}, not a ZooKeeper error of that status`;
  return undefined;
}

function send(p: HttpPlan): Promise<HttpOutcome> {
  const limitMs = ANSWER_LIMIT_MS + p.waitMs;
  return new Promise((resolve) => {
    let settled = false;
    let previous: HttpPlan | undefined;
    const finish = (outcome: Omit<HttpOutcome, "plan">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ plan: p, ...(previous ? { previous } : {}), ...outcome });
    };
    const req = httpRequest({ host: "127.0.0.1", port, method: p.method, path: p.path, headers: p.headers, agent });
    req.on("socket", (socket) => {
      previous = lastSentOn.get(socket);
      lastSentOn.set(socket, p);
    });
    const timer = setTimeout(() => {
      finish({ problem: `no answer within ${limitMs} ms` });
      req.destroy();
    }, limitMs);
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const contentType = String(res.headers["content-type"] ?? "");
      if (contentType.startsWith("text/event-stream")) {
        // A stream that opened answers; the fuzz does not follow it.
        finish({ status, ...(status >= 300 ? { problem: `an event stream with status ${status}` } : {}) });
        res.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const problem = judge(p, status, res.headers, Buffer.concat(chunks).toString());
        finish({ status, ...(problem ? { problem } : {}) });
      });
      res.on("error", (error) => finish({ status, problem: `answer cut off: ${error.message}` }));
    });
    req.on("error", (error) => finish({ problem: `no answer: ${error.message}` }));
    req.end(p.body);
  });
}

// ---- what the fuzz sends over session sockets ----

/**
 * A message of the session protocol: mostly a request that names its session (so it
 * is answered on its own, whatever is wrong inside), now and then one that does not
 * (which closes the socket). `own` is the session the socket opened, when it has one.
 */
function message(random: Random, own: number | undefined, controlSid: number): unknown {
  const sid = pick(random, [own ?? 1, own ?? 1, own ?? 1, controlSid, 1, 0, -1]);
  const xid = 1 + Math.floor(random() * 100_000);
  if (chance(random, 0.9)) {
    return pick(random, [
      () => ({ t: "req", sid, xid, op: op(random) }),
      () => ({ t: "req", sid, xid, op: op(random) }),
      () => ({ t: "req", sid, xid, op: op(random) }),
      () => ({ t: "req", sid, xid: pick(random, [-1, 0, 2 ** 31]), op: op(random) }),
      () => ({ t: "connect", ref: Math.floor(random() * 1000), timeoutMs: pick(random, [4_000, 0, -1, 1e12, "x"]) }),
      () => ({ t: "connect", ref: Math.floor(random() * 1000), timeoutMs: 4_000, sessionId: pick(random, [controlSid, 1, -1]), password: pick(random, ["wrong", "", "AAAA"]) }),
    ])();
  }
  return pick(random, [
    { t: "req", sid: "x", xid },
    { t: "req", sid, xid: 1.5 },
    { t: "req", sid: 2 ** 53, xid },
    { t: pick(random, ["bogus", "", "res", "event", "ping"]), sid, xid },
    { sid: null },
    { t: "req" },
    { t: "connect" },
  ]);
}

type Frame = string | Uint8Array;

interface SocketPlan {
  index: number;
  query: string;
  headers: Record<string, string>;
  /** Open a session first (and use its id in requests). */
  session: boolean;
  /** Built once the socket's own session id is known. */
  frames: (own: number | undefined) => Frame[];
  /** A frame the docs say closes the socket (not JSON, binary, not an array of objects, over a limit). */
  mustClose: boolean;
}

function socketPlan(random: Random, index: number, controlSid: number): SocketPlan {
  const host = `127.0.0.1:${port}`;
  const params: [string, string][] = [];
  const namespace = pick(random, [MAIN, MAIN, MAIN, NAMESPACES[1]!, undefined, "bad name!", ""]);
  if (namespace !== undefined) params.push(["namespace", namespace]);
  if (chance(random, 0.15)) params.push(["host", pick(random, ["0", "1", "999", "-1", "x"])]);
  if (chance(random, 0.1)) params.push(["session", pick(random, [String(controlSid), "1", "x"])]);
  if (chance(random, 0.05)) params.push(["token", "nope"]);
  const headers: Record<string, string> = {};
  if (chance(random, 0.15)) headers.Origin = pick(random, [`http://${host}`, "https://evil.example", "null"]);
  if (chance(random, 0.1)) headers.Host = pick(random, ["evil.example", `localhost:${port}`]);
  const closing: (() => Frame)[] = [
    () => word(random),
    () => Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
    () => pick(random, ["{}", "1", '"x"', "null", "[1]", "[[]]", '[{"t":"ping"},null]']),
    () => "[" + "{},".repeat(1_000) + "{}]",
    () => `[{"t":"req","sid":1,"xid":1,"op":{"op":"create","path":"/fuzz/big","data":"${"A".repeat(OVER_LIMIT_BYTES)}"}}]`,
  ];
  const mustClose = chance(random, 0.25);
  const count = 1 + Math.floor(random() * 4);
  // Draw everything now, so that the plan depends on the seed only.
  const drawn = Array.from({ length: count }, () => {
    const seeds = Array.from({ length: 1 + Math.floor(random() * 5) }, () => random() * 2 ** 32);
    const mutated = chance(random, 0.08);
    return { seeds, mutated };
  });
  const closerFrame = mustClose ? pick(random, closing)() : undefined;
  const at = Math.floor(random() * (count + 1));
  const ping = chance(random, 0.2);
  const frames = (own: number | undefined): Frame[] => {
    const out: Frame[] = drawn.map(({ seeds, mutated }) => {
      const messages = seeds.map((s) => message(rng(s), own, controlSid));
      const text = JSON.stringify(messages);
      return mutated ? Buffer.from(mutate(rng(seeds[0]!), Buffer.from(text))).toString() : text;
    });
    if (closerFrame !== undefined) out.splice(at, 0, closerFrame);
    if (ping) out.push("ping");
    return out;
  };
  return { index, query: new URLSearchParams(params).toString(), headers, session: chance(random, 0.6), frames, mustClose };
}

interface SocketOutcome {
  plan: SocketPlan;
  closed?: number;
  problem?: string;
}

/** The request that must come back last: after every frame before it, or the socket must be closed. */
const PROBE = { t: "req", sid: 1, xid: 424242, op: { op: "sync", path: "/fuzz" } };

async function runSocket(p: SocketPlan): Promise<SocketOutcome> {
  const url = `ws://127.0.0.1:${port}/v1/sessions/socket?${p.query}`;
  // Node's WebSocket (undici) takes headers: Origin and Host as a page or a rebinding attack would send them.
  const ws = new WebSocket(url, { headers: p.headers } as unknown as string[]);
  const received: { t?: string; ref?: number; sid?: number; xid?: number; sessionId?: number }[] = [];
  let closed: number | undefined;
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string" || e.data === "pong") return;
    try {
      received.push(...(JSON.parse(e.data) as typeof received));
    } catch {
      received.push({ t: "unreadable" });
    }
  });
  ws.addEventListener("close", (e) => (closed = e.code));
  ws.addEventListener("error", () => {});
  const opened = await until(() => ws.readyState === WebSocket.OPEN || closed !== undefined, ANSWER_LIMIT_MS, "the upgrade").then(
    () => ws.readyState === WebSocket.OPEN,
    () => false,
  );
  if (!opened) return closed !== undefined ? { plan: p, closed } : { plan: p, problem: `the upgrade neither opened nor failed in ${ANSWER_LIMIT_MS} ms` };
  let own: number | undefined;
  const sendSafely = (frame: Frame) => {
    if (closed === undefined) ws.send(frame);
  };
  try {
    if (p.session) {
      sendSafely(JSON.stringify([{ t: "connect", ref: 777_777, timeoutMs: 4_000 }]));
      await until(() => closed !== undefined || received.some((m) => m.ref === 777_777), ANSWER_LIMIT_MS, "the connect's answer");
      own = received.find((m) => m.ref === 777_777 && m.t === "connected")?.sessionId;
    }
    for (const frame of p.frames(own)) sendSafely(frame);
    sendSafely(JSON.stringify([PROBE]));
    const probed = () => received.some((m) => m.t === "res" && m.sid === PROBE.sid && m.xid === PROBE.xid);
    await until(() => closed !== undefined || (!p.mustClose && probed()), ANSWER_LIMIT_MS, "an answer or a close");
    return closed !== undefined ? { plan: p, closed } : { plan: p };
  } catch (error) {
    const state = p.mustClose ? "still open after a frame that must close it" : "neither answered its last request nor closed";
    return { plan: p, problem: `${state}: ${(error as Error).message}` };
  } finally {
    ws.close();
  }
}

// ---- the test ----

it(`random HTTP requests and socket frames never take the server down, all get an answer, and nothing outside /fuzz changes (seed ${SEED})`, async () => {
  for (const namespace of NAMESPACES) await sandbox(namespace);
  ownSession = await (async () => {
    const opened = (await keeper("POST", "/v1/sessions", MAIN, { timeoutMs: 40_000 })) as { sessionId: number; password: string };
    return { id: opened.sessionId, password: opened.password };
  })();
  control = await connect({ servers: [server.base], namespace: MAIN, sessionTimeoutMs: 20_000 });
  const controlSid = control.sessionId!;
  let fire!: (event: WatchEvent) => void;
  const fired = new Promise<WatchEvent>((resolve) => (fire = resolve));
  const watched = await control.getData("/known/w", { watch: fire });
  expect(new TextDecoder().decode(watched.data)).toBe("watched");
  const before = await snapshot();

  // The control session reads all through the fuzz.
  let fuzzing = true;
  const reads = { ok: 0, failed: [] as string[] };
  const reader = (async () => {
    while (fuzzing) {
      try {
        const read = await Promise.race([control!.getData("/known/a"), sleep(10_000).then(() => Promise.reject(new Error("no answer in 10 s")))]);
        if (new TextDecoder().decode(read.data) === "alpha") reads.ok++;
        else reads.failed.push(`read ${JSON.stringify(new TextDecoder().decode(read.data))}`);
      } catch (error) {
        reads.failed.push((error as Error).message);
      }
      await sleep(200);
    }
  })();

  const random = rng(SEED);
  const httpPlans = Array.from({ length: REQUESTS }, (_, i) => httpPlan(random, i));
  const socketPlans = Array.from({ length: SOCKETS }, (_, i) => socketPlan(random, i, controlSid));
  const started = Date.now();
  const httpOutcomes: HttpOutcome[] = [];
  const socketOutcomes: SocketOutcome[] = [];
  const inTime = () => Date.now() - started < FUZZ_TIME_LIMIT_MS;
  let nextHttp = 0;
  let nextSocket = 0;
  await Promise.all([
    ...Array.from({ length: PARALLEL }, async () => {
      while (nextHttp < httpPlans.length && inTime()) httpOutcomes.push(await send(httpPlans[nextHttp++]!));
    }),
    ...Array.from({ length: 2 }, async () => {
      while (nextSocket < socketPlans.length && inTime()) socketOutcomes.push(await runSocket(socketPlans[nextSocket++]!));
    }),
  ]);
  fuzzing = false;
  await reader;
  agent.destroy();
  const statuses: Record<string, number> = {};
  for (const o of httpOutcomes) statuses[o.status ?? "none"] = (statuses[o.status ?? "none"] ?? 0) + 1;
  const closes: Record<string, number> = {};
  for (const o of socketOutcomes) closes[o.closed ?? "open"] = (closes[o.closed ?? "open"] ?? 0) + 1;
  console.log(
    `api fuzz seed ${SEED}: ${httpOutcomes.length} of ${REQUESTS} requests and ${socketOutcomes.length} of ${SOCKETS} sockets in ${Date.now() - started} ms; ` +
      `statuses ${JSON.stringify(statuses)}; sockets closed with ${JSON.stringify(closes)}; ${reads.ok} control reads`,
  );

  // Nothing the server logged was an uncaught error.
  const uncaught = server.output().split("\n").filter((line) => /uncaught|unhandled/i.test(line));
  expect.soft(uncaught, uncaught.join("\n")).toEqual([]);

  // The process is up and answers.
  expect(server.exited()).toBe(false);
  expect((await fetch(`${server.base}/healthz`)).ok).toBe(true);

  // Every request and socket got its answer (or, for a socket, a close).
  const httpProblems = httpOutcomes
    .filter((o) => o.problem)
    .map((o) => `${o.problem} (seed ${SEED}) ${shown(o.plan)}\n    after, on the same connection: ${o.previous ? shown(o.previous) : "none (a new connection)"}`);
  expect.soft(httpProblems, httpProblems.join("\n")).toEqual([]);
  const socketProblems = socketOutcomes.filter((o) => o.problem).map((o) => `socket #${o.plan.index} ?${o.plan.query} ${JSON.stringify(o.plan.headers)}: ${o.problem} (seed ${SEED})`);
  expect.soft(socketProblems, socketProblems.join("\n")).toEqual([]);

  // Nothing outside /fuzz changed, in any namespace the fuzz named.
  const after = await snapshot();
  for (const [i, namespace] of NAMESPACES.entries()) expect.soft(after[i], `namespace ${namespace ?? "default"}`).toEqual(before[i]);

  // The control session read throughout, and its watch fires after.
  expect(reads.failed).toEqual([]);
  expect(reads.ok).toBeGreaterThan(0);
  await keeper("PUT", "/v1/znodes/known/w", MAIN, { data: "changed" });
  const event = await Promise.race([fired, sleep(10_000).then(() => undefined)]);
  expect(event).toMatchObject({ type: "NodeDataChanged", path: "/known/w" });
  expect(server.exited()).toBe(false);
});
