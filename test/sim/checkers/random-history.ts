/**
 * Seeded random histories that are valid by construction, to test the checkers for false
 * positives and, mutated once, for misses. Each call takes effect at one instant (its
 * linearization point) on a sequential register model with ZooKeeper's rules, inside an
 * interval of random length around it, so calls of different sessions overlap at random.
 * A session's calls follow each other; some writes lose their answer (applied or not);
 * some reads set a watch, which fires at the first change of its path.
 */
import { Prng } from "../prng.ts";
import type { Call, HistoryEntry, RegisterOp, RegisterResult, RegisterState, WatchSet } from "../history.ts";

/** The simulator's seeded generator, as a function. */
function seededRandom(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

export interface RandomHistoryOptions {
  seed: number;
  operations: number;
  paths: number;
  sessions?: number;
  shards?: number;
  /** Longest stretch of a call either side of its linearization point, in ms. */
  overlapMs?: number;
  /** Share of writes whose answer is lost. */
  lostAnswerRate?: number;
}

export interface RandomHistory {
  history: HistoryEntry[];
  /**
   * For a read that followed a change of its path: the state before that change, and the shard's
   * zxid just before it: what a replica that had not applied the change would answer.
   */
  staleStates: Map<number, { state: RegisterState; zxid: number }>;
}

export function randomHistory(options: RandomHistoryOptions): RandomHistory {
  const random = seededRandom(options.seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const overlapMs = options.overlapMs ?? 30;
  const lostAnswerRate = options.lostAnswerRate ?? 0.05;
  const shards = Array.from({ length: options.shards ?? 2 }, (_, i) => `s${i}`);
  const zxids = new Map(shards.map((s) => [s, 0]));
  const nodes = new Map<string, { now: RegisterState; before?: { state: RegisterState; zxid: number } }>();
  const busyUntil = Array.from({ length: options.sessions ?? 6 }, () => 0);
  const watches: WatchSet[] = [];
  const history: HistoryEntry[] = [];
  const staleStates = new Map<number, { state: RegisterState; zxid: number }>();

  let t = 0;
  for (let id = 1; id <= options.operations; id++) {
    t += 1 + pick(10);
    let idle = busyUntil.flatMap((until, s) => (until < t ? [s] : []));
    if (idle.length === 0) {
      t = Math.min(...busyUntil) + 1;
      idle = busyUntil.flatMap((until, s) => (until < t ? [s] : []));
    }
    const session = idle[pick(idle.length)] as number;
    const shard = shards[pick(shards.length)] as string;
    const path = `/n${pick(options.paths)}`;
    const key = `${shard} ${path}`;
    const node = nodes.get(key) ?? { now: { exists: false } };
    const op = randomOp(path, node.now, id, random);
    const invokedAt = Math.max((busyUntil[session] as number) + 1, t - pick(overlapMs));
    const lost = op.type !== "read" && random() < lostAnswerRate;
    const applies = !lost || random() < 0.5;

    let result: RegisterResult | undefined;
    if (applies) {
      const zxid = zxids.get(shard) as number;
      const error = zkError(op, node.now);
      if (error) result = { ok: false, error, zxid };
      else if (op.type === "read") result = { ok: true, state: node.now, zxid };
      else {
        const next = zxid + 1;
        zxids.set(shard, next);
        const state: RegisterState =
          op.type === "delete" ? { exists: false } : { exists: true, value: op.value, version: op.type === "create" ? 0 : (node.now as { version: number }).version + 1, mzxid: next };
        nodes.set(key, { now: state, before: { state: node.now, zxid } });
        result = { ok: true, state, zxid: next };
        fireWatches(watches, history, shard, path, next, t);
      }
    }
    const returnedAt = lost ? undefined : t + pick(overlapMs);
    busyUntil[session] = returnedAt ?? t + overlapMs;
    const mode = op.type === "read" && random() < 0.5 ? "sequential" : "linearizable";
    const call: Call = { kind: "call", id, session, shard, op, mode, servedBy: mode === "sequential" ? "replica" : "leader", invokedAt, returnedAt, result: lost ? undefined : result };
    history.push(call);
    if (op.type === "read") {
      if (node.before) staleStates.set(id, node.before);
      if (random() < 0.3) {
        const watch: WatchSet = { kind: "watch-set", session, shard, path, setBy: id, zxid: (result as RegisterResult).zxid, at: t };
        watches.push(watch);
        history.push(watch);
      }
    }
  }
  return { history, staleStates };
}

/** Mostly ops that can succeed, some that fail ZooKeeper's checks. */
function randomOp(path: string, now: RegisterState, id: number, random: () => number): RegisterOp {
  const value = `v${id}`;
  const roll = random();
  if (roll < 0.4) return { type: "read", path };
  if (roll < 0.55) return { type: "create", path, value };
  const version = now.exists ? now.version : 0;
  const versionRoll = random();
  const expectedVersion = versionRoll < 0.4 ? -1 : versionRoll < 0.85 ? version : version + 1 + Math.floor(random() * 3);
  return roll < 0.9 ? { type: "set", path, value, expectedVersion } : { type: "delete", path, expectedVersion };
}

function zkError(op: RegisterOp, now: RegisterState): "NoNode" | "NodeExists" | "BadVersion" | undefined {
  if (op.type === "create") return now.exists ? "NodeExists" : undefined;
  if (!now.exists) return "NoNode";
  if (op.type !== "read" && op.expectedVersion !== -1 && op.expectedVersion !== now.version) return "BadVersion";
  return undefined;
}

/** One-shot: every watch on the path fires at the change, and is gone. */
function fireWatches(watches: WatchSet[], history: HistoryEntry[], shard: string, path: string, zxid: number, at: number): void {
  for (let i = watches.length - 1; i >= 0; i--) {
    const w = watches[i] as WatchSet;
    if (w.shard !== shard || w.path !== path) continue;
    history.push({ kind: "watch-fired", session: w.session, shard, path, setBy: w.setBy, zxid, at });
    watches.splice(i, 1);
  }
}

/** A way of breaking one answer, as a faulty replication core could. */
export type Mutation = "stale-read" | "version" | "flip-outcome";

/**
 * The history with one answer broken by `mutation`, or undefined when no call fits.
 * The broken call is picked by `seed` among the answered writes and linearizable reads that fit.
 */
export function mutateOnce(generated: RandomHistory, mutation: Mutation, seed: number): { history: HistoryEntry[]; call: number } | undefined {
  const random = seededRandom(seed);
  const fits = generated.history.filter((e): e is Call => {
    if (e.kind !== "call" || !e.result || (e.op.type === "read" && e.mode !== "linearizable")) return false;
    if (mutation === "stale-read") return e.op.type === "read" && generated.staleStates.has(e.id);
    if (mutation === "version") return e.result.ok && e.result.state.exists;
    return e.op.type === "set";
  });
  const victim = fits[Math.floor(random() * fits.length)];
  if (!victim) return undefined;
  const result = victim.result as RegisterResult;
  let broken: RegisterResult;
  if (mutation === "stale-read") broken = { ok: true, state: generated.staleStates.get(victim.id)!.state, zxid: result.zxid };
  else if (result.ok && result.state.exists && mutation === "version") broken = { ...result, state: { ...result.state, version: result.state.version + 1 } };
  else if (result.ok) broken = { ok: false, error: "BadVersion", zxid: result.zxid };
  else broken = { ok: true, state: { exists: true, value: (victim.op as { value: string }).value, version: 1, mzxid: result.zxid + 1 }, zxid: result.zxid + 1 };
  return { history: generated.history.map((e) => (e === victim ? { ...victim, result: broken } : e)), call: victim.id };
}

/** A way of breaking what one session sees, as a faulty replica or session host could. */
export type SessionMutation = "stale-sequential-read" | "drop-event";

/**
 * The history with one session's view broken: a sequential read answered by a replica that had
 * not applied the last change of its path, or one watch event never delivered.
 */
export function mutateSessionOnce(generated: RandomHistory, mutation: SessionMutation, seed: number): HistoryEntry[] | undefined {
  const random = seededRandom(seed);
  const fits = generated.history.filter((e) =>
    mutation === "drop-event" ? e.kind === "watch-fired" : e.kind === "call" && e.mode === "sequential" && e.result !== undefined && generated.staleStates.has(e.id),
  );
  const victim = fits[Math.floor(random() * fits.length)];
  if (!victim) return undefined;
  if (victim.kind !== "call") return generated.history.filter((e) => e !== victim);
  const stale = generated.staleStates.get(victim.id)!;
  return generated.history.map((e) => (e === victim ? { ...victim, result: { ok: true, state: stale.state, zxid: stale.zxid } } : e));
}
