/**
 * The simulated directory: it keeps where the shard's leader is (its placement, in
 * storage that outlives its crashes), tells sessions where to send writes, and runs
 * handovers (core/handover.ts) over the network, resuming a stored one at each start.
 * For a geo-tier shard it also watches the leader: silent for DETECT_MS to it and to
 * a sync replica (a second region), the leader is failed over (core/failover.ts).
 */
import {
  DEFAULT_HANDOVER_SETTINGS, recordFailover, recordHandover, runFailover, runHandover,
  type CopyState, type FailoverCalls, type FailoverStep, type Fenced, type Handover, type HandoverCalls, type HandoverOutcome, type HandoverSettings, type HandoverStep, type Placement, type PlacementStore,
} from "../../durable/replication/core/index.ts";
import { MemoryStorage } from "./memory-storage.ts";
import type { SimNetwork } from "./network.ts";
import type { HandoverRequest } from "./nodes.ts";
import type { Owner, Scheduler } from "./scheduler.ts";

export const DIRECTORY = "D";

/** What a session asks the directory: where the shard's leader is. */
export interface WhereRequest {
  type: "where";
}

export const SIM_HANDOVER_SETTINGS: HandoverSettings = { ...DEFAULT_HANDOVER_SETTINGS, catchUpMs: 3_000, catchUpEntries: 8, sealMs: 1_500, takeOverWaitMs: 400 };

/** How often the directory asks a geo-tier leader how it is, and how long silent before it is failed over (longer than a restart). */
const PROBE_EVERY_MS = 200;
export const DETECT_MS = 2_000;
/** How often a failover waiting on a copy tries again. */
const FAILOVER_RETRY_MS = 250;

export class DirectoryNode {
  readonly name: string;
  readonly storage = new MemoryStorage();
  incarnation: Owner = { alive: false };
  /** Every move's end, and every seal's zxid, for the run's checks. */
  readonly outcomes: HandoverOutcome[] = [];
  readonly seals: number[] = [];
  /** Each move's write pause: simulated ms from asking for the seal to the target leading. */
  readonly pausesMs: number[] = [];
  private sealingSince: number | undefined;
  /** When each failover's old leader was last heard (its epoch's key). */
  private readonly silentSince = new Map<number, number>();
  /** Told of each step stored (a test crashes the directory there). */
  onStep: ((step: HandoverStep | "done", directory: DirectoryNode) => void) | undefined;
  /** Every failover's epoch once its candidate led, with when the leader was last heard and when the new one led. */
  readonly failovers: Array<{ epoch: number; silentAt: number; ledAt: number }> = [];
  /** Told of each failover step stored (a test crashes the directory there). */
  onFailoverStep: ((step: FailoverStep) => void) | undefined;
  /** The shard's copies now (a failover tells each). */
  copies: () => string[] = () => [];
  private lastHeard = 0;
  private readonly scheduler: Scheduler;
  private readonly network: SimNetwork;

  constructor(scheduler: Scheduler, network: SimNetwork, leader: string, name = DIRECTORY) {
    this.name = name;
    this.scheduler = scheduler;
    this.network = network;
    this.storage.read((txn) => txn.put<Placement>("meta", "placement", { leader, epoch: 1, move: null }));
  }

  get up(): boolean {
    return this.incarnation.alive;
  }

  placement(): Placement {
    return this.storage.read((txn) => txn.get<Placement>("meta", "placement")!);
  }

  crash(): void {
    this.incarnation.alive = false;
  }

  /** A new instance: it answers again, and finishes the move its storage holds. */
  start(): void {
    this.incarnation.alive = false;
    this.incarnation = { alive: true };
    this.network.serve(this.name, this.incarnation, async () => this.placement());
    if (this.placement().move) void this.run();
    this.lastHeard = this.scheduler.now;
    const failover = this.placement().failover;
    if (failover && failover.step !== "done") void this.runFailover();
    if (this.placement().syncReplicas?.length) this.scheduler.after(PROBE_EVERY_MS, this.incarnation, () => void this.watchLeader());
  }

  /** Makes the shard geo-tier: its leader acknowledges once one of `replicas` holds a write, and is failed over when it goes silent. */
  makeGeo(replicas: string[]): void {
    this.store().write({ ...this.placement(), syncReplicas: replicas });
    this.scheduler.after(PROBE_EVERY_MS, this.incarnation, () => void this.watchLeader());
  }

  /**
   * One look at the leader, then the next: answered, it is alive; silent past
   * DETECT_MS, a sync replica is asked whether it reaches the leader, and a failover
   * starts when one does not (two regions agree).
   */
  private async watchLeader(): Promise<void> {
    const owner = this.incarnation;
    const placement = this.placement();
    const busy = placement.move || (placement.failover && placement.failover.step !== "done");
    if (!busy) {
      const answered = await this.network.request(this.name, owner, placement.leader, { type: "state" } satisfies HandoverRequest).then(() => true, () => false);
      if (answered) this.lastHeard = this.scheduler.now;
      else if (this.scheduler.now - this.lastHeard > DETECT_MS && (await this.secondOpinion(owner, placement.syncReplicas ?? []))) this.failover(placement);
    } else this.lastHeard = this.scheduler.now;
    if (owner.alive) this.scheduler.after(PROBE_EVERY_MS, owner, () => void this.watchLeader());
  }

