/**
 * The clients of the replication chaos test (test/worker/replication-chaos.test.ts),
 * each recording what it saw in one History, as the simulator's checkers read it
 * (test/sim/history.ts): session clients on the socket, which resume on a new socket
 * with their bookmark and keep watches by the client library's WatchListeners, and
 * callers without a session, which carry the bookmark of their last answer. Both
 * retry as real clients do. Everything goes through SELF: the Worker as deployed.
 *
 * @example
 * const history = new History({ mount: "/m", mountShard, paths, persistentPaths });
 * const s = new SessionClient("s0", namespace, "weur", history);
 * await s.start();
 * await s.step(new Prng(1));
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { WatchListeners } from "../../client/core/watches.ts";
import { BOOKMARK_HEADER, CONSISTENCY_HEADER, encodeBookmark } from "../../protocol/index.ts";
import { REGION_HEADER } from "../../protocol/regions.ts";
import type { ServerMessage, SessionOp } from "../../protocol/session-protocol.ts";
import { NAMESPACE_HEADER } from "../../worker/app.ts";
import { SERVED_BY_HEADER } from "../../worker/middleware/read-consistency.ts";
import { INDEX_HEADER } from "../../worker/routes/znodes.ts";
import { describeCall } from "../sim/checkers/index.ts";
import type { Call, HistoryEntry, RegisterOp, RegisterState } from "../sim/history.ts";
import type { Prng } from "../sim/prng.ts";
import { type DataJson, znodeUrl } from "./http.ts";
import { MAX_TIMEOUT_MS } from "./sessions.ts";
import { sleep } from "./shard.ts";
import { type Res, SessionSocket, b64, unb64 } from "./socket.ts";

/** A request with no answer this long is taken as lost with its socket (which is reopened). */
const ANSWER_WITHIN_MS = 10_000;
/** How many times a request or a reconnect is tried before the test gives up. */
const MAX_ATTEMPTS = 100;

/** What the clients work on: paths on the root shard and on one mounted at `mount`. */
export interface Workload {
  mount: string;
  mountShard: string;
  /** Every client writes and reads these. */
  paths: string[];
  /** Each session keeps a persistent watch on each of these. */
  persistentPaths: string[];
}

/** One run's record: every call and one-shot watch, stamped by one logical clock. */
export class History {
  readonly entries: HistoryEntry[] = [];
  readonly workload: Workload;
  private clock = 0;
  private ids = 0;

  constructor(workload: Workload) {
    this.workload = workload;
  }

  tick(): number {
    return ++this.clock;
  }

  shardOf(path: string): string {
    return path === this.workload.mount || path.startsWith(`${this.workload.mount}/`) ? this.workload.mountShard : "root";
  }

  /** A call invoked now, with no answer yet (served by the leader unless an HTTP answer says otherwise: the socket does not say, and the checkers do not ask). */
  begin(session: number, op: RegisterOp): Call {
    const call: Call = { kind: "call", id: ++this.ids, session, shard: this.shardOf(op.path), op, mode: "sequential", servedBy: "leader", invokedAt: this.tick(), returnedAt: undefined, result: undefined };
    this.entries.push(call);
    return call;
  }

  calls(): Call[] {
    return this.entries.filter((e): e is Call => e.kind === "call");
  }
}

/** A persistent watch as one session saw it: where it was set, the state its first read showed, its events. */
export interface PersistentWatch {
  session: number;
  shard: string;
  path: string;
  /** The zxid of addWatch's answer: no event may be for a change at or below it (undefined: an earlier addWatch got no answer). */
  setZxid: number | undefined;
  /** The node as the first read after addWatch showed it. */
  base: { version: number; mzxid: number } | undefined;
  events: { zxid: number; at: number }[];
}

type Answer = { res: Res; at: number };

/** A client of the session socket, as client/ keeps one: resumes on a new socket with its bookmark, watches by WatchListeners. */
export class SessionClient {
  readonly persistent: PersistentWatch[] = [];
  /** What it sent and took, stamped: printed when a check fails, since timing does not replay. */
  readonly trace: string[] = [];
  reconnects = 0;
  expirations = 0;
  sessionId = 0;
  private password = "";
  private socket!: SessionSocket;
  private cursor = 0;
  private xid = 0;
  private writes = 0;
  /** A new session needs its persistent watches set. */
  private fresh = true;
  private ended: string | undefined;
  /** The stamp of the message being taken. */
  private now = 0;
  private readonly bookmark = new Map<string, number>();
  private readonly answers = new Map<number, Answer>();
  /** Run as a request's answer is taken, before any message after it (as the client library does). */
  private readonly onAnswer = new Map<number, (res: Res, at: number) => void>();
  private listeners = new WatchListeners();
  readonly label: string;
  private readonly namespace: string;
  private readonly region: string;
  private readonly history: History;

