/**
 * Geo-tier shards, as a namespace's directory keeps them (`PUT /v1/admin/shards/{shard}`
 * with `{"tier": "geo"}`): the shard's leader acknowledges a write once one of two sync
 * replicas, the copies in the two regions nearest the leader's, holds it. The
 * directory watches each such leader from its alarm. When the leader has not answered
 * for the detection time (EDGEKEEPER_FAILOVER_DETECT_MS, longer than a restart or a
 * deploy) and no sync replica has heard from it either (a second region's view), the
 * directory fails it over (core/failover.ts): the sync replicas promise the next epoch,
 * the one holding the most leads, and every other copy is told, the old leader
 * whenever it is reached again. Each step is stored before it is acted on, so a
 * restarted directory resumes it.
 */
import { KeeperError } from "../../protocol/index.ts";
import { type Region, roundTripMs } from "../../protocol/regions.ts";
import type { RegionLink } from "../base/region-link.ts";
import { type CopyState, type Failover, type FailoverCalls, type FailoverOutcome, type Fenced, type Placement, recordFailover, runFailover } from "../replication/core/index.ts";
import { copiesOf, copyObjectName, copyRegion } from "../replication/replica-name.ts";
import { WORKER_CLOCK } from "../replication/worker-clock.ts";
import type { ShardLeaders } from "./shard-leaders.ts";
import { checkRegion } from "./leader-moves.ts";
import { lostCall } from "./shard-retry.ts";

export type Tier = "regional" | "geo";

/** What the directory asks of a geo-tier shard's copies (ShardDO's RPCs). */
interface GeoCopy {
  stats(root: string): Promise<unknown>;
  handoverState(): Promise<CopyState>;
  setSyncReplicas(syncReplicas: string[]): Promise<true | Fenced>;
  leaderContact(): Promise<{ msSinceContact: number | null } | null>;
  promise(epoch: number): Promise<CopyState | Fenced>;
  reopen(epoch: number): Promise<"led" | Fenced>;
  promote(epoch: number, syncReplicas: string[]): Promise<"led" | Fenced>;
  stepDown(leader: string, epoch: number, keepThrough: number): Promise<{ appliedZxid: number } | Fenced>;
}

/** A geo-tier shard as `GET /v1/admin/shards` shows it: its sync replicas' regions, and its last failover. */
export interface GeoPlacement {
  syncReplicas: string[];
  failover: FailoverView | null;
}

/** A failover as listed: regions, not object names. */
export interface FailoverView {
  step: Failover["step"];
  from: string | null;
  to: string | null;
  epoch: number;
  /** The copies not told yet (the old leader while it cannot be reached), by region. */
  pending: string[];
  /** The zxids the old leader had applied that the promoted copy did not hold, dropped when it was told. */
  dropped: { fromZxid: number; toZxid: number } | null;
  /** An operator's forced promotion: `dropped` may hold acknowledged writes. */
  forced: boolean;
  /** The promoted copy's last zxid when it was promoted (from promoting on). */
  keptThroughZxid: number | null;
  abandoned: string | null;
  startedAt: number;
  stepAt: number;
}

/** How long one call to a copy may take before it counts as unanswered. */
const CALL_TIMEOUT_MS = 2_000;
/** How long one run of a failover retries unanswered copies before the next alarm goes on. */
const FAILOVER_RUN_MS = 10_000;
const FAILOVER_RETRY_MS = 200;
/** The geo tier needs the leader's region and two others. */
const GEO_MIN_REGIONS = 3;

export class GeoTier {
  private readonly leaders: ShardLeaders;
  private readonly link: RegionLink;
  private readonly firstObject: (shard: string) => string;
  private readonly detectMs: number;
  /** When each geo-tier shard's leader last answered (this instance's memory: a restart starts the count again). */
  private readonly heard = new Map<string, number>();
  private readonly running = new Map<string, Promise<FailoverOutcome | undefined>>();

  constructor(leaders: ShardLeaders, link: RegionLink, firstObject: (shard: string) => string, detectMs: number) {
    this.leaders = leaders;
    this.link = link;
    this.firstObject = firstObject;
    this.detectMs = detectMs;
  }

  /** How often the directory's alarm watches the geo-tier leaders. */
  get watchEveryMs(): number {
    return Math.max(100, Math.min(5_000, Math.floor(this.detectMs / 4)));
  }

  tierOf(shard: string): Tier {
    return isGeo(this.leaders.placement(shard)) ? "geo" : "regional";
  }

  /**
   * Sets the tier of the shard mounted at `prefix`: geo names the copies in the two
   * regions nearest its leader's as sync replicas, regional names none. The leader is
   * told first, and the placement stores the list once it leads with it. Answers the
   * sync replicas' regions. Refused, with nothing changed: geo with fewer than three
   * regions (BadArguments); a move or a failover of the shard under way
   * (ReconfigInProgress); a copy that cannot be reached (ConnectionLoss).
   */
  async setTier(shard: string, prefix: string, tier: Tier): Promise<string[]> {
    try {
      return await this.tellTier(shard, prefix, tier);
    } catch (err) {
      throw lostCall(err);
    }
  }

