/**
 * The simulated directory: it keeps where the shard's leader is (its placement, in
 * storage that outlives its crashes), tells sessions where to send writes, and runs
 * handovers (core/handover.ts) over the network, resuming a stored one at each start.
 */
import {
  DEFAULT_HANDOVER_SETTINGS, recordHandover, runHandover,
  type CopyState, type Fenced, type Handover, type HandoverCalls, type HandoverOutcome, type HandoverSettings, type HandoverStep, type Placement, type PlacementStore,
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

export class DirectoryNode {
  readonly name = DIRECTORY;
  readonly storage = new MemoryStorage();
  incarnation: Owner = { alive: false };
  /** Every move's end, and every seal's zxid, for the run's checks. */
  readonly outcomes: HandoverOutcome[] = [];
  readonly seals: number[] = [];
  /** Each move's write pause: simulated ms from asking for the seal to the target leading. */
  readonly pausesMs: number[] = [];
  private sealingSince: number | undefined;
  /** Told of each step stored (a test crashes the directory there). */
  onStep: ((step: HandoverStep | "done", directory: DirectoryNode) => void) | undefined;
  private readonly scheduler: Scheduler;
  private readonly network: SimNetwork;

  constructor(scheduler: Scheduler, network: SimNetwork, leader: string) {
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
      takeOver: (copy, epoch, sealedZxid, waitMs) => ask<"led" | "behind" | Fenced>(copy, { type: "take-over", epoch, sealedZxid, waitMs }),
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
