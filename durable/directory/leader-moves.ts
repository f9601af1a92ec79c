/**
 * Planned moves of shards' leaders between regions, as a namespace's directory runs
 * them (`POST /v1/admin/shards/{shard}/leader`): each is recorded, then run step by
 * step by the replication core's handover (core/handover.ts) against the shard's
 * copies, reached over the directory's RegionLink. A move runs once per instance
 * (a request and the alarm that resumes it after a restart join the same run); moves
 * of different shards run side by side.
 */
import { KeeperError } from "../../protocol/index.ts";
import type { RegionLink } from "../base/region-link.ts";
import { type CopyState, DEFAULT_HANDOVER_SETTINGS, type Fenced, type HandoverCalls, type HandoverOutcome, type PlacementAdvice, recordHandover, runHandover } from "../replication/core/index.ts";
import { copyObjectName } from "../replication/replica-name.ts";
import { WORKER_CLOCK } from "../replication/worker-clock.ts";
import type { ShardLeaders } from "./shard-leaders.ts";

/** What a handover asks of a shard's copy (ShardDO's handover RPCs), and what its leader advises. */
interface HandoverCopy {
  placementAdvice(preferred?: string): Promise<PlacementAdvice | null>;
  handoverState(): Promise<CopyState>;
  seal(epoch: number): Promise<number | Fenced | "holding">;
  takeOver(epoch: number, sealedZxid: number, waitMs: number, syncReplicas: string[]): Promise<"led" | "behind" | Fenced>;
  reopen(epoch: number): Promise<"led" | Fenced>;
  follow(leader: string, epoch: number): Promise<true | Fenced>;
}

/** The handover's calls, each an RPC to the copy named. */
function handoverCalls(link: RegionLink): HandoverCalls {
  const copy = (name: string) => link.shard(name) as unknown as HandoverCopy;
  return {
    state: (name) => copy(name).handoverState(),
    seal: async (name, epoch) => {
      const sealed = await copy(name).seal(epoch);
      // Holding checks of a multi across shards: not sealed yet, as if unanswered (tried again until the seal's time runs out).
      if (sealed === "holding") throw new Error(`${name} holds checks of a multi across shards`);
      return sealed;
    },
    takeOver: (name, epoch, sealedZxid, waitMs, syncReplicas) => copy(name).takeOver(epoch, sealedZxid, waitMs, syncReplicas),
    reopen: (name, epoch) => copy(name).reopen(epoch),
    follow: (name, leader, epoch) => copy(name).follow(leader, epoch),
  };
}

/** Refuses (BadArguments) a deployment without simulated regions, or a region not among them. */
export function checkRegion(regions: readonly string[] | undefined, region: unknown): asserts region is string {
  if (!regions) throw new KeeperError("BadArguments", "this deployment has no regions to place a leader in (EDGEKEEPER_REGIONS; npm start -- --regions ...)");
  if (typeof region !== "string" || !regions.includes(region)) throw new KeeperError("BadArguments", `unknown region ${JSON.stringify(region)}: the regions are ${regions.join(", ")}`);
}

export class LeaderMoves {
  private readonly leaders: ShardLeaders;
  private readonly link: RegionLink;
  private readonly firstObject: (shard: string) => string;
  /** This instance's runs, by shard. */
  private readonly running = new Map<string, Promise<HandoverOutcome | undefined>>();

  constructor(leaders: ShardLeaders, link: RegionLink, firstObject: (shard: string) => string) {
    this.leaders = leaders;
    this.link = link;
    this.firstObject = firstObject;
  }

  /**
   * Records a move of `shard`'s leader to its copy in `region`, then runs it: answers
   * how it ended (moved, or abandoned with nothing lost). Refused, with nothing
   * recorded: a deployment without regions, an unknown region, the region that leads
   * already (BadArguments), a move of the shard under way (ReconfigInProgress).
   */
  async move(shard: string, region: unknown): Promise<HandoverOutcome> {
    const regions = this.link.regions;
    checkRegion(regions, region);
    const target = copyObjectName(this.firstObject(shard), region, regions);
    const recorded = recordHandover(this.leaders.store(shard), target, WORKER_CLOCK.now());
    if (typeof recorded === "string") {
      const underWay = this.leaders.placement(shard).move !== null;
      throw new KeeperError(underWay ? "ReconfigInProgress" : "BadArguments", underWay ? `a move of shard ${shard}'s leader is under way: wait for it to end` : `the leader of shard ${shard} is in ${region} already`);
    }
    const outcome = await this.run(shard);
    // Another run ended it first (the alarm's, after a restart): the placement says how.
    return outcome ?? { kind: "moved", leader: this.leaders.leaderOf(shard), epoch: this.leaders.placement(shard).epoch };
  }

  /** Runs the shard's stored move to its end, or joins this instance's run of it; undefined when none is stored. */
  run(shard: string): Promise<HandoverOutcome | undefined> {
    const running = this.running.get(shard);
    if (running) return running;
    const run = runHandover(this.leaders.store(shard), handoverCalls(this.link), WORKER_CLOCK, DEFAULT_HANDOVER_SETTINGS).finally(() => this.running.delete(shard));
    this.running.set(shard, run);
    return run;
  }

  /**
   * Moves the shard's leader where its advice says (the preferred region, else where
   * its writes come from: core/leader-placement.ts, whose rules keep it from flapping),
   * unless a move is under way or none is advised. Answers how the move ended, or
   * undefined when none was made.
   */
  async followAdvice(shard: string): Promise<HandoverOutcome | undefined> {
    const placement = this.leaders.placement(shard);
    if (placement.move) return undefined;
    const { preferredRegion } = this.leaders.settings(shard);
    const copy = this.link.shard(placement.leader) as unknown as HandoverCopy;
    const advice = await copy.placementAdvice(preferredRegion ?? undefined);
    if (!advice?.move) return undefined;
    return this.move(shard, advice.region);
  }

  /** Runs every stored move to its end (the directory's alarm, after a restart). */
  async resumeAll(): Promise<void> {
    await Promise.all([...this.leaders.movesUnderWay().keys()].map((shard) => this.run(shard)));
  }
}