  private async tellTier(shard: string, prefix: string, tier: Tier): Promise<string[]> {
    const regions = this.link.regions;
    if (tier === "geo" && (!regions || regions.length < GEO_MIN_REGIONS)) {
      throw new KeeperError("BadArguments", `the geo tier needs at least ${GEO_MIN_REGIONS} regions (its leader's and two for its sync replicas); this deployment has ${regions?.length ?? 0}`);
    }
    const placement = this.leaders.placement(shard);
    if (placement.move || failingOver(placement)) throw new KeeperError("ReconfigInProgress", `shard ${shard}'s leader is moving or failing over: set its tier once that ends`);
    const leader = this.copy(placement.leader);
    // A shard never written yet is set up, as its first request would.
    await leader.stats(prefix);
    const state = await leader.handoverState();
    const syncReplicas = tier === "geo" ? this.nearestCopies(shard, placement.leader) : [];
    // The sync replicas start pulling before the leader waits for them.
    await Promise.all(syncReplicas.map((name) => this.copy(name).leaderContact()));
    const set = await leader.setSyncReplicas(syncReplicas);
    if (set !== true) throw new KeeperError("ReconfigInProgress", `the copy that led shard ${shard} is ${set.role} now: try again`);
    // The epoch it leads, so that a failover's next epoch is above it; and what it held,
    // acknowledged without sync replicas, which a failover's new leader must hold too.
    const now = this.leaders.placement(shard);
    this.leaders.store(shard).write({ ...now, epoch: Math.max(now.epoch, state.epoch), syncReplicas, ledFrom: Math.max(now.ledFrom ?? 0, state.appliedZxid) });
    this.heard.set(shard, Date.now());
    return syncReplicas.map((name) => this.regionOf(name));
  }

  /** The geo-tier shards, and any that failed over, as listed. */
  placements(): Record<string, GeoPlacement> {
    const listed: Record<string, GeoPlacement> = {};
    for (const [shard, placement] of this.leaders.storedPlacements()) {
      if (isGeo(placement) || placement.failover) listed[shard] = this.viewOf(placement);
    }
    return listed;
  }

  /** One shard's sync replicas and last failover, as listed. */
  placementOf(shard: string): GeoPlacement {
    return this.viewOf(this.leaders.placement(shard));
  }

  private viewOf(placement: Placement): GeoPlacement {
    const failover = placement.failover;
    return {
      syncReplicas: (placement.syncReplicas ?? []).map((name) => this.regionOf(name)),
      failover: failover
        ? {
            step: failover.step,
            from: this.regionOf(failover.from),
            to: failover.target === undefined ? null : this.regionOf(failover.target),
            epoch: failover.epoch,
            pending: failover.step === "done" ? [] : failover.toTell.map((name) => this.regionOf(name)),
            dropped: failover.dropped ?? null,
            forced: failover.forced,
            keptThroughZxid: failover.keepThrough ?? null,
            abandoned: failover.abandoned ?? null,
            startedAt: failover.startedAt,
            stepAt: failover.stepAt,
          }
        : null,
    };
  }

  /** One watch of every geo-tier shard (the directory's alarm); answers whether any is watched (the alarm comes back). */
  async watch(): Promise<boolean> {
    const watched = [...this.leaders.storedPlacements()].filter(([, placement]) => isGeo(placement) || failingOver(placement)).map(([shard]) => shard);
    await Promise.all(watched.map((shard) => this.watchShard(shard)));
    return watched.length > 0;
  }

  /**
   * Asks the leader how it is and the sync replicas when they last heard from it. A
   * leader silent for the detection time, to the directory and to every sync replica
   * that answers (at least one must), is failed over; a failover under way goes on.
   */
  private async watchShard(shard: string): Promise<void> {
    const placement = this.leaders.placement(shard);
    if (failingOver(placement)) {
      await this.run(shard);
      return;
    }
    if (placement.move) return;
    const syncReplicas = placement.syncReplicas ?? [];
    const now = Date.now();
    const [state, ...contacts] = await Promise.all([
      this.call(this.copy(placement.leader).handoverState()),
      ...syncReplicas.map((name) => this.call(this.copy(name).leaderContact())),
    ]);
    if (state !== undefined) {
      this.heard.set(shard, now);
      if (state.epoch > placement.epoch) this.leaders.store(shard).write({ ...this.leaders.placement(shard), epoch: state.epoch });
      return;
    }
    const heard = this.heard.get(shard);
    if (heard === undefined) this.heard.set(shard, now);
    if (heard === undefined || now - heard < this.detectMs) return;
    const views = contacts.filter((contact) => contact !== undefined && contact !== null);
    const secondView = views.length > 0 && views.every((view) => view.msSinceContact === null || view.msSinceContact >= this.detectMs);
    if (!secondView) return;
    const recorded = recordFailover(this.leaders.store(shard), { from: placement.leader, copies: copiesOf(this.firstObject(shard), this.link.regions) }, now);
    if (typeof recorded === "string") {
      console.warn(`failover of shard ${shard} not started: ${recorded}`);
      return;
    }
    console.warn(`shard ${shard}'s leader ${placement.leader} silent for ${now - heard} ms: failing over to epoch ${recorded.epoch}`);
    await this.run(shard);
  }

