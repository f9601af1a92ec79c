/**
 * A planned move of a shard's leader to one of its replicas (a handover), as steps
 * the directory stores before it acts on each, so that any restart resumes it:
 *
 * 1. intent: recorded; the target catches up (within `catchUpMs`, else the move is
 *    abandoned with nothing sealed);
 * 2. sealing: the old leader is asked to seal at the next epoch (it stops writing and
 *    answers writes fenced, naming no successor yet); unanswered for `sealMs`, the move
 *    is abandoned: the old leader is asked to lead that epoch itself (abandoning), which
 *    a seal still on its way can no longer undo;
 * 3. sealed: the old leader's last zxid is known; the target, once it has applied it
 *    (so it holds every write the old leader acknowledged, and their stored replies),
 *    leads the new epoch. From here the move only goes forward: nothing else may lead
 *    that epoch;
 * 4. led: the placement names the target; the old leader is told to follow it (its
 *    fenced answers then point callers and pullers there), and the move ends.
 *
 * Each step is compare-and-set on the step it came from, so two runners of one move
 * (a restart's and a request's) never both act on a transition. Fencing is by the
 * copies' storage (core/leader.ts), never by a timer: a sealed leader writes nothing
 * more, and a target leads only above every epoch it promised.
 */
import { zxidCounter, zxidEpoch } from "../../../protocol/index.ts";
import type { Failover } from "./failover.ts";
import type { Fenced } from "./messages.ts";
import type { Clock } from "./ports.ts";
import type { Role } from "./rows.ts";

export type HandoverStep = "intent" | "sealing" | "sealed" | "led" | "abandoning";

export interface Handover {
  from: string;
  target: string;
  step: HandoverStep;
  /** The epoch the target is to lead (0 until the old leader is asked to seal). */
  epoch: number;
  /** The old leader's last zxid once it sealed (0 before). */
  sealedZxid: number;
  /** When the move was recorded and when its step began, by the directory's clock. */
  startedAt: number;
  stepAt: number;
  /** Why it is being abandoned (abandoning). */
  reason?: string;
  /** A geo-tier shard's sync replicas once the target leads: the old leader in the target's place. */
  syncReplicas?: string[];
}

/** Where one shard's leader is, as the directory stores it. */
export interface Placement {
  leader: string;
  /** The highest epoch handed out for the shard: its leader's, or an abandoned move's (which its old leader then leads). */
  epoch: number;
  move: Handover | null;
  /** The last failover (failover.ts): under way until its step is "done". */
  failover?: Failover;
  /** A geo-tier shard's sync replicas (absent or empty: the shard is regional). */
  syncReplicas?: string[];
  /**
   * What its leader held when it began to lead, by a handover or a failover (or when
   * the shard became geo-tier): it counts all of it as acknowledged, so a failover
   * promotes only a copy holding at least this much.
   */
  ledFrom?: number;
}

/** The directory's record of one shard's placement: read and written synchronously and durably. */
export interface PlacementStore {
  read(): Placement;
  write(placement: Placement): void;
}

/** A copy of the shard as it describes itself. */
export interface CopyState {
  role: Role;
  epoch: number;
  promisedEpoch: number;
  appliedZxid: number;
  /** Taking a snapshot: it cannot lead until it has one. */
  snapshot: boolean;
}

/** The handover's calls to the shard's copies; each may fail (reject) or be lost. */
export interface HandoverCalls {
  state(copy: string): Promise<CopyState>;
  seal(copy: string, epoch: number): Promise<number | Fenced>;
  /** At the target: waits up to `waitMs` for it to apply `sealedZxid`, then LeaderLog.takeOver, acknowledging through `syncReplicas`. */
  takeOver(copy: string, epoch: number, sealedZxid: number, waitMs: number, syncReplicas: string[]): Promise<"led" | "behind" | Fenced>;
  reopen(copy: string, epoch: number): Promise<"led" | Fenced>;
  follow(copy: string, leader: string, epoch: number): Promise<true | Fenced>;
}

export interface HandoverSettings {
  /** How long the target may take to catch up before anything is sealed; past it the move is abandoned. */
  catchUpMs: number;
  /** The target counts as caught up at most this many entries behind the leader (the rest it applies after the seal). */
  catchUpEntries: number;
  /** How long the old leader may leave the seal unanswered before the move is abandoned. */
  sealMs: number;
  /** How long one takeOver call waits at the target for the sealed zxid. */
  takeOverWaitMs: number;
  /** The pause between two tries of a call that failed or was not ready. */
  retryMs: number;
}

export const DEFAULT_HANDOVER_SETTINGS: HandoverSettings = { catchUpMs: 10_000, catchUpEntries: 64, sealMs: 5_000, takeOverWaitMs: 1_000, retryMs: 50 };

export type HandoverOutcome =
  | { kind: "moved"; leader: string; epoch: number }
  | { kind: "abandoned"; leader: string; epoch: number; reason: string };

/**
 * Stores `next` if the step storage holds (`current` of the placement: a move's or a
 * failover's) is still `from`'s, the same step begun at the same time; says whether it
 * was. So two runners of one move or failover never both act on a transition.
 */
export function advanceStep<S extends { step: string; stepAt: number }>(store: PlacementStore, current: (placement: Placement) => S | null | undefined, from: S, next: Placement): boolean {
  const now = current(store.read());
  if (now?.step !== from.step || now.stepAt !== from.stepAt) return false;
  store.write(next);
  return true;
}

/**
 * Records a move of the shard's leader to `target` (its first step), or says why not:
 * one is under way already, or the target leads.
 */
