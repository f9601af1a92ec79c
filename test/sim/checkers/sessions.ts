/**
 * ZooKeeper's session guarantees, the ones sequential reads rely on (every read is held to
 * them; a linearizable read meets them anyway). "Before" is the simulator's clock: an answer
 * returned at t is seen by a call invoked at t or later, and a watch event delivered at t
 * precedes an answer returned at t or later (ties count in the history's favour).
 * Everything is per session and shard: order across shards is not promised.
 *
 * 1. Monotonic reads (`sessions/monotonic-reads`): a read's answer zxid is at least the zxid of
 *    every answer of the session (read or failed write) returned before the read was invoked,
 *    and of every watch event delivered to it before then.
 * 2. Read-your-writes (`sessions/read-your-writes`): a read's answer zxid is at least the zxid of
 *    each of the session's writes acknowledged before the read was invoked; and a read of the
 *    same path that finds the node finds a state at least that new: mzxid >= the write's zxid
 *    (> for a delete: the node was created again). The same holds against a state of that path
 *    the session read earlier (reported as monotonic reads). A read that finds the node absent
 *    is not held to a path's floor: deletes by others cannot all be known.
 * 3. Event before data (`sessions/watch-order`): a watch set by read R at zxid z is due to fire
 *    for the first change of its path after z: its event's zxid if it fired, else the first
 *    acknowledged write of that path with a higher zxid. The first read by the session on that
 *    shard, other than R, returned after the watch was set and answered at that zxid or higher,
 *    must come after the event (a missing event is a violation once such a read exists).
 * 4. One-shot (`sessions/watch-once`): a watch fires at most once, after it was set, and only
 *    a watch that was set fires.
 * 5. First change (`sessions/watch-first-change`): a watch fires with a zxid above the zxid its
 *    read saw, and no acknowledged write of its path lies between the two (it fired for the
 *    first change, not a later one). A watch fired by the rows (`guessed`: the copy's log no
 *    longer reached back to its read) names the node's last change instead, as ZooKeeper's
 *    setWatches does; for the order with reads (3) it counts from the first change.
 * Calls with no answer count for nothing here: nobody saw them.
 */
import type { Call, HistoryEntry, Violation, WatchFired, WatchRearmed, WatchSet } from "../history.ts";
import { describeCall } from "./describe.ts";

/**
 * Violations of the session guarantees above, in the order found.
 * @example
 * expect(checkSessions(history)).toEqual([]);
 */
export function checkSessions(history: HistoryEntry[]): Violation[] {
  const calls = history.filter((e): e is Call => e.kind === "call" && e.returnedAt !== undefined && e.result !== undefined);
  const sets = history.filter((e): e is WatchSet => e.kind === "watch-set");
  const fires = history.filter((e): e is WatchFired => e.kind === "watch-fired");
  const rearmed = history.filter((e): e is WatchRearmed => e.kind === "watch-rearmed");
  return [...checkReadFloors(calls, fires), ...checkWatches(calls, sets, fires, rearmed)];
}

const sessionShard = (e: { session: number; shard: string }): string => `${e.session} ${e.shard}`;

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** The zxid of an acknowledged successful write: the state it made, or the delete's. */
function writeZxid(call: Call): number | undefined {
  const r = call.result;
  if (call.op.type === "read" || !r?.ok) return undefined;
  return r.state.exists ? r.state.mzxid : r.zxid;
}

/** Something the session saw: an answer (at its return) or a watch event (at its delivery). */
interface Seen {
  at: number;
  zxid: number;
  /** What the session saw it from: an answer or a watch event. */
  from: Call | WatchFired;
  rule: "sessions/monotonic-reads" | "sessions/read-your-writes";
  /** When it tells about one path: the lowest mzxid a later read of that path may find there. */
  path?: { path: string; minMzxid: number };
}

function seenBy(call: Call): Seen {
  const r = call.result!;
  const base = { at: call.returnedAt as number, zxid: r.zxid, from: call };
  if (call.op.type === "read") {
    const path = r.ok && r.state.exists ? { path: call.op.path, minMzxid: r.state.mzxid } : undefined;
    return { ...base, rule: "sessions/monotonic-reads", ...(path ? { path } : {}) };
  }
  const zxid = writeZxid(call);
  if (zxid === undefined) return { ...base, rule: "sessions/monotonic-reads" };
  const minMzxid = call.op.type === "delete" ? zxid + 1 : zxid;
  return { ...base, rule: "sessions/read-your-writes", path: { path: call.op.path, minMzxid } };
}

/** Rules 1 and 2: one sweep per session and shard, reads in invocation order against what was seen before. */
function checkReadFloors(calls: Call[], fires: WatchFired[]): Violation[] {
  const violations: Violation[] = [];
  const firesBySession = groupBy(fires, sessionShard);
  for (const [key, own] of groupBy(calls, sessionShard)) {
    const seen: Seen[] = own.map(seenBy);
    for (const f of firesBySession.get(key) ?? []) {
      seen.push({ at: f.at, zxid: f.zxid, from: f, rule: "sessions/monotonic-reads" });
    }
    seen.sort((a, b) => a.at - b.at);
    const reads = own.filter((c) => c.op.type === "read").sort((a, b) => a.invokedAt - b.invokedAt);
    let highest: Seen | undefined;
    const pathFloors = new Map<string, Seen>();
    let next = 0;
    for (const read of reads) {
      for (; next < seen.length && (seen[next] as Seen).at <= read.invokedAt; next++) {
        const s = seen[next] as Seen;
        if (!highest || s.zxid > highest.zxid) highest = s;
        const floor = s.path && pathFloors.get(s.path.path);
        if (s.path && (!floor || s.path.minMzxid > floor.path!.minMzxid)) pathFloors.set(s.path.path, s);
      }
      const r = read.result!;
      if (highest && r.zxid < highest.zxid) {
        violations.push(floorViolation(highest, read, `answered at zxid ${r.zxid}, below zxid ${highest.zxid} the session had already seen`));
      }
      const floor = pathFloors.get(read.op.path);
      if (floor && r.ok && r.state.exists && r.state.mzxid < floor.path!.minMzxid) {
        violations.push(floorViolation(floor, read, `found ${read.op.path} at mzxid ${r.state.mzxid}, older than the state the session had already seen there`));
      }
    }
  }
  return violations;
}

