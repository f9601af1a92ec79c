/**
 * One znode as a register, with ZooKeeper's transitions: the sequential model the
 * linearizability search (linearizability.ts) replays calls against.
 *
 * - create on an existing node -> NodeExists; create starts at version 0;
 * - set / delete on an absent node -> NoNode; a version other than -1 that differs -> BadVersion;
 *   set increments the version;
 * - every applied write's zxid is above every earlier one along the linearization (`floor`);
 * - a read sees exactly the model's state (value, version, mzxid); a read of an absent node may
 *   answer `exists: false` or NoNode.
 *
 * A call with no answer applies as the model says (or not at all: the search may leave it out);
 * its zxid is unknown, so the state's mzxid becomes UNKNOWN_ZXID until a read pins it.
 * A create answered NoNode is a missing parent: outside this path's register, so taken as not applied.
 */
import type { RegisterOp, RegisterResult } from "../history.ts";

/** The mzxid of a state written by a call whose answer never came. */
export const UNKNOWN_ZXID = -1;

export interface ModelState {
  exists: boolean;
  /** Interned value (see ValueTable), meaningful when exists. */
  value: number;
  version: number;
  /** The zxid that wrote this state, or UNKNOWN_ZXID. */
  mzxid: number;
  /** The highest known zxid of a write applied so far: the next write's zxid must be above it. */
  floor: number;
}

export const ABSENT: ModelState = { exists: false, value: 0, version: 0, mzxid: 0, floor: 0 };

/** Small ints for values, so a state's key is short. */
export class ValueTable {
  private readonly ids = new Map<string, number>();
  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(value, id);
    }
    return id;
  }
}

/** A state's identity for memoization. */
export function stateKey(s: ModelState): string {
  return s.exists ? `${s.value}:${s.version}:${s.mzxid}:${s.floor}` : `-:${s.floor}`;
}

/** An op with its value interned, as the search replays it. */
export type ModelOp =
  | { type: "create"; value: number }
  | { type: "set"; value: number; expectedVersion: number }
  | { type: "delete"; expectedVersion: number }
  | { type: "read" };

export function toModelOp(op: RegisterOp, values: ValueTable): ModelOp {
  switch (op.type) {
    case "create":
      return { type: "create", value: values.id(op.value) };
    case "set":
      return { type: "set", value: values.id(op.value), expectedVersion: op.expectedVersion };
    case "delete":
      return { type: "delete", expectedVersion: op.expectedVersion };
    case "read":
      return { type: "read" };
  }
}

/** An answer with its value interned; undefined for a call that never got one. */
export type ModelResult =
  | { ok: true; exists: false; zxid: number }
  | { ok: true; exists: true; value: number; version: number; mzxid: number; zxid: number }
  | { ok: false; error: "NoNode" | "NodeExists" | "BadVersion"; zxid: number };

export function toModelResult(result: RegisterResult, values: ValueTable): ModelResult {
  if (!result.ok) return result;
  const s = result.state;
  return s.exists
    ? { ok: true, exists: true, value: values.id(s.value), version: s.version, mzxid: s.mzxid, zxid: result.zxid }
    : { ok: true, exists: false, zxid: result.zxid };
}

/** What ZooKeeper would answer an op in this state, before any zxid is assigned. */
function expectedError(state: ModelState, op: ModelOp): "NoNode" | "NodeExists" | "BadVersion" | undefined {
  if (op.type === "create") return state.exists ? "NodeExists" : undefined;
  if (op.type === "read") return undefined;
  if (!state.exists) return "NoNode";
  if (op.expectedVersion !== -1 && op.expectedVersion !== state.version) return "BadVersion";
  return undefined;
}

/**
 * The state after `op` answered `result` in `state`, or undefined when ZooKeeper could not have
 * answered that here. `result` undefined: the call's answer was lost; it applies as the model says.
 */
export function step(state: ModelState, op: ModelOp, result: ModelResult | undefined): ModelState | undefined {
  if (op.type === "read") return result === undefined ? state : stepRead(state, result);
  if (op.type === "create" && result && !result.ok && result.error === "NoNode") return state;
  const error = expectedError(state, op);
  if (result === undefined) return error ? state : applyWrite(state, op, UNKNOWN_ZXID);
  if (!result.ok) return result.error === error ? state : undefined;
  if (error) return undefined;
  if (op.type === "delete") {
    if (result.exists || result.zxid <= state.floor) return undefined;
    return { ...ABSENT, floor: result.zxid };
  }
  const next = applyWrite(state, op, result.exists ? result.mzxid : UNKNOWN_ZXID);
  if (!result.exists || result.mzxid <= state.floor) return undefined;
  return result.value === next.value && result.version === next.version ? next : undefined;
}

function applyWrite(state: ModelState, op: Exclude<ModelOp, { type: "read" }>, zxid: number): ModelState {
  const floor = zxid === UNKNOWN_ZXID ? state.floor : zxid;
  switch (op.type) {
    case "create":
      return { exists: true, value: op.value, version: 0, mzxid: zxid, floor };
    case "set":
      return { exists: true, value: op.value, version: state.version + 1, mzxid: zxid, floor };
    case "delete":
      return { ...ABSENT, floor };
  }
}

function stepRead(state: ModelState, result: ModelResult): ModelState | undefined {
  if (!result.ok) return result.error === "NoNode" && !state.exists ? state : undefined;
  if (!result.exists) return state.exists ? undefined : state;
  if (!state.exists || result.value !== state.value || result.version !== state.version) return undefined;
  if (state.mzxid !== UNKNOWN_ZXID) return result.mzxid === state.mzxid ? state : undefined;
  // The state came from a call whose answer was lost: the read tells its zxid, above every earlier write.
  return result.mzxid > state.floor ? { ...state, mzxid: result.mzxid, floor: result.mzxid } : undefined;
}
