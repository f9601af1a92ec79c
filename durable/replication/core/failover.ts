/**
 * A failover: the shard's leader cannot be reached, so one of its copies is made
 * leader without it, as steps the directory stores before it acts on each, so that
 * any restart resumes it:
 *
 * 1. promising: the next epoch is stored (handed out), then every candidate promises
 *    it (LeaderLog.promise): from then on none applies anything from the old leader.
 *    A geo-tier shard's candidates are its sync replicas, all of them: the old leader
 *    acknowledges a write once one of them holds it, so once both promised it
 *    acknowledges nothing more, and every write it acknowledged is on one of them.
 *    Forward only: the old leader may be cut off, not gone, so nothing is undone;
 * 2. promoting: the candidate holding the most, by (epoch, zxid), is stored with its
 *    head (`keepThrough`), then leads the epoch, its log going on from there;
 * 3. led: the placement names it; every other copy is told (LeaderLog.stepDown), the
 *    old leader whenever it is reached again: what its rows show past `keepThrough`
 *    is dropped for a snapshot. What the old leader had applied past it is recorded
 *    (`dropped`): for a geo-tier shard, writes no client was told of; for a forced
 *    promotion of a regional shard, writes that may have been acknowledged.
 *
 * A candidate must also hold what the leader counted acknowledged when it began to
 * lead (`Placement.ledFrom`: a handover's sealed zxid, a failover's promoted head),
 * which no sync replica may have held yet: one that is behind it is not promoted
 * either (a forced promotion takes what it names).
 *
 * Fencing is by the copies' storage, never by a timer. A candidate mid-snapshot
 * promises (so it acknowledges nothing more) but is not promoted: its rows are partial.
 * Its snapshot began when it was new to the role (a stepped-down leader) or had been
 * away past its lease: what it acknowledged before is on the others unless a second
 * copy was away meanwhile. When no candidate may lead (mid-snapshot or behind), none can finish it
 * (having promised, none takes the old leader's pages): the old leader, once reached,
 * leads the failover's epoch itself (`abandoned`), as an abandoned move's does.
 */
import { zxidEpoch } from "../../../protocol/index.ts";
import { type CopyState, type Placement, type PlacementStore, advanceStep } from "./handover.ts";
import type { Fenced } from "./messages.ts";
import type { Clock } from "./ports.ts";

export type FailoverStep = "promising" | "promoting" | "led" | "done";

export interface Failover {
  step: FailoverStep;
  /** The leader given up on. */
  from: string;
  epoch: number;
  /** The copies that promise; the one holding the most leads. */
  candidates: string[];
  /** The copies to tell once a candidate leads, the old leader among them; each is dropped once told. */
  toTell: string[];
  /** The promoted leader's sync replicas (none: the shard stays regional). */
  syncReplicas: string[];
  /** An operator's promotion of a regional shard, which may lose acknowledged writes. */
  forced: boolean;
  /** The promoted candidate and its head when promoted (promoting on). */
  target?: string;
  keepThrough?: number;
  /** What the old leader had applied past keepThrough, once it was told: the zxids it dropped. */
  dropped?: { fromZxid: number; toZxid: number };
  /** Why it ended with the old leader leading its epoch (no candidate may lead, the old leader reached). */
  abandoned?: string;
  startedAt: number;
  stepAt: number;
}

/** Calls to the shard's copies; each may fail (reject) or be lost. */
export interface FailoverCalls {
  promise(copy: string, epoch: number): Promise<CopyState | Fenced>;
  /** The old leader leads the failover's epoch itself (LeaderLog.reopen): no candidate could. */
  reopen(copy: string, epoch: number): Promise<"led" | Fenced>;
  promote(copy: string, epoch: number, syncReplicas: string[]): Promise<"led" | Fenced>;
  stepDown(copy: string, leader: string, epoch: number, keepThrough: number): Promise<{ appliedZxid: number } | Fenced>;
}

export interface FailoverPlan {
  /** The leader found silent: the failover is refused if another leads now. */
  from: string;
  /** Every copy of the shard but the leader (the candidates among them). */
  copies: string[];
  /**
   * An operator's forced promotion of a regional shard: the copies that may lead (the
   * one holding the most does). Absent: the shard's sync replicas, all of them.
   */
  forced?: string[];
}

