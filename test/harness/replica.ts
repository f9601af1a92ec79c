/**
 * Helpers for driving a shard's leader and its read replica through their real
 * RPC entry points: a fresh pair per test, reads at a zxid, and the rows each
 * holds, read straight from its SQLite (to compare a replica with its leader).
 */
import { env, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import type { ShardRequest } from "../../protocol/index.ts";
import type { Meta } from "../../durable/replication/core/index.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import type { ReplicaReadAnswer } from "../../durable/shard/shard-do.ts";
import { ANON, type ShardStub, bytes, exec, lastZxid } from "./shard.ts";

export interface ShardPair {
  leaderName: string;
  leader: ShardStub;
  replica: ShardStub;
}

/** The region of every pair's replica. */
const REPLICA_REGION = "weur";

/** A brand-new leader (serving "/") and its replica in REPLICA_REGION, which starts at its first read. */
export function newPair(): ShardPair {
  const leaderName = `t/${crypto.randomUUID()}`;
  return { leaderName, ...stubsOf(leaderName) };
}

/** Fresh stubs of both objects (an aborted object's old stubs stay broken). */
export function stubsOf(leaderName: string): { leader: ShardStub; replica: ShardStub } {
  return { leader: env.SHARD.get(env.SHARD.idFromName(leaderName)), replica: env.SHARD.get(env.SHARD.idFromName(replicaObjectName(leaderName, REPLICA_REGION))) };
}

/** `count` creates at the leader in one batch (each its own write and zxid), at /bulk-`tag`-0 on (a fresh tag by default). */
export async function createMany(pair: ShardPair, count: number, tag: string = crypto.randomUUID()): Promise<void> {
  const requests: ShardRequest[] = Array.from({ length: count }, (_, i) => ({ op: "create", path: `/bulk-${tag}-${i}`, data: bytes(`${tag} ${i}`) }));
  for (const outcome of await exec(pair.leader, ANON, ...requests)) expect(outcome.ok).toBe(true);
}

/** Reads at the replica once it has applied `minZxid`, waiting up to `waitMs`. */
export async function readAt(replica: ShardStub, minZxid: number, requests: ShardRequest[] = [{ op: "exists", path: "/" }], waitMs = 20_000): Promise<ReplicaReadAnswer> {
  // Typed by hand: RPC typing cannot express Outcome's unknown value (as exec in shard.ts).
  return (await replica.replicaRead("/", { sessionId: 0, ids: [] }, requests, { minZxid, waitMs })) as unknown as ReplicaReadAnswer;
}

/** Waits until the replica has applied everything its leader has committed now. */
export async function caughtUp(pair: ShardPair): Promise<number> {
  const zxid = await lastZxid(pair.leader);
  const answer = await readAt(pair.replica, zxid);
  if (!answer.ready) expect.fail(`the replica applied only ${answer.appliedZxid} of ${zxid}`);
  return zxid;
}

/** The rows `query` (with `?` bound to `bindings`) answers, as the object's SQLite holds them. */
export async function rowsOf(stub: ShardStub, query: string, ...bindings: SqlStorageValue[]): Promise<Record<string, SqlStorageValue>[]> {
  return runInDurableObject(stub, (_, state) => state.storage.sql.exec(query, ...bindings).toArray());
}

/** The znodes table, every column, by path. */
export function znodes(stub: ShardStub): Promise<Record<string, SqlStorageValue>[]> {
  return rowsOf(stub, "SELECT * FROM znodes ORDER BY path");
}

/**
 * The replication meta (role, applied and trimmed zxids, log size), as the core reads
 * it: the stored row with the log entries after its applied zxid counted in (a
 * replica stores it only when more than its log's head moves).
 */
export async function metaOf(stub: ShardStub): Promise<Meta> {
  const [row] = await rowsOf(stub, "SELECT row FROM replication_meta");
  if (!row) expect.fail("no replication meta");
  const meta = JSON.parse(String(row.row)) as Meta;
  const [logged] = await rowsOf(stub, "SELECT max(key) AS last, count(*) AS entries, total(size) AS bytes FROM replication_log WHERE key > ?", meta.appliedZxid);
  if (logged?.last === null || logged === undefined) return meta;
  return { ...meta, appliedZxid: Number(logged.last), logEntries: meta.logEntries + Number(logged.entries), logBytes: meta.logBytes + Number(logged.bytes) };
}

/** The zxids of the log entries an object holds, in order. */
export async function logZxids(stub: ShardStub): Promise<number[]> {
  return (await rowsOf(stub, "SELECT key FROM replication_log ORDER BY key")).map((row) => Number(row.key));
}

/** Makes a shard's log as stored before its size and events columns (key and row only), for migration tests. */
export function asLogBeforeSizeColumns(sql: SqlStorage): void {
  sql.exec("CREATE TABLE old_log AS SELECT key, row FROM replication_log");
  sql.exec("DROP TABLE replication_log");
  sql.exec("CREATE TABLE replication_log (key PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID");
  sql.exec("INSERT INTO replication_log SELECT key, row FROM old_log");
  sql.exec("DROP TABLE old_log");
}