export function recordHandover(store: PlacementStore, target: string, now: number): Handover | string {
  const placement = store.read();
  if (placement.move) return `a move of this shard's leader to ${placement.move.target} is under way`;
  if (placement.failover && placement.failover.step !== "done") return `a failover of this shard to epoch ${placement.failover.epoch} is under way`;
  if (placement.leader === target) return `${target} leads the shard already`;
  const move: Handover = { from: placement.leader, target, step: "intent", epoch: 0, sealedZxid: 0, startedAt: now, stepAt: now };
  if (placement.syncReplicas?.length) move.syncReplicas = placement.syncReplicas.map((copy) => (copy === target ? placement.leader : copy));
  store.write({ ...placement, move });
  return move;
}

/**
 * Runs the stored move to its end from the step storage says (none stored:
 * undefined). `onStep` is told of each step stored (the simulator crashes there).
 */
export async function runHandover(store: PlacementStore, calls: HandoverCalls, clock: Clock, settings: HandoverSettings, onStep?: (step: HandoverStep | "done") => void): Promise<HandoverOutcome | undefined> {
  const pause = () => clock.sleep(settings.retryMs).elapsed;
  /** Stores `next` if the move is still at `from`'s step; says whether it was. */
  const advance = (from: Handover, next: Placement): boolean => {
    if (!advanceStep(store, (placement) => placement.move, from, next)) return false;
    onStep?.(next.move?.step ?? "done");
    return true;
  };
  const step = (placement: Placement, move: Handover, changes: Partial<Handover>): boolean =>
    advance(move, { ...placement, move: { ...move, ...changes, stepAt: clock.now() } });
  const abandon = (placement: Placement, move: Handover, reason: string): boolean => step(placement, move, { step: "abandoning", reason });

  for (;;) {
    const placement = store.read();
    const move = placement.move;
    if (!move) return undefined;
    switch (move.step) {
      case "intent": {
        const epoch = await caughtUp(placement, move, calls, clock, settings, pause);
        if (typeof epoch === "number") step(placement, move, { step: "sealing", epoch });
        // Nothing was sealed: the move just ends.
        else if (advance(move, { ...placement, move: null })) return { kind: "abandoned", leader: move.from, epoch: placement.epoch, reason: epoch.reason };
        break;
      }
      case "sealing": {
        const sealed = await calls.seal(move.from, move.epoch).catch(() => undefined);
        if (typeof sealed === "number") step(placement, move, { step: "sealed", sealedZxid: sealed });
        else if (sealed) abandon(placement, move, `${move.from} refused to seal: it is ${sealed.role} at epoch ${sealed.epoch}`);
        else if (clock.now() - move.stepAt > settings.sealMs) abandon(placement, move, `${move.from} did not answer the seal within ${settings.sealMs} ms`);
        else await pause();
        break;
      }
      case "sealed": {
        // Forward only: the old leader writes no more, and only the target may lead this epoch.
        const led = await calls.takeOver(move.target, move.epoch, move.sealedZxid, settings.takeOverWaitMs, move.syncReplicas ?? []).catch(() => undefined);
        const synced = move.syncReplicas ? { syncReplicas: move.syncReplicas } : {};
        if (led === "led") advance(move, { ...placement, ...synced, leader: move.target, epoch: move.epoch, ledFrom: move.sealedZxid, move: { ...move, step: "led", stepAt: clock.now() } });
        else if (led !== "behind") await pause();
        break;
      }
      case "led": {
        const told = await calls.follow(move.from, move.target, move.epoch).catch(() => undefined);
        if (told === undefined) await pause();
        else if (advance(move, { ...placement, move: null })) return { kind: "moved", leader: move.target, epoch: move.epoch };
        break;
      }
      case "abandoning": {
        const reopened = await calls.reopen(move.from, move.epoch).catch(() => undefined);
        if (reopened === undefined) await pause();
        else if (advance(move, { ...placement, leader: move.from, epoch: Math.max(placement.epoch, move.epoch), move: null })) return { kind: "abandoned", leader: move.from, epoch: move.epoch, reason: move.reason ?? "abandoned" };
        break;
      }
    }
  }
}

/**
 * Waits for the target to come within `catchUpEntries` of the leader, and answers the
 * epoch it is to lead (above every epoch either copy or the placement has seen), or
 * why the move cannot go on (the target does not catch up in time, or is no replica).
 */
async function caughtUp(placement: Placement, move: Handover, calls: HandoverCalls, clock: Clock, settings: HandoverSettings, pause: () => Promise<void>): Promise<number | { reason: string }> {
  for (;;) {
    if (clock.now() - move.startedAt > settings.catchUpMs) return { reason: `${move.target} did not catch up with ${move.from} within ${settings.catchUpMs} ms` };
    const states = await Promise.all([calls.state(move.from), calls.state(move.target)]).catch(() => undefined);
    if (states) {
      const [leader, target] = states;
      if (target.role !== "replica") return { reason: `${move.target} is not a replica of the shard (it is ${target.role})` };
      if (leader.role === "leader" && !target.snapshot && entriesBehind(target.appliedZxid, leader.appliedZxid) <= settings.catchUpEntries) {
        return Math.max(placement.epoch, leader.promisedEpoch, target.promisedEpoch) + 1;
      }
    }
    await pause();
  }
}

/** How many entries `applied` is behind `head`: counted within an epoch, unknown (infinite) across one. */
function entriesBehind(applied: number, head: number): number {
  if (applied >= head) return 0;
  return zxidEpoch(applied) === zxidEpoch(head) ? zxidCounter(head) - zxidCounter(applied) : Infinity;
}