export type FailoverOutcome =
  /** A candidate leads; `pending`: copies not told yet (the old leader while it cannot be reached). */
  | { kind: "failed-over"; leader: string; epoch: number; pending: string[] }
  /** Not yet: a candidate cannot be reached, or none may lead (the run goes on at the next try). */
  | { kind: "waiting"; reason: string };

/**
 * Records a failover from the leader found silent (its first step), or says why not:
 * another leads now, one is under way, there are no candidates, or a move's target
 * leads already or is about to (a move not that far is dropped: its target never led).
 */
export function recordFailover(store: PlacementStore, plan: FailoverPlan, now: number): Failover | string {
  const placement = store.read();
  const under = placement.failover;
  if (placement.leader !== plan.from) return `${placement.leader} leads the shard now, not ${plan.from}`;
  if (under && under.step !== "done") return `a failover of this shard to epoch ${under.epoch} is under way`;
  if (placement.move && (placement.move.step === "sealed" || placement.move.step === "led")) return `a move of this shard's leader to ${placement.move.target} is finishing`;
  const candidates = plan.forced ?? placement.syncReplicas ?? [];
  if (candidates.length === 0) return "the shard has no copy to promote";
  const epoch = Math.max(placement.epoch, placement.move?.epoch ?? 0) + 1;
  const failover: Failover = {
    step: "promising",
    from: placement.leader,
    epoch,
    candidates: [...candidates],
    toTell: plan.copies.filter((copy) => copy !== placement.leader).concat(placement.leader),
    syncReplicas: [],
    forced: plan.forced !== undefined,
    startedAt: now,
    stepAt: now,
  };
  store.write({ ...placement, move: null, epoch, failover });
  return failover;
}

/**
 * Runs the stored failover as far as the copies allow (none stored, or done:
 * undefined): promising and promoting until a candidate leads (retrying while one
 * cannot be reached, for at most `waitMs`), then telling every other copy once each.
 * A geo-tier shard's new leader acknowledges through the other sync replicas and the
 * old leader, in its place (once back, it holds the log again). `onStep` is told of
 * each step stored.
 */
export async function runFailover(
  store: PlacementStore,
  calls: FailoverCalls,
  clock: Clock,
  options: { waitMs: number; retryMs: number; onStep?: (step: FailoverStep) => void },
): Promise<FailoverOutcome | undefined> {
  const deadline = clock.now() + options.waitMs;
  /** Stores `next` if the failover is still at `from`'s step; says whether it was. */
  const advance = (from: Failover, next: Placement): boolean => {
    if (!advanceStep(store, (placement) => placement.failover, from, next)) return false;
    options.onStep?.(next.failover!.step);
    return true;
  };
  for (;;) {
    const placement = store.read();
    const failover = placement.failover;
    if (!failover || failover.step === "done") return undefined;
    const waiting = (reason: string): FailoverOutcome | undefined => (clock.now() >= deadline ? { kind: "waiting", reason } : undefined);
    switch (failover.step) {
      case "promising": {
        const promises = await Promise.all(failover.candidates.map((copy) => calls.promise(copy, failover.epoch).catch(() => undefined)));
        const unanswered = failover.candidates.filter((_, i) => promises[i] === undefined || "kind" in promises[i]!);
        // A candidate may lead only whole, and holding what the leader counted acknowledged when it began to lead.
        const ledFrom = failover.forced ? 0 : (placement.ledFrom ?? 0);
        const whole = failover.candidates.filter((_, i) => {
          const state = promises[i] as CopyState | undefined;
          return state?.snapshot === false && state.appliedZxid >= ledFrom;
        });
        if (unanswered.length === 0 && whole.length > 0) {
          const best = mostAdvanced(whole, whole.map((copy) => promises[failover.candidates.indexOf(copy)] as CopyState));
          const syncReplicas = (placement.syncReplicas ?? []).map((copy) => (copy === best.copy ? failover.from : copy));
          advance(failover, { ...placement, failover: { ...failover, step: "promoting", target: best.copy, keepThrough: best.appliedZxid, syncReplicas, stepAt: clock.now() } });
          break;
        }
        // A candidate that follows the old leader in this very epoch says the old leader leads it
        // already: it reopened it, and the directory stopped before storing that (the step below, again).
        const reopened = promises.some((answer) => answer !== undefined && "kind" in answer && answer.role === "replica" && answer.epoch === failover.epoch && answer.leader === failover.from);
        if (unanswered.length === 0 || reopened) {
          // No candidate can lead, and having promised, none takes the old leader's pages to finish
          // its snapshot or catch up: the old leader, if reached, leads the epoch itself (nothing was promoted).
          const led = await calls.reopen(failover.from, failover.epoch).catch(() => undefined);
          const abandoned = "no candidate holds what the leader acknowledged, whole: the old leader leads on";
          if (led === "led" && advance(failover, { ...placement, failover: { ...failover, step: "done", toTell: [], abandoned, stepAt: clock.now() } })) return { kind: "failed-over", leader: failover.from, epoch: failover.epoch, pending: [] };
        }
        const why = unanswered.length > 0 ? `${unanswered.join(", ")} did not promise epoch ${failover.epoch}` : `no candidate holds zxid ${ledFrom.toString(16)} whole (taking a snapshot, or behind), and ${failover.from} did not lead on`;
        const outcome = waiting(why);
        if (outcome) return outcome;
        await clock.sleep(options.retryMs).elapsed;
        break;
      }
      case "promoting": {
        const led = await calls.promote(failover.target!, failover.epoch, failover.syncReplicas).catch(() => undefined);
        if (led === "led") advance(failover, { ...placement, leader: failover.target!, syncReplicas: failover.syncReplicas, ledFrom: failover.keepThrough!, failover: { ...failover, step: "led", toTell: failover.toTell.filter((copy) => copy !== failover.target), stepAt: clock.now() } });
        else {
          const outcome = waiting(`${failover.target} did not take the lead${led ? `: it is ${led.role} at epoch ${led.epoch}` : ""}`);
          if (outcome) return outcome;
          await clock.sleep(options.retryMs).elapsed;
        }
        break;
      }
      case "led":
        return tellCopies(store, calls, failover, clock, options.onStep);
    }
  }
}

