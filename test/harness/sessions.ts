/**
 * Helpers for driving SessionHost objects through their real RPC entry points: a
 * host in a namespace of its own, sessions opened on it, requests run as a session,
 * and a look at the host's rows and alarm.
 *
 * @example
 * const host = newHost();
 * const s = await host.open(10_000);
 * await host.ok(s, { op: "create", path: "/e", mode: "EPHEMERAL" });
 */
import { env, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import { shardObjectName } from "../../durable/env.ts";
import type { SessionGrant, SessionHost, SessionHostApi, SessionOutcome } from "../../durable/session/session-host.ts";
import { hostObjectName } from "../../protocol/session-ids.ts";
import type { Caller, Id, KeeperErrorName, Outcome, ResultOf, ShardRequest } from "../../protocol/index.ts";
import { HttpClient } from "./http.ts";
import { sleep } from "./shard.ts";

/** The tick vitest.config.ts sets (EDGEKEEPER_TICK_MS): timeouts are granted within [400, 4000] ms. */
export const TICK_MS = 200;
export const MIN_TIMEOUT_MS = 2 * TICK_MS;
export const MAX_TIMEOUT_MS = 20 * TICK_MS;

export interface ShardApi {
  execute(root: string, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]>;
  closeSession(root: string, sessionId: number): Promise<Outcome>;
  changesSince(zxid: number): Promise<{ events: { zxid: number; event: string; path: string }[] }>;
}

/** A namespace's shard object (`root` serves "/"). */
export function shardOf(namespace: string, shard = "root"): ShardApi {
  return env.SHARD.get(env.SHARD.idFromName(shardObjectName(namespace, shard))) as unknown as ShardApi;
}

export class TestHost {
  /** An HTTP client of the same namespace, to read and mount without a session. */
  readonly zk: HttpClient;
  readonly hostNumber: number;
  readonly id: DurableObjectId;

  constructor(hostNumber = 0) {
    this.zk = new HttpClient();
    this.hostNumber = hostNumber;
    this.id = env.SESSION_HOST.idFromName(hostObjectName(this.zk.namespace, hostNumber));
  }

  get namespace(): string {
    return this.zk.namespace;
  }

  /** A fresh stub (after an eviction or abort, the old one is broken). */
  stub(): DurableObjectStub<SessionHost> {
    return env.SESSION_HOST.get(this.id);
  }

  api(): SessionHostApi {
    return this.stub() as unknown as SessionHostApi;
  }

  async open(timeoutMs: number = MAX_TIMEOUT_MS): Promise<SessionGrant> {
    const out = await this.api().open(this.namespace, this.hostNumber, timeoutMs);
    if (!out.ok) throw new Error(`open failed: ${out.error.name} ${out.error.message}`);
    return out.value;
  }

  keepAlive(s: SessionGrant, password = s.password): Promise<SessionOutcome<SessionGrant>> {
    return this.api().keepAlive(s.sessionId, password);
  }

  close(s: SessionGrant, password = s.password): Promise<SessionOutcome<{ closed: true }>> {
    return this.api().close(s.sessionId, password);
  }

  execute(s: SessionGrant, requests: ShardRequest[], options: { password?: string; ids?: Id[] } = {}): Promise<SessionOutcome<Outcome[]>> {
    return this.api().execute(s.sessionId, options.password ?? s.password, options.ids ?? [], requests);
  }

  /** Runs one request as the session and returns its outcome (the session must be live). */
  async run(s: SessionGrant, request: ShardRequest): Promise<Outcome> {
    const out = await this.execute(s, [request]);
    if (!out.ok) expect.fail(`session ${s.sessionId}: ${out.error.name} (${out.error.message})`);
    const [outcome] = out.value;
    if (!outcome) expect.fail("the host returned no outcome");
    return outcome;
  }

  /** Runs one request as the session, asserts it succeeded and returns its value. */
  async ok<R extends ShardRequest>(s: SessionGrant, request: R): Promise<ResultOf[R["op"]]> {
    const outcome = await this.run(s, request);
    if (!outcome.ok) expect.fail(`${request.op}: ${outcome.error.name} (${outcome.error.message})`);
    return outcome.value as ResultOf[R["op"]];
  }

  /** Whether a node exists, read without a session. */
  async exists(path: string): Promise<boolean> {
    const res = await this.zk.get(path, { view: "stat" });
    await res.body?.cancel();
    if (res.status !== 200 && res.status !== 404) throw new Error(`stat ${path}: ${res.status}`);
    return res.status === 200;
  }

  /** The host's session rows and shard records, and its alarm. */
  async inspect(): Promise<{ sessions: { id: number; state: string; deadline: number; cxid: number }[]; shards: { session_id: number; shard: string }[]; alarm: number | null }> {
    return runInDurableObject(this.stub(), async (_instance, state) => {
      const sql = state.storage.sql;
      const has = sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'sessions'").toArray().length > 0;
      return {
        sessions: has ? sql.exec<{ id: number; state: string; deadline: number; cxid: number }>("SELECT id, state, deadline, cxid FROM sessions ORDER BY id").toArray() : [],
        shards: has ? sql.exec<{ session_id: number; shard: string }>("SELECT session_id, shard FROM session_shards ORDER BY session_id, shard").toArray() : [],
        alarm: await state.storage.getAlarm(),
      };
    });
  }

  /** Mounts `prefix` on a shard of its own; returns the shard's name. */
  async mount(prefix: string): Promise<string> {
    const res = await this.zk.mount(prefix);
    if (res.status !== 201) throw new Error(`mount ${prefix}: ${res.status} ${await res.text()}`);
    return (await res.json<{ mount: { shard: string } }>()).mount.shard;
  }
}

/** The error name of a failed session outcome (or "ok"). */
export function errorName(out: SessionOutcome<unknown> | Outcome): KeeperErrorName | "ok" {
  return out.ok ? "ok" : out.error.name;
}

/** Polls `check` every 25 ms until it holds, or fails after `withinMs`. */
export async function eventually(what: string, check: () => Promise<boolean>, withinMs = 5_000): Promise<void> {
  const until = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > until) expect.fail(`${what}: not within ${withinMs} ms`);
    await sleep(25);
  }
}
