/**
 * Terse builders for hand-made histories in the checkers' tests:
 * `call(1, { session: 1, at: [0, 5] }, set("/a", "x"), ok(node("x", 1, 3), 3))`.
 */
import type { Call, RegisterOp, RegisterResult, RegisterState, WatchFired, WatchSet } from "../history.ts";

export const create = (path: string, value: string): RegisterOp => ({ type: "create", path, value });
export const set = (path: string, value: string, expectedVersion = -1): RegisterOp => ({ type: "set", path, value, expectedVersion });
export const del = (path: string, expectedVersion = -1): RegisterOp => ({ type: "delete", path, expectedVersion });
export const read = (path: string): RegisterOp => ({ type: "read", path });

export const node = (value: string, version: number, mzxid: number): RegisterState => ({ exists: true, value, version, mzxid });
export const ABSENT_NODE: RegisterState = { exists: false };
export const ok = (state: RegisterState, zxid: number): RegisterResult => ({ ok: true, state, zxid });
export const err = (error: "NoNode" | "NodeExists" | "BadVersion", zxid: number): RegisterResult => ({ ok: false, error, zxid });

export interface CallShape {
  session?: number;
  shard?: string;
  /** [invokedAt, returnedAt]; returnedAt undefined: the answer was lost. */
  at: [number, number | undefined];
  mode?: "linearizable" | "sequential";
  servedBy?: "leader" | "replica";
}

export function call(id: number, shape: CallShape, op: RegisterOp, result?: RegisterResult): Call {
  const returned = shape.at[1] !== undefined && result !== undefined;
  return {
    kind: "call",
    id,
    session: shape.session ?? 1,
    shard: shape.shard ?? "s0",
    op,
    mode: shape.mode ?? "linearizable",
    servedBy: shape.servedBy ?? "leader",
    invokedAt: shape.at[0],
    returnedAt: returned ? shape.at[1] : undefined,
    result: returned ? result : undefined,
  };
}

/** A sequential read served by a replica. */
export function seqRead(id: number, session: number, at: [number, number], path: string, result: RegisterResult, shard = "s0"): Call {
  return call(id, { session, shard, at, mode: "sequential", servedBy: "replica" }, read(path), result);
}

export function watchSet(by: Call, zxid: number, at = by.returnedAt as number): WatchSet {
  return { kind: "watch-set", session: by.session, shard: by.shard, path: by.op.path, setBy: by.id, zxid, at };
}

export function watchFired(by: Call, zxid: number, at: number): WatchFired {
  return { kind: "watch-fired", session: by.session, shard: by.shard, path: by.op.path, setBy: by.id, zxid, at };
}