  /**
   * An operator's forced promotion (`POST /v1/admin/shards/{shard}/promote`): the
   * shard's copy in `region` leads the next epoch with what it holds, its leader not
   * asked (it may be cut off, not gone). The writes that leader had acknowledged and
   * the copy had not applied are lost: the old leader drops them when it is reached
   * again, and the failover records them (`dropped`). A regional shard's leader is not
   * fenced: cut off but alive, it goes on acknowledging the writes that reach it until
   * it is reached. Refused, with nothing changed: `acceptDataLoss` not true, no regions
   * or an unknown one, the region that leads (BadArguments); a move or failover under
   * way (ReconfigInProgress). Answers once the copy leads, or why it does not yet (the
   * alarm goes on with it).
   */
  async forcePromote(shard: string, region: unknown, acceptDataLoss: unknown): Promise<FailoverOutcome | undefined> {
    checkRegion(this.link.regions, region);
    if (acceptDataLoss !== true) {
      throw new KeeperError("BadArguments", `a forced promotion loses every write the leader acknowledged that its copy in ${region} had not applied: confirm it with "acceptDataLoss": true`);
    }
    const placement = this.leaders.placement(shard);
    const target = copyObjectName(this.firstObject(shard), region, this.link.regions);
    if (target === placement.leader) throw new KeeperError("BadArguments", `the leader of shard ${shard} is in ${region} already`);
    const recorded = recordFailover(this.leaders.store(shard), { from: placement.leader, copies: copiesOf(this.firstObject(shard), this.link.regions), forced: [target] }, Date.now());
    if (typeof recorded === "string") throw new KeeperError("ReconfigInProgress", `shard ${shard}: ${recorded}`);
    console.warn(`FORCED PROMOTION of shard ${shard}'s copy in ${region} to epoch ${recorded.epoch}: writes ${placement.leader} acknowledged past what that copy holds are lost`);
    return this.run(shard);
  }

  /** Runs the shard's stored failover as far as its copies allow, or joins this instance's run of it. */
  run(shard: string): Promise<FailoverOutcome | undefined> {
    const running = this.running.get(shard);
    if (running) return running;
    const run = runFailover(this.leaders.store(shard), this.failoverCalls(), WORKER_CLOCK, { waitMs: FAILOVER_RUN_MS, retryMs: FAILOVER_RETRY_MS })
      .then((outcome) => {
        if (outcome?.kind === "failed-over") this.heard.set(shard, Date.now());
        return outcome;
      })
      .finally(() => this.running.delete(shard));
    this.running.set(shard, run);
    return run;
  }

  private failoverCalls(): FailoverCalls {
    return {
      promise: (name, epoch) => this.within(this.copy(name).promise(epoch)),
      reopen: (name, epoch) => this.within(this.copy(name).reopen(epoch)),
      promote: (name, epoch, syncReplicas) => this.within(this.copy(name).promote(epoch, syncReplicas)),
      stepDown: (name, leader, epoch, keepThrough) => this.within(this.copy(name).stepDown(leader, epoch, keepThrough)),
    };
  }

  /** The shard's copies in the two regions nearest the leader's, by round trip. */
  private nearestCopies(shard: string, leader: string): string[] {
    const regions = this.link.regions ?? [];
    const from = this.regionOf(leader) as Region;
    const others = regions.filter((region) => region !== from).sort((a, b) => roundTripMs(from, a) - roundTripMs(from, b));
    return others.slice(0, 2).map((region) => copyObjectName(this.firstObject(shard), region, regions));
  }

  private regionOf(name: string): string {
    return copyRegion(name, this.link.regions) ?? name;
  }

  private copy(name: string): GeoCopy {
    return this.link.shard(name) as unknown as GeoCopy;
  }

  /** `call`'s answer, or undefined when it failed or took longer than CALL_TIMEOUT_MS. */
  private call<T>(call: Promise<T>): Promise<T | undefined> {
    return this.within(call).catch(() => undefined);
  }

  /** `call`, rejected once it takes longer than CALL_TIMEOUT_MS (a copy in a region gone dark may never answer). */
  private async within<T>(call: Promise<T>): Promise<T> {
    // Given up on, it may still fail later: that is no unhandled rejection.
    call.catch(() => undefined);
    const sleep = WORKER_CLOCK.sleep(CALL_TIMEOUT_MS);
    try {
      return await Promise.race([call, sleep.elapsed.then((): never => { throw new Error(`no answer within ${CALL_TIMEOUT_MS} ms`); })]);
    } finally {
      sleep.cancel();
    }
  }
}

function isGeo(placement: Placement): boolean {
  return (placement.syncReplicas ?? []).length > 0;
}

function failingOver(placement: Placement): boolean {
  return placement.failover !== undefined && placement.failover.step !== "done";
}