/**
 * Tells each copy still to be told that the candidate leads (once: each is dropped from
 * `toTell` when it answers), recording what the old leader dropped.
 */
async function tellCopies(store: PlacementStore, calls: FailoverCalls, failover: Failover, clock: Clock, onStep?: (step: FailoverStep) => void): Promise<FailoverOutcome> {
  const leader = failover.target!;
  const keepThrough = failover.keepThrough!;
  const answers = await Promise.all(failover.toTell.map((copy) => calls.stepDown(copy, leader, failover.epoch, keepThrough).catch(() => undefined)));
  const placement = store.read();
  const now = placement.failover;
  if (now?.step !== "led" || now.epoch !== failover.epoch) return { kind: "failed-over", leader, epoch: failover.epoch, pending: now?.toTell ?? [] };
  const told = new Set<string>();
  let dropped = now.dropped;
  failover.toTell.forEach((copy, i) => {
    const answer = answers[i];
    if (answer === undefined) return;
    // A copy fenced by a later epoch has been told more since; either way it needs nothing from this failover.
    told.add(copy);
    // Asked again after a lost answer, it may have resynced meanwhile: only its old epochs' zxids were its own.
    if (copy === failover.from && !("kind" in answer) && answer.appliedZxid > keepThrough && zxidEpoch(answer.appliedZxid) < failover.epoch) dropped = { fromZxid: keepThrough, toZxid: answer.appliedZxid };
  });
  const toTell = now.toTell.filter((copy) => !told.has(copy));
  const step: FailoverStep = toTell.length === 0 ? "done" : "led";
  if (told.size > 0) {
    store.write({ ...placement, failover: { ...now, step, toTell, ...(dropped ? { dropped } : {}), stepAt: clock.now() } });
    if (step === "done") onStep?.("done");
  }
  return { kind: "failed-over", leader, epoch: failover.epoch, pending: toTell };
}

/** The candidate holding the most, by (epoch, zxid): zxids carry their epoch in their high bits, so the zxid alone. */
function mostAdvanced(candidates: string[], states: CopyState[]): { copy: string; appliedZxid: number } {
  let best = 0;
  states.forEach((state, i) => {
    if (state.appliedZxid > states[best]!.appliedZxid) best = i;
  });
  return { copy: candidates[best]!, appliedZxid: states[best]!.appliedZxid };
}