  /** Whether a sync replica, asked, does not reach the leader either. */
  private async secondOpinion(owner: { alive: boolean }, replicas: string[]): Promise<boolean> {
    const answers = await Promise.all(replicas.map((copy) => this.network.request<boolean>(this.name, owner, copy, { type: "probe" } satisfies HandoverRequest).catch(() => undefined)));
    return answers.includes(false);
  }

  private failover(placement: Placement): void {
    if (!this.up) return;
    const recorded = recordFailover(this.store(), { from: placement.leader, copies: this.copies() }, this.scheduler.now);
    if (typeof recorded === "string") return;
    this.silentSince.set(recorded.epoch, this.lastHeard);
    this.onFailoverStep?.("promising");
    if (this.up) void this.runFailover();
  }

  /** Runs the stored failover until its candidate leads and every copy was told, trying again while one cannot be reached. */
  private async runFailover(): Promise<void> {
    const owner = this.incarnation;
    const ask = <A>(copy: string, request: HandoverRequest) => this.network.request<A>(this.name, owner, copy, request);
    const calls: FailoverCalls = {
      promise: (copy, epoch) => ask<CopyState | Fenced>(copy, { type: "promise", epoch }),
      reopen: (copy, epoch) => ask<"led" | Fenced>(copy, { type: "reopen", epoch }),
      promote: (copy, epoch, syncReplicas) => ask<"led" | Fenced>(copy, { type: "promote", epoch, syncReplicas }),
      stepDown: (copy, leader, epoch, keepThrough) => ask<{ appliedZxid: number } | Fenced>(copy, { type: "step-down", leader, epoch, keepThrough }),
    };
    const onStep = (step: FailoverStep) => {
      const failover = this.placement().failover!;
      if (step === "led") this.failovers.push({ epoch: failover.epoch, silentAt: this.silentSince.get(failover.epoch) ?? failover.startedAt, ledAt: this.scheduler.now });
      this.onFailoverStep?.(step);
    };
    for (;;) {
      const outcome = await runFailover(this.store(), calls, this.scheduler.clockFor(owner), { waitMs: FAILOVER_RETRY_MS, retryMs: 50, onStep }).catch((error: unknown) => {
        if (owner.alive) throw error;
        return undefined;
      });
      if (!owner.alive || !outcome || (outcome.kind === "failed-over" && outcome.pending.length === 0)) return;
      await this.scheduler.sleep(FAILOVER_RETRY_MS, owner);
    }
  }

  /** Starts a move of the leader to `target`; false when one is under way (or it leads already). */
  move(target: string): boolean {
    if (!this.up) return false;
    const recorded = recordHandover(this.store(), target, this.scheduler.now);
    if (typeof recorded === "string") return false;
    this.onStep?.("intent", this);
    if (this.up) void this.run();
    return true;
  }

  private store(): PlacementStore {
    const storage = this.storage.handle(this.incarnation);
    return {
      read: () => storage.transact((txn) => txn.get<Placement>("meta", "placement")!),
      write: (placement) => storage.transact((txn) => txn.put("meta", "placement", placement)),
    };
  }

  private async run(): Promise<void> {
    const owner = this.incarnation;
    const ask = <A>(copy: string, request: HandoverRequest) => this.network.request<A>(this.name, owner, copy, request);
    const calls: HandoverCalls = {
      state: (copy) => ask<CopyState>(copy, { type: "state" }),
      seal: (copy, epoch) => ask<number | Fenced>(copy, { type: "seal", epoch }),
      takeOver: (copy, epoch, sealedZxid, waitMs, syncReplicas) => ask<"led" | "behind" | Fenced>(copy, { type: "take-over", epoch, sealedZxid, waitMs, syncReplicas }),
      reopen: (copy, epoch) => ask<"led" | Fenced>(copy, { type: "reopen", epoch }),
      follow: (copy, leader, epoch) => ask<true | Fenced>(copy, { type: "follow", leader, epoch }),
    };
    const store = this.store();
    const onStep = (step: HandoverStep | "done") => {
      const move: Handover | null = this.placement().move;
      if (step === "sealed" && move) this.seals.push(move.sealedZxid);
      if (step === "sealing") this.sealingSince = this.scheduler.now;
      if (step === "led" && this.sealingSince !== undefined) this.pausesMs.push(this.scheduler.now - this.sealingSince);
      if (step === "led" || step === "abandoning") this.sealingSince = undefined;
      this.onStep?.(step, this);
    };
    // A crash in the middle of its synchronous work ends it at its next storage call.
    const outcome = await runHandover(store, calls, this.scheduler.clockFor(owner), SIM_HANDOVER_SETTINGS, onStep).catch((error: unknown) => {
      if (owner.alive) throw error;
      return undefined;
    });
    if (outcome) this.outcomes.push(outcome);
  }
}