function floorViolation(before: Seen, read: Call, what: string): Violation {
  const from = before.from;
  const after = from.kind === "call" ? describeCall(from) : `the watch event on ${from.path} (set by #${from.setBy}, zxid ${from.zxid}) at ${from.at}`;
  return { checker: before.rule, message: `read ${describeCall(read)} ${what}, after ${after}`, calls: from.kind === "call" ? [from.id, read.id] : [read.id] };
}

/** Rules 3 to 5. */
function checkWatches(calls: Call[], sets: WatchSet[], fires: WatchFired[], rearmedWatches: WatchRearmed[]): Violation[] {
  const violations: Violation[] = [];
  const watchKey = (w: WatchSet | WatchFired | WatchRearmed): string => `${sessionShard(w)} ${w.setBy} ${w.path}`;
  const firesByWatch = groupBy(fires, watchKey);
  const setsByWatch = new Map(sets.map((s) => [watchKey(s), s]));
  const changes = changesByPath(calls);
  const readsBySession = groupBy(
    calls.filter((c) => c.op.type === "read").sort((a, b) => (a.returnedAt as number) - (b.returnedAt as number)),
    sessionShard,
  );

  for (const [key, fired] of firesByWatch) {
    const set = setsByWatch.get(key);
    const first = fired[0] as WatchFired;
    if (!set) {
      violations.push({ checker: "sessions/watch-once", message: `watch event on ${first.path} for session ${first.session} at ${first.at}: read #${first.setBy} set no such watch`, calls: [first.setBy] });
    } else if (fired.length > 1) {
      violations.push({ checker: "sessions/watch-once", message: `one-shot watch on ${set.path} set by #${set.setBy} fired ${fired.length} times (zxids ${fired.map((f) => f.zxid).join(", ")})`, calls: [set.setBy] });
    } else if (first.at < set.at) {
      violations.push({ checker: "sessions/watch-once", message: `watch on ${set.path} set by #${set.setBy} at ${set.at} fired before, at ${first.at}`, calls: [set.setBy] });
    }
  }

  const rearmed = new Set(rearmedWatches.map(watchKey));
  for (const set of sets) {
    const fired = firesByWatch.get(watchKey(set))?.[0];
    // Armed again by the rows before it fired: whether it missed a change they cannot show, nobody can tell.
    if (!fired && rearmed.has(watchKey(set))) continue;
    const pathChanges = changes.get(`${set.shard} ${set.path}`) ?? [];
    const firstChange = pathChanges.find((c) => c.zxid > set.zxid);
    if (fired && fired.zxid <= set.zxid) {
      violations.push({ checker: "sessions/watch-first-change", message: `watch on ${set.path} set by #${set.setBy} at zxid ${set.zxid} fired for zxid ${fired.zxid}, a change its read had already seen`, calls: [set.setBy] });
      continue;
    }
    // A watch fired by the rows (guessed) names the node's last change: only its order with reads is checked.
    if (fired && !fired.guessed && firstChange && firstChange.zxid < fired.zxid) {
      violations.push({
        checker: "sessions/watch-first-change",
        message: `watch on ${set.path} set by #${set.setBy} at zxid ${set.zxid} fired for zxid ${fired.zxid}, not for the first change after it: ${describeCall(firstChange.call)}`,
        calls: [set.setBy, firstChange.call.id],
      });
    }
    const due = fired && !fired.guessed ? fired.zxid : (firstChange?.zxid ?? fired?.zxid);
    if (due === undefined) continue;
    const showing = (readsBySession.get(sessionShard(set)) ?? []).find((r) => r.id !== set.setBy && (r.returnedAt as number) > set.at && r.result!.zxid >= due);
    if (!showing || (fired && fired.at <= (showing.returnedAt as number))) continue;
    violations.push({
      checker: "sessions/watch-order",
      message: `read ${describeCall(showing)} shows zxid ${due} on its shard, but the watch on ${set.path} set by #${set.setBy} ${fired ? `fired only at ${fired.at}` : "never fired"} for it`,
      calls: [set.setBy, showing.id],
    });
  }
  return violations;
}

/** Acknowledged successful writes per shard and path, by zxid. */
function changesByPath(calls: Call[]): Map<string, { zxid: number; call: Call }[]> {
  const changes = new Map<string, { zxid: number; call: Call }[]>();
  for (const call of calls) {
    const zxid = writeZxid(call);
    if (zxid === undefined) continue;
    const key = `${call.shard} ${call.op.path}`;
    const list = changes.get(key) ?? [];
    list.push({ zxid, call });
    changes.set(key, list);
  }
  for (const list of changes.values()) list.sort((a, b) => a.zxid - b.zxid);
  return changes;
}
