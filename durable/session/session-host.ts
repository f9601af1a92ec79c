/**
 * SessionHost: hosts many sessions of one namespace as SQLite rows, as a
 * ZooKeeper server does (an object per session measured 345 KB and 5 file
 * descriptors each locally). It negotiates timeouts, runs each session's requests
 * in order (FIFO, also across shards), numbers its requests (cxid) so a retried
 * write applies once, records which shards may hold the session's ephemeral nodes
 * before it sends a create there, and expires sessions with one alarm set to the
 * earliest deadline.
 */
import { DurableObject } from "cloudflare:workers";
import { type Caller, type Id, KeeperError, type KeeperErrorBody, type Outcome, type ShardRequest, parseCreateMode } from "../../protocol/index.ts";
import type { Mount } from "../directory/mount-table.ts";
import { ShardRouter } from "../directory/shard-router.ts";
import type { EdgekeeperEnv } from "../env.ts";
import { isHostNumber, makeSessionId, negotiateTimeout, sessionIdHex } from "./session-ids.ts";

/** What a client learns when it opens or keeps alive a session. */
export interface SessionGrant {
  sessionId: number;
  password: string;
  timeoutMs: number;
}

export type SessionOutcome<T> = { ok: true; value: T } | { ok: false; error: KeeperErrorBody };

/** The host's RPC surface as callers use it (Outcome's `unknown` value defeats Rpc's inference). */
export interface SessionHostApi {
  open(namespace: string, hostNumber: number, requestedTimeoutMs: number): Promise<SessionGrant>;
  keepAlive(sessionId: number, password: string): Promise<SessionOutcome<SessionGrant>>;
  close(sessionId: number, password: string): Promise<SessionOutcome<{ closed: true }>>;
  execute(sessionId: number, password: string, ids: Id[], requests: ShardRequest[]): Promise<SessionOutcome<Outcome[]>>;
}

