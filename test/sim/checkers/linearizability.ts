/**
 * Linearizability of writes and linearizable reads, by the Wing-Gong search with Lowe's
 * memoization, as Porcupine does it.
 *
 * The history is partitioned per (shard, path) (P-compositionality: a history is linearizable
 * when each object's sub-history is), each znode a register with ZooKeeper's transitions
 * (register-model.ts), starting absent. Sequential reads are not checked here (sessions.ts is).
 *
 * Real-time order: a call returned at t precedes a call invoked after t; calls that touch at the
 * same instant count as concurrent. A call with no answer may take effect at any point after its
 * invocation, or never. The search tries to linearize the calls in time order, backtracking when
 * a return passes with its call still unplaced, and remembers every (set of calls placed, state)
 * it has tried so that no configuration is explored twice. It is bounded per partition
 * (`stepBudget`); an overrun is reported as its own violation ("linearizability-budget"), never a hang.
 */
import type { Call, HistoryEntry, Violation } from "../history.ts";
import { describeCall } from "./describe.ts";
import { ABSENT, type ModelOp, type ModelResult, type ModelState, ValueTable, stateKey, step, toModelOp, toModelResult } from "./register-model.ts";

export interface LinearizabilityOptions {
  /** Search steps allowed per (shard, path) before giving up with a budget violation. */
  stepBudget?: number;
}

/** Enough for thousands of calls on one path when the history is sane; an overrun means pathological concurrency. */
export const DEFAULT_STEP_BUDGET = 1_000_000;

/** Calls printed either side of where the search got stuck. */
const EXCERPT_CALLS = 6;

/**
 * Violations of linearizability: one per (shard, path) whose calls cannot be linearized, or whose
 * search ran out of budget. The search places no-op calls (reads, failed writes) as soon as they
 * fit and lost writes that no answer tells apart in one order only, which keeps it near linear
 * on sane histories; a failing one with many lost writes on one path may still overrun.
 * @example
 * const violations = checkLinearizable(history);
 * if (violations.length) console.log(violations.map((v) => v.message).join("\n"));
 */
export function checkLinearizable(history: HistoryEntry[], options: LinearizabilityOptions = {}): Violation[] {
  const budget = options.stepBudget ?? DEFAULT_STEP_BUDGET;
  const violations: Violation[] = [];
  for (const [key, calls] of partition(history)) {
    const violation = checkPartition(key, calls, budget);
    if (violation) violations.push(violation);
  }
  return violations;
}

/** The calls this checker judges, per shard and path: writes, and linearizable reads that got an answer. */
function partition(history: HistoryEntry[]): Map<string, Call[]> {
  const parts = new Map<string, Call[]>();
  for (const entry of history) {
    if (entry.kind !== "call") continue;
    if (entry.op.type === "read" && (entry.mode !== "linearizable" || !answered(entry))) continue;
    const key = `${entry.shard} ${entry.op.path}`;
    const calls = parts.get(key);
    if (calls) calls.push(entry);
    else parts.set(key, [entry]);
  }
  return parts;
}

function answered(call: Call): boolean {
  return call.returnedAt !== undefined && call.result !== undefined;
}

/** A call or return event in the search's doubly linked list (Porcupine's `node`). */
interface Event {
  call: number;
  isCall: boolean;
  time: number;
  /** A call event's return event. */
  match: Event | undefined;
  prev: Event | undefined;
  next: Event | undefined;
}

interface SearchCall {
  op: ModelOp;
  result: ModelResult | undefined;
  event: Event;
  /** Answered: the search is done when every such call is placed. */
  required: boolean;
}