  constructor(label: string, namespace: string, region: string, history: History) {
    this.label = label;
    this.namespace = namespace;
    this.region = region;
    this.history = history;
  }

  async start(): Promise<void> {
    const socket = await this.openSocket({});
    const m = await socket.connect(MAX_TIMEOUT_MS);
    if (m.t !== "connected") expect.fail(`${this.label} connect: ${JSON.stringify(m)}`);
    this.use(socket, m);
  }

  /** One random step of the load. */
  async step(prng: Prng): Promise<void> {
    if (this.fresh) await this.setUp();
    const path = prng.pick(this.history.workload.paths);
    const roll = prng.next();
    if (roll < 0.4) await this.write(path);
    // One one-shot watch per path at a time, as a client holds one per path.
    else if (roll < 0.7 && !this.listeners.has("data", path)) await this.read(path, true);
    else await this.read(path, false);
  }

  async write(path: string): Promise<void> {
    const value = `${this.label}-${++this.writes}`;
    const call = this.history.begin(this.sessionId, { type: "set", path, value, expectedVersion: -1 });
    this.record(call, await this.request({ op: "setData", path, data: b64(value) }), (v) => ({ exists: true, value, version: v.stat.version, mzxid: v.stat.mzxid }));
  }

  async read(path: string, watch: boolean): Promise<Call> {
    const session = this.sessionId;
    const call = this.history.begin(session, { type: "read", path });
    let hook: ((res: Res, at: number) => void) | undefined;
    let unanswered = (): void => undefined;
    if (watch) {
      // The listener is added before the read is sent, and the watch held from its answer
      // on (set as the answer is taken), as the client library does: a one-shot event
      // heard before it is dropped (client/core/watches.ts).
      const listener = (ev: { zxid: number }) => {
        this.history.entries.push({ kind: "watch-fired", session, shard: call.shard, path, setBy: call.id, zxid: ev.zxid, at: this.now });
      };
      this.listeners.add("data", path, listener);
      // No answer (the socket broke): the watch is not held, as the client library fails the read with ConnectionLoss.
      unanswered = () => void this.listeners.remove("data", path, listener);
      hook = (res, at) => {
        if (!res.ok) return void this.listeners.remove("data", path, listener);
        this.listeners.set("data", path);
        this.history.entries.push({ kind: "watch-set", session, shard: call.shard, path, setBy: call.id, zxid: res.zxid, at });
      };
    }
    const answer = await this.request({ op: "getData", path, watch }, hook);
    if (!answer) unanswered();
    this.record(call, answer, (v) => ({ exists: true, value: unb64(v.data), version: v.stat.version, mzxid: v.stat.mzxid }));
    return call;
  }

  /** After the load: sync each shard, then read every persistent watch's path (its events must come first). */
  async settle(): Promise<void> {
    for (const path of ["/", this.history.workload.mount]) await this.untilAnswered(`sync ${path}`, async () => (await this.request({ op: "sync", path }))?.res.ok === true);
    for (const path of this.history.workload.persistentPaths) await this.untilAnswered(`read ${path}`, async () => (await this.read(path, false)).result !== undefined);
  }

  /** The persistent watches of the session that is live now (those of expired ones end with them). */
  livePersistent(): PersistentWatch[] {
    return this.persistent.filter((w) => w.session === this.sessionId);
  }

  /** Sets the new session's persistent watches, each followed by a read of its path (a new session after an expiry starts again). */
  private async setUp(): Promise<void> {
    this.fresh = false;
    const session = this.sessionId;
    for (const path of this.history.workload.persistentPaths) {
      // Recorded before it is sent: an addWatch whose answer was lost may be set, and fire, all the same.
      const watch: PersistentWatch = { session, shard: this.history.shardOf(path), path, setZxid: undefined, base: undefined, events: [] };
      this.persistent.push(watch);
      let attempts = 0;
      await this.untilAnswered(`addWatch ${path}`, async () => {
        const set = await this.request({ op: "addWatch", path, mode: "persistent" });
        if (set?.res.ok && attempts++ === 0) watch.setZxid = set.res.zxid;
        return set?.res.ok === true || this.sessionId !== session;
      });
      await this.untilAnswered(`read ${path}`, async () => {
        const read = await this.read(path, false);
        if (read.result?.ok && read.result.state.exists) watch.base = { version: read.result.state.version, mzxid: read.result.state.mzxid };
        return read.result !== undefined || this.sessionId !== session;
      });
      if (this.sessionId !== session) return;
    }
  }