/** ZooKeeper's tickTime: granted timeouts lie in [2, 20] ticks. */
export const DEFAULT_TICK_MS = 2_000;
/** A session left closing (its shards not all reached) is retried by the alarm this soon. */
const CLOSE_RETRY_MS = 1_000;
/** Attempts of one shard call that failed with an error the platform marks retryable. */
const SHARD_ATTEMPTS = 3;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID`,
  // state: open, or closing (its ephemerals are being deleted; it takes no more
  // requests). deadline: when an open session expires, or when the alarm retries a
  // closing one. cxid: the session's last request number.
  `CREATE TABLE IF NOT EXISTS sessions (
     id INTEGER PRIMARY KEY,
     password TEXT NOT NULL,
     timeout_ms INTEGER NOT NULL,
     deadline INTEGER NOT NULL,
     cxid INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL DEFAULT 'open'
   )`,
  `CREATE INDEX IF NOT EXISTS sessions_by_deadline ON sessions (deadline)`,
  // Shards that may hold a session's ephemerals: written before a create is sent there.
  `CREATE TABLE IF NOT EXISTS session_shards (
     session_id INTEGER NOT NULL,
     shard TEXT NOT NULL,
     root TEXT NOT NULL,
     PRIMARY KEY (session_id, shard)
   ) WITHOUT ROWID`,
];

interface SessionRow {
  password: string;
  timeout_ms: number;
  deadline: number;
  cxid: number;
  state: string;
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Compares in time independent of where the strings differ. */
function samePassword(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

/** Whether a request may create an ephemeral node (so its shard must be recorded first). */
function mayCreateEphemeral(request: ShardRequest): boolean {
  const creates = request.op === "create" ? [request] : request.op === "multi" && Array.isArray(request.ops) ? request.ops.filter((op) => op.op === "create") : [];
  return creates.some((op) => {
    try {
      return parseCreateMode(op.mode).startsWith("EPHEMERAL");
    } catch {
      return false; // the shard refuses the mode itself
    }
  });
}

/** An RPC failure the platform says may be retried (never one of an overloaded object). */
function isRetryable(err: unknown): boolean {
  const flags = err as { retryable?: unknown; overloaded?: unknown } | null;
  return typeof flags === "object" && flags !== null && flags.retryable === true && flags.overloaded !== true;
}

function expired(sessionId: number): KeeperError {
  return new KeeperError("SessionExpired", `session ${sessionIdHex(sessionId)} has expired or was closed`);
}

export class SessionHost extends DurableObject<EdgekeeperEnv> {
  private readonly sql: SqlStorage;
  private readonly tickMs: number;
  /** The tail of each session's request pipeline: its requests run one after another. */
  private readonly pipelines = new Map<number, Promise<unknown>>();

  constructor(ctx: DurableObjectState, env: EdgekeeperEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    const tick = Number(env.EDGEKEEPER_TICK_MS);
    this.tickMs = Number.isFinite(tick) && tick > 0 ? tick : DEFAULT_TICK_MS;
    void ctx.blockConcurrencyWhile(async () => {
      for (const statement of SCHEMA) this.sql.exec(statement);
    });
  }

  private meta(key: string): string | number | undefined {
    return this.sql.exec<{ value: string | number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  private router(): ShardRouter {
    const namespace = this.meta("namespace");
    if (typeof namespace !== "string") throw new KeeperError("SystemError", "session host has no namespace");
    return new ShardRouter(this.env, namespace);
  }

  /**
   * Opens a session with a timeout negotiated into [2, 20] x tick, as ZooKeeper does.
   *
   * @example
   * const grant = await host.open("default", 0, 10_000); // { sessionId, password, timeoutMs }
   */
  async open(namespace: string, hostNumber: number, requestedTimeoutMs: number): Promise<SessionGrant> {
    if (!isHostNumber(hostNumber)) throw new KeeperError("BadArguments", `no session host ${hostNumber}`);
    const timeoutMs = negotiateTimeout(requestedTimeoutMs, 2 * this.tickMs, 20 * this.tickMs);
    const password = randomPassword();
    const sessionId = this.ctx.storage.transactionSync(() => {
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('namespace', ?)", namespace);
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('counter', 0)");
      const stored = this.meta("namespace");
      if (stored !== namespace) throw new KeeperError("SystemError", `session host of namespace ${String(stored)} asked to open a session of ${namespace}`);
      const counter = this.sql.exec<{ value: number }>("UPDATE meta SET value = value + 1 WHERE key = 'counter' RETURNING value").one().value;
      const id = makeSessionId(hostNumber, counter);
      this.sql.exec("INSERT INTO sessions (id, password, timeout_ms, deadline) VALUES (?, ?, ?, ?)", id, password, timeoutMs, Date.now() + timeoutMs);
      return id;
    });
    await this.scheduleExpiry();
    return { sessionId, password, timeoutMs };
  }

  private row(sessionId: number): SessionRow | undefined {
    return this.sql
      .exec<{ password: string; timeout_ms: number; deadline: number; cxid: number; state: string }>(
        "SELECT password, timeout_ms, deadline, cxid, state FROM sessions WHERE id = ?",
        sessionId,
      )
      .toArray()[0];
  }

  /**
   * The session, if it is open and its deadline has not passed (an alarm that is
   * late does not revive it): SessionExpired otherwise.
   */
  private requireOpen(sessionId: number): SessionRow {
    const row = this.row(sessionId);
    if (!row || row.state !== "open" || row.deadline < Date.now()) throw expired(sessionId);
    return row;
  }

  /** The open session with this id and password: SessionExpired, or AuthFailed on a wrong password (the session is not touched). */
  private authenticate(sessionId: number, password: string): SessionRow {
    const row = this.requireOpen(sessionId);
    if (typeof password !== "string" || !samePassword(row.password, password)) throw new KeeperError("AuthFailed", "wrong session password");
    return row;
  }

  private touch(sessionId: number, timeoutMs: number): void {
    this.sql.exec("UPDATE sessions SET deadline = ? WHERE id = ? AND state = 'open'", Date.now() + timeoutMs, sessionId);
  }

  /** Extends the session's life by its timeout from now. Not queued behind the session's requests. */
  async keepAlive(sessionId: number, password: string): Promise<SessionOutcome<SessionGrant>> {
    return answer(async () => {
      const { timeout_ms: timeoutMs } = this.authenticate(sessionId, password);
      this.touch(sessionId, timeoutMs);
      return { sessionId, password, timeoutMs };
    });
  }

  /**
   * Closes the session after its requests still running: its ephemeral nodes go, on
   * every shard, exactly once. The session is marked closing first, with the alarm
   * set to retry, so a close interrupted midway is finished by the alarm.
   */
  async close(sessionId: number, password: string): Promise<SessionOutcome<{ closed: true }>> {
    return this.enqueue(sessionId, async () => {
      this.authenticate(sessionId, password);
      this.sql.exec("UPDATE sessions SET state = 'closing', deadline = ? WHERE id = ?", Date.now() + CLOSE_RETRY_MS, sessionId);
      await this.scheduleExpiry();
      await this.finish(sessionId);
      return { closed: true as const };
    });
  }

  /**
   * Runs a session's requests in order, after any requests of the same session
   * still running, and answers each. `ids` are the caller's ACL identities. A
   * request may carry its own cxid (a client retrying a write whose answer it lost
   * sends the same cxid, and the shard answers with the stored reply); others get the
   * session's next cxid.
   */
  async execute(sessionId: number, password: string, ids: Id[], requests: ShardRequest[]): Promise<SessionOutcome<Outcome[]>> {
    return this.enqueue(sessionId, async () => {
      const { timeout_ms: timeoutMs } = this.authenticate(sessionId, password);
      this.touch(sessionId, timeoutMs);
      const router = this.router();
      const outcomes: Outcome[] = [];
      for (const request of requests) outcomes.push(await this.executeOne(router, { sessionId, ids }, request));
      return outcomes;
    });
  }

  /** Runs `fn` after the session's earlier requests, and answers KeeperErrors as outcomes. */
  private enqueue<T>(sessionId: number, fn: () => Promise<T>): Promise<SessionOutcome<T>> {
    const previous = this.pipelines.get(sessionId) ?? Promise.resolve();
    const run = previous.then(() => answer(fn));
    const tail = run.catch(() => undefined);
    this.pipelines.set(sessionId, tail);
    void tail.then(() => {
      if (this.pipelines.get(sessionId) === tail) this.pipelines.delete(sessionId);
    });
    return run;
  }

  private async executeOne(router: ShardRouter, caller: Caller, request: ShardRequest): Promise<Outcome> {
    const { sessionId } = caller;
    try {
      const stamped = { ...request, cxid: this.nextCxid(sessionId, request.cxid) };
      if (request.op === "getEphemerals") return await this.ephemerals(router, caller, request.prefix);
      const ephemeral = mayCreateEphemeral(request);
      // Synchronously before each send (there is no await in between): the session must
      // still be open, and a shard that may get an ephemeral is recorded, so the close
      // that marks the session closing and then reads the shards cannot miss it. A create
      // still in flight when that close reaches the shard is refused there.
      const beforeSend = (mount: Mount): void => {
        this.requireOpen(sessionId);
        if (ephemeral) this.sql.exec("INSERT OR IGNORE INTO session_shards (session_id, shard, root) VALUES (?, ?, ?)", sessionId, mount.shard, mount.prefix);
      };
      for (let attempt = 1; ; attempt++) {
        try {
          return await router.execute(caller, stamped, beforeSend);
        } catch (err) {
          // The same cxid again: if the write was applied, the shard answers with its stored reply.
          if (attempt >= SHARD_ATTEMPTS || !isRetryable(err)) throw err;
        }
      }
    } catch (err) {
      // zxid 0: this request reached no shard.
      if (err instanceof KeeperError) return { ok: false, zxid: 0, error: err.toBody() };
      throw err;
    }
  }

  /** The cxid of a session's next request: the client's own (a retry, or ahead), or the next one. */
  private nextCxid(sessionId: number, given: number | undefined): number {
    const row = this.requireOpen(sessionId);
    if (given === undefined) {
      return this.sql.exec<{ cxid: number }>("UPDATE sessions SET cxid = cxid + 1 WHERE id = ? RETURNING cxid", sessionId).one().cxid;
    }
    if (!Number.isSafeInteger(given) || given <= 0) throw new KeeperError("BadArguments", "a cxid is a positive integer");
    if (given > row.cxid) this.sql.exec("UPDATE sessions SET cxid = ? WHERE id = ?", given, sessionId);
    return given;
  }

  /** The session's ephemerals under `prefix`, from every shard that may hold one. */
  private async ephemerals(router: ShardRouter, caller: Caller, prefix: string): Promise<Outcome<{ paths: string[] }>> {
    const shards = this.sql.exec<{ shard: string; root: string }>("SELECT shard, root FROM session_shards WHERE session_id = ?", caller.sessionId).toArray();
    const paths: string[] = [];
    let zxid = 0;
    for (const { shard, root } of shards) {
      const [outcome] = await router.executeOn({ shard, prefix: root }, caller, [{ op: "getEphemerals", prefix }]);
      if (!outcome) throw new KeeperError("SystemError", "shard returned no outcome");
      if (!outcome.ok) return outcome;
      paths.push(...(outcome.value as { paths: string[] }).paths);
      // zxids of different shards are not comparable: one is reported only when one shard answered.
      zxid = shards.length === 1 ? outcome.zxid : 0;
    }
    return { ok: true, zxid, value: { paths: paths.sort() } };
  }

  /**
   * Expires every session whose deadline has passed, and finishes closes left
   * midway; then sets the alarm for the next deadline.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.sql.exec<{ id: number }>("SELECT id FROM sessions WHERE deadline <= ? ORDER BY deadline", now).toArray();
    for (const { id } of due) {
      // Marked before any shard is asked, with a retry time: an interrupted expiry is finished by a later alarm.
      this.sql.exec("UPDATE sessions SET state = 'closing', deadline = ? WHERE id = ?", now + CLOSE_RETRY_MS, id);
      try {
        await this.finish(id);
      } catch (err) {
        console.error(`session ${sessionIdHex(id)}: expiry will be retried`, err);
      }
    }
    await this.scheduleExpiry(true);
  }

  /**
   * Deletes a closing session's ephemerals on every shard that may hold one, then
   * the session. Each step is idempotent (a shard's closeSession finds nothing the
   * second time), so an object restart midway repeats the rest safely.
   */
  private async finish(sessionId: number): Promise<void> {
    const shards = this.sql.exec<{ shard: string; root: string }>("SELECT shard, root FROM session_shards WHERE session_id = ?", sessionId).toArray();
    if (shards.length > 0) {
      const router = this.router();
      for (const { shard, root } of shards) {
        await router.closeSession({ shard, prefix: root }, sessionId);
        this.sql.exec("DELETE FROM session_shards WHERE session_id = ? AND shard = ?", sessionId, shard);
      }
    }
    this.sql.exec("DELETE FROM sessions WHERE id = ?", sessionId);
  }

  /**
   * Sets the one alarm to the earliest deadline, if sooner than the alarm set.
   * `replace`: set it whatever is set (from the alarm handler, whose own alarm is spent).
   */
  private async scheduleExpiry(replace = false): Promise<void> {
    const next = this.sql.exec<{ t: number | null }>("SELECT min(deadline) AS t FROM sessions").one().t;
    if (next === null) {
      if (replace) await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.max(next, Date.now());
    const current = replace ? null : await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }
}

async function answer<T>(fn: () => Promise<T>): Promise<SessionOutcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof KeeperError) return { ok: false, error: err.toBody() };
    throw err;
  }
}