/** The list of call and return events in time order, behind a head; `callEvents[i]` is call i's. */
function buildEvents(calls: Call[], returns: number[]): { head: Event; callEvents: Event[] } {
  const events: Event[] = [];
  const callEvents: Event[] = [];
  calls.forEach((call, i) => {
    const ret: Event = { call: i, isCall: false, time: returns[i] as number, match: undefined, prev: undefined, next: undefined };
    const start: Event = { call: i, isCall: true, time: call.invokedAt, match: ret, prev: undefined, next: undefined };
    callEvents.push(start);
    events.push(start, ret);
  });
  // Calls before returns at the same instant: touching calls are concurrent.
  events.sort((a, b) => a.time - b.time || Number(a.isCall ? 0 : 1) - Number(b.isCall ? 0 : 1));
  const head: Event = { call: -1, isCall: false, time: Number.NEGATIVE_INFINITY, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return { head, callEvents };
}

/** Take a call and its return out of the list once it is placed. */
function lift(call: Event): void {
  const ret = call.match as Event;
  (call.prev as Event).next = call.next;
  if (call.next) call.next.prev = call.prev;
  (ret.prev as Event).next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Put them back, in the reverse order of lift. */
function unlift(call: Event): void {
  const ret = call.match as Event;
  (ret.prev as Event).next = ret;
  if (ret.next) ret.next.prev = ret;
  (call.prev as Event).next = call;
  if (call.next) call.next.prev = call;
}

/** Zobrist hashing: the set of placed calls as two 32-bit words, updated in O(1) per step. */
function zobrist(i: number, salt: number): number {
  let h = Math.imul(i + 1, 0x9e3779b1) ^ salt;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function checkPartition(key: string, calls: Call[], budget: number): Violation | undefined {
  const values = new ValueTable();
  const ops = calls.map((c) => toModelOp(c.op, values));
  const results = calls.map((c) => (answered(c) ? toModelResult(c.result!, values) : undefined));
  // A call with no answer need never be placed: its return is at +Infinity.
  const returns = calls.map((c, i) => (results[i] ? (c.returnedAt as number) : Number.POSITIVE_INFINITY));
  const { head, callEvents } = buildEvents(calls, returns);
  const search: SearchCall[] = calls.map((_, i) => ({
    op: ops[i] as ModelOp,
    result: results[i],
    event: callEvents[i] as Event,
    required: results[i] !== undefined,
  }));
  const waitsFor = interchangeableOrder(calls, search);
  const placed = new Uint8Array(calls.length);
  const hashA = calls.map((_, i) => zobrist(i, 0x1234567));
  const hashB = calls.map((_, i) => zobrist(i, 0x7654321));

  let remaining = search.filter((c) => c.required).length;
  let state: ModelState = ABSENT;
  let stateNow = stateKey(state);
  let h1 = 0;
  let h2 = 0;
  const tried = new Set<string>();
  /** `noop`: an answered call that left the state as it was (a read, a failed write), see below. */
  const stack: { call: number; before: ModelState; beforeKey: string; noop: boolean }[] = [];
  // The deepest dead end met, and the return that stopped it: what a violation shows.
  let longest: number[] = [];
  let stuckAt: Event | undefined;
  let steps = 0;
  let entry = head.next;
  while (remaining > 0 && entry) {
    if (++steps > budget) return budgetViolation(key, calls, budget, longest);
    if (entry.isCall) {
      const c = search[entry.call] as SearchCall;
      const first = waitsFor[entry.call] as number;
      const next = first === -1 || placed[first] ? step(state, c.op, c.result) : undefined;
      if (!next) {
        entry = entry.next;
        continue;
      }
      const nextKey = stateKey(next);
      if (nextKey === stateNow && c.result === undefined) {
        // A call with no answer that would change nothing here: placing it is the same as leaving it
        // out, and leaving it out keeps it free to apply later.
        entry = entry.next;
        continue;
      }
      const n1 = (h1 ^ (hashA[entry.call] as number)) >>> 0;
      const n2 = (h2 ^ (hashB[entry.call] as number)) >>> 0;
      const memo = `${n1},${n2},${nextKey}`;
      const noop = nextKey === stateNow;
      if (!tried.has(memo)) {
        tried.add(memo);
        stack.push({ call: entry.call, before: state, beforeKey: stateNow, noop });
        state = next;
        stateNow = nextKey;
        h1 = n1;
        h2 = n2;
        if (c.required) remaining--;
        placed[entry.call] = 1;
        lift(entry);
        entry = head.next;
        continue;
      }
      // An answered call that changes nothing (a read, a failed write) changes nothing wherever it
      // fits; placed where it is enabled it spoils no linearization that exists (moving it earlier
      // breaks no real-time order), so when that already failed, so does this configuration.
      if (!noop) {
        entry = entry.next;
        continue;
      }
    } else if (stack.length >= longest.length) {
      longest = stack.map((s) => s.call);
      stuckAt = entry;
    }
    // A return passed with its call unplaced (or a no-op call failed, above): undo the last choice,
    // and past every no-op call, for the same reason no alternative to those is worth trying.
    let top;
    do {
      top = stack.pop();
      if (!top) return notLinearizable(key, calls, longest, stuckAt ?? entry);
      state = top.before;
      stateNow = top.beforeKey;
      h1 = (h1 ^ (hashA[top.call] as number)) >>> 0;
      h2 = (h2 ^ (hashB[top.call] as number)) >>> 0;
      if ((search[top.call] as SearchCall).required) remaining++;
      placed[top.call] = 0;
      unlift((search[top.call] as SearchCall).event);
    } while (top.noop);
    entry = (search[top.call] as SearchCall).event.next;
  }
  return undefined;
}

/**
 * Calls with no answer that no answer can tell apart (same kind of write, same expected version,
 * and a value no answer shows) are interchangeable: in any linearization, swapping two of them
 * leaves every answer valid. So the search places them in invocation order only, which spares it
 * trying every subset of them: for each call, the one that must be placed before it, or -1.
 */
function interchangeableOrder(calls: Call[], search: SearchCall[]): Int32Array {
  const shown = new Set<number>();
  for (const c of search) if (c.result?.ok && c.result.exists) shown.add(c.result.value);
  const waitsFor = new Int32Array(calls.length).fill(-1);
  const lastOfKind = new Map<string, number>();
  const byInvocation = calls.map((_, i) => i).sort((a, b) => (calls[a] as Call).invokedAt - (calls[b] as Call).invokedAt || a - b);
  for (const i of byInvocation) {
    const { op, result } = search[i] as SearchCall;
    if (result !== undefined || op.type === "read" || (op.type !== "delete" && shown.has(op.value))) continue;
    const kind = `${op.type} ${op.type === "create" ? "" : op.expectedVersion}`;
    const before = lastOfKind.get(kind);
    if (before !== undefined) waitsFor[i] = before;
    lastOfKind.set(kind, i);
  }
  return waitsFor;
}

function budgetViolation(key: string, calls: Call[], budget: number, longest: number[]): Violation {
  const ids = longest.slice(-EXCERPT_CALLS).map((i) => (calls[i] as Call).id);
  return {
    checker: "linearizability-budget",
    message: `${where(key)}: gave up after ${budget} search steps over ${calls.length} calls (longest linearizable prefix ${longest.length}); raise stepBudget or shorten the run`,
    calls: ids,
  };
}

/**
 * Names the path, the tail of the longest linearizable prefix found, and the calls that could not
 * come next: the one whose return the search could not get past, and those concurrent with it.
 */
function notLinearizable(key: string, calls: Call[], longest: number[], stuckAt: Event): Violation {
  const placed = new Set(longest);
  const prefix = longest.slice(-EXCERPT_CALLS).map((i) => calls[i] as Call);
  const blocked = calls[stuckAt.call] as Call;
  const returnedBy = blocked.returnedAt ?? Number.POSITIVE_INFINITY;
  const rivals = calls
    .filter((c, i) => !placed.has(i) && c !== blocked && c.invokedAt <= returnedBy)
    .sort((a, b) => a.invokedAt - b.invokedAt)
    .slice(0, EXCERPT_CALLS - 1);
  const lines = [
    `${where(key)}: not linearizable; the longest linearizable prefix has ${longest.length} of ${calls.length} calls, ending:`,
    ...prefix.map((c) => `  ${describeCall(c)}`),
    "then none of these fits:",
    ...[blocked, ...rivals].map((c) => `  ${describeCall(c)}`),
  ];
  return { checker: "linearizability", message: lines.join("\n"), calls: [...prefix, blocked, ...rivals].map((c) => c.id) };
}

function where(key: string): string {
  const space = key.indexOf(" ");
  return `shard ${key.slice(0, space)} path ${key.slice(space + 1)}`;
}