  /** Runs `attempt` until it says done, at most MAX_ATTEMPTS times. */
  private async untilAnswered(what: string, attempt: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) if (await attempt()) return;
    expect.fail(`${this.label}: ${what} not answered in ${MAX_ATTEMPTS} attempts`);
  }

  private record(call: Call, answer: Answer | undefined, stateOf: (value: any) => RegisterState): void {
    if (!answer) return; // no answer reached the client: it counts for nothing
    const { res, at } = answer;
    if (!res.ok) return; // paths are never deleted: an error (ConnectionLoss) is no answer
    if (res.shard !== call.shard) expect.fail(`${describeCall(call)} answered by shard ${res.shard}`);
    call.returnedAt = at;
    call.result = { ok: true, state: stateOf(res.value), zxid: res.zxid };
  }

  private async request(op: SessionOp, onAnswer?: (res: Res, at: number) => void): Promise<Answer | undefined> {
    const xid = ++this.xid;
    if (onAnswer) this.onAnswer.set(xid, onAnswer);
    this.trace.push(`${this.history.tick()} out ${JSON.stringify({ sid: this.sessionId, xid, op })}`);
    try {
      this.socket.send([{ t: "req", sid: this.sessionId, xid, op }]);
    } catch {
      // closed: no answer, found below
    }
    const until = Date.now() + ANSWER_WITHIN_MS;
    for (;;) {
      this.take();
      const answer = this.answers.get(xid);
      if (answer) {
        this.answers.delete(xid);
        return answer;
      }
      if (this.socket.closed || this.ended || Date.now() > until) {
        this.onAnswer.delete(xid);
        await this.resume();
        return undefined;
      }
      await sleep(5);
    }
  }

  /** Takes the socket's new messages in arrival order, each stamped by the history's clock. */
  private take(): void {
    const log = this.socket.log;
    for (; this.cursor < log.length; this.cursor++) {
      const m = log[this.cursor]!;
      if (m === "pong" || !("sid" in m) || m.sid !== this.sessionId) continue;
      this.now = this.history.tick();
      this.trace.push(`${this.now} in ${JSON.stringify(m)}`);
      if (m.t === "closed") this.ended = m.reason;
      if (m.t !== "res" && m.t !== "event") continue;
      if (m.shard !== undefined) this.bookmark.set(m.shard, Math.max(this.bookmark.get(m.shard) ?? 0, m.zxid));
      if (m.t === "res") {
        this.answers.set(m.xid, { res: m, at: this.now });
        this.onAnswer.get(m.xid)?.(m, this.now);
        this.onAnswer.delete(m.xid);
      } else if (m.kind === "persistent") {
        const watch = this.persistent.find((w) => w.session === this.sessionId && w.path === m.watchPath);
        if (!watch) expect.fail(`${this.label}: a persistent event on ${m.watchPath}, which it never watched`);
        watch.events.push({ zxid: m.zxid, at: this.now });
      } else {
        this.listeners.dispatch({ type: m.event, path: m.path, zxid: m.zxid, kind: m.kind, watchPath: m.watchPath });
      }
    }
  }

  /** Reopens the socket and resumes the session with the client's bookmark; an expired one is replaced by a new session. */
  private async resume(): Promise<void> {
    this.socket.drop();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const reply = await this.reconnect().catch(() => undefined); // the host is restarting: try again
      if (reply?.m.t === "connected") {
        this.reconnects++;
        this.trace.push(`${this.history.tick()} resumed ${JSON.stringify(reply.m)}`);
        return this.use(reply.socket, reply.m);
      }
      if (reply?.m.t === "refused") expect.fail(`${this.label} resume refused: ${JSON.stringify(reply.m)}`);
      reply?.socket.drop();
      await sleep(50);
    }
    expect.fail(`${this.label}: no reconnect in ${MAX_ATTEMPTS} attempts`);
  }

  /** One attempt to resume on a new socket; an expired session is replaced by a new one there. */
  private async reconnect(): Promise<{ socket: SessionSocket; m: ServerMessage }> {
    const socket = await this.openSocket({ session: String(this.sessionId) });
    const bookmark = encodeBookmark({ namespace: this.namespace, shards: this.bookmark });
    const m = await socket.connect(MAX_TIMEOUT_MS, { sessionId: this.sessionId, password: this.password, bookmark } as never);
    if (m.t !== "expired") return { socket, m };
    this.expirations++;
    this.listeners.clear("expired");
    this.listeners = new WatchListeners();
    this.fresh = true;
    return { socket, m: await socket.connect(MAX_TIMEOUT_MS, { bookmark } as never) };
  }

  private use(socket: SessionSocket, m: { sessionId: number; password: string }): void {
    this.socket = socket.keepAlive(400);
    this.cursor = 0;
    this.ended = undefined;
    this.sessionId = m.sessionId;
    this.password = m.password;
  }

  private openSocket(query: Record<string, string>): Promise<SessionSocket> {
    return SessionSocket.open(this.namespace, query, { [REGION_HEADER]: this.region });
  }
}

