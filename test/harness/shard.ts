/**
 * Helpers for driving a ShardDO through its real RPC entry points in tests:
 * a fresh object per test, callers with digest identities, and typed
 * wrappers that assert success or return the error name.
 */
import { env } from "cloudflare:test";
import { expect } from "vitest";
import {
  type Caller,
  type Id,
  type KeeperErrorName,
  type MultiItemResult,
  type Outcome,
  type ResultOf,
  type ShardRequest,
  type Stat,
  authenticate,
} from "../../protocol/index.ts";
import type { ShardDO } from "../../durable/shard/shard-do.ts";

export type ShardStub = DurableObjectStub<ShardDO>;

/** A brand-new shard object (its own SQLite database) serving "/". */
export function newShard(): { id: DurableObjectId; stub: ShardStub } {
  const id = env.SHARD.idFromName(`t/${crypto.randomUUID()}`);
  return { id, stub: env.SHARD.get(id) };
}

/** A fresh stub to the same object (after an eviction or abort). */
export function reconnect(id: DurableObjectId): ShardStub {
  return env.SHARD.get(id);
}

/** A sessionless caller with no identities (an anonymous HTTP request). */
export const ANON: Caller = { sessionId: 0, ids: [] };

/** A caller holding a session (and optionally identities). */
export function session(sessionId: number, ids: Id[] = []): Caller {
  return { sessionId, ids };
}

/** A caller authenticated with digest "user:password" (as addauth would make it). */
export async function digestCaller(userPassword: string, sessionId = 0): Promise<Caller> {
  return { sessionId, ids: await authenticate("digest", userPassword, env.EDGEKEEPER_SUPER_DIGEST) };
}

/** The super identity (the configured super digest is for "super:test"). */
export function superCaller(sessionId = 0): Promise<Caller> {
  return digestCaller("super:test", sessionId);
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
/** A value as text; null (ZooKeeper's null value) is not text, and throws. */
export const text = (data: Uint8Array | null): string => {
  if (data === null) throw new Error("the value is null, not text");
  return new TextDecoder().decode(data);
};

/** Runs a batch of requests and returns one outcome each. */
export async function exec(stub: ShardStub, caller: Caller, ...requests: ShardRequest[]): Promise<Outcome[]> {
  return (await stub.execute("/", caller, requests)) as Outcome[];
}

/** Runs one request and returns its outcome. */
export async function run(stub: ShardStub, caller: Caller, request: ShardRequest): Promise<Outcome> {
  const [outcome] = await exec(stub, caller, request);
  if (!outcome) throw new Error("the shard returned no outcome");
  return outcome;
}

/** Runs one request, asserts it succeeded and returns its value, typed by op. */
export async function ok<R extends ShardRequest>(stub: ShardStub, caller: Caller, request: R): Promise<ResultOf[R["op"]]> {
  const outcome = await run(stub, caller, request);
  if (!outcome.ok) expect.fail(`${request.op} ${"path" in request ? request.path : ""} failed: ${outcome.error.name} (${outcome.error.message})`);
  return outcome.value as ResultOf[R["op"]];
}

/** Runs one request, asserts it failed and returns the error's name. */
export async function fails(stub: ShardStub, caller: Caller, request: ShardRequest): Promise<KeeperErrorName> {
  const outcome = await run(stub, caller, request);
  if (outcome.ok) expect.fail(`${request.op} ${"path" in request ? request.path : ""} succeeded; expected an error`);
  return outcome.error.name;
}

/** The Stat of a node (asserting it exists). */
export async function statOf(stub: ShardStub, path: string, caller: Caller = ANON): Promise<Stat> {
  const { stat } = await ok(stub, caller, { op: "exists", path });
  if (!stat) expect.fail(`${path} does not exist`);
  return stat;
}

/** Whether a node exists. */
export async function exists(stub: ShardStub, path: string): Promise<boolean> {
  return (await ok(stub, ANON, { op: "exists", path })).stat !== null;
}

/** Creates persistent nodes (with empty data), in order, asserting each succeeds. */
export async function createAll(stub: ShardStub, caller: Caller, ...paths: string[]): Promise<void> {
  const outcomes = await exec(stub, caller, ...paths.map((path): ShardRequest => ({ op: "create", path })));
  outcomes.forEach((outcome, i) => {
    if (!outcome.ok) expect.fail(`create ${paths[i]} failed: ${outcome.error.name}`);
  });
}

/** The shard's last committed zxid, as it reports on every answer. */
export async function lastZxid(stub: ShardStub): Promise<number> {
  return (await run(stub, ANON, { op: "exists", path: "/" })).zxid;
}

/** The codes of a failed multi's per-op results (0 for Ok). */
export function codes(results: MultiItemResult[] | undefined): number[] {
  return (results ?? []).map((r) => (r.op === "error" ? r.error.code : 0));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