/** A caller without a session: carries the bookmark of its last answer, sends a request again when its connection broke. */
export class HttpCaller {
  servedByReplica = 0;
  private bookmark: string | undefined;
  private writes = 0;
  readonly label: string;
  /** Its identity in the history (negative: no session id is). */
  private readonly id: number;
  private readonly namespace: string;
  private readonly region: string;
  private readonly history: History;

  constructor(label: string, id: number, namespace: string, region: string, history: History) {
    this.label = label;
    this.id = id;
    this.namespace = namespace;
    this.region = region;
    this.history = history;
  }

  async step(prng: Prng): Promise<void> {
    const path = prng.pick(this.history.workload.paths);
    const roll = prng.next();
    if (roll < 0.4) await this.write(path);
    else if (roll < 0.85) await this.read(path);
    else await this.boundedRead(path);
  }

  async write(path: string): Promise<void> {
    const value = `${this.label}-${++this.writes}`;
    const call = this.history.begin(this.id, { type: "set", path, value, expectedVersion: -1 });
    const res = await this.send("PUT", path, {}, { data: value });
    if (res.status !== 200) expect.fail(`${describeCall(call)}: ${res.status} ${await res.text()}`);
    const { stat } = await res.json<{ stat: { version: number; mzxid: number } }>();
    call.returnedAt = this.history.tick();
    call.result = { ok: true, state: { exists: true, value, version: stat.version, mzxid: stat.mzxid }, zxid: stat.mzxid };
  }

  /** A sequential read (the default), held to the session guarantees through the bookmark. */
  async read(path: string): Promise<void> {
    const call = this.history.begin(this.id, { type: "read", path });
    const res = await this.send("GET", path);
    if (res.status !== 200) expect.fail(`${describeCall(call)}: ${res.status} ${await res.text()}`);
    const body = await res.json<DataJson>();
    call.returnedAt = this.history.tick();
    call.servedBy = this.servedBy(res);
    const index = res.headers.get(INDEX_HEADER);
    if (index === null) expect.fail(`${describeCall(call)}: no ${INDEX_HEADER}`);
    call.result = { ok: true, state: { exists: true, value: body.data, version: body.stat.version, mzxid: body.stat.mzxid }, zxid: Number(index) };
  }

  /** A bounded read may go back in time (docs/consistency.md): it must answer, and is held to nothing else. */
  async boundedRead(path: string): Promise<void> {
    const res = await this.send("GET", path, { [CONSISTENCY_HEADER]: "bounded=1000" });
    if (res.status !== 200) expect.fail(`bounded read of ${path}: ${res.status} ${await res.text()}`);
    this.servedBy(res);
    await res.body?.cancel();
  }

  private servedBy(res: Response): "leader" | "replica" {
    const replica = res.headers.get(SERVED_BY_HEADER)?.endsWith("/replica") === true;
    if (replica) this.servedByReplica++;
    return replica ? "replica" : "leader";
  }

  private async send(method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Response> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const request = new Request(znodeUrl(path), {
        method,
        headers: {
          [NAMESPACE_HEADER]: this.namespace,
          [REGION_HEADER]: this.region,
          ...(this.bookmark ? { [BOOKMARK_HEADER]: this.bookmark } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      try {
        const res = await SELF.fetch(request);
        if (res.status < 500) {
          this.bookmark = res.headers.get(BOOKMARK_HEADER) ?? this.bookmark;
          return res;
        }
        await res.body?.cancel();
      } catch {
        // the connection broke (an object aborted under it): send it again
      }
      await sleep(50);
    }
    return expect.fail(`${this.label}: ${method} ${path} failed ${MAX_ATTEMPTS} times`);
  }
}
