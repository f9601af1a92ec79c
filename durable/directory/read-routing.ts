/**
 * Where a read is served: the one decision every surface's reads go through
 * (ShardRouter asks it per shard call). It takes the read mode, the caller's
 * bookmark for the shard, the caller's region, and the regions where the shard has
 * copies: its leader's and, with simulated regions, a read replica in each other.
 *
 * A replica placement is what ShardRouter asks the replica's read API
 * (`replicaRead`: "serve these reads once you have applied `minZxid`, waiting at
 * most `waitMs`, holding every write committed `maxStalenessMs` ago, else not
 * ready"); a replica not ready (or not reachable) sends the read to the leader.
 *
 * A session's reads (a host's calls) go to a replica only through its host's home
 * for the shard (session-homes.ts), which also delivers that shard's watch events:
 * a replica that had applied a change before its event reached the session would
 * otherwise show the data before the event.
 */
import {
  type Bookmark,
  type ReadMode,
  WRITE_OPS,
  advanceBookmark,
  refusalByLeader,
  SEQUENTIAL,
  type Outcome,
  type ShardRequest,
} from "../../protocol/index.ts";
import { regionsOf } from "../base/region-link.ts";
import { integerSetting } from "../base/settings.ts";
import type { EdgekeeperEnv } from "../env.ts";

/** Where a shard's leader runs when no regions are configured. */
export const LOCAL_REGION = "local";

/** How long a sequential read waits at most for its region's replica to apply its bookmark before going to the leader (default). */
export const DEFAULT_SEQUENTIAL_WAIT_MS = 50;
/** The most EDGEKEEPER_SEQUENTIAL_WAIT_MS may be. */
export const MAX_SEQUENTIAL_WAIT_MS = 5_000;

/** A shard, and the region its leader is in when a move put it elsewhere than the first (a Mount is one). */
export interface ShardLeaderPlace {
  shard: string;
  leader?: string;
}

/** Where one shard has copies that may serve reads. */
export interface ShardCopies {
  leaderRegion: string;
  /** The regions with a replica of the shard. */
  replicaRegions: readonly string[];
}

/**
 * Where a read goes. A replica placement says what the replica must hold: every
 * write up to `minZxid` (waiting at most `waitMs` for it) and, when given, every
 * write its leader committed `maxStalenessMs` ago; a replica that cannot answers
 * "not ready" and the read goes to the leader.
 */
export type ReadPlacement =
  | { at: "leader"; servedBy: string }
  | { at: "replica"; region: string; minZxid: number; waitMs: number; maxStalenessMs?: number; servedBy: string };

/** How long a session host's home for a shard stays the leader, after its replica did not answer in time, before the replica is tried again (default). */
export const DEFAULT_HOME_RETRY_MS = 10_000;
/** The most EDGEKEEPER_HOME_RETRY_MS may be. */
export const MAX_HOME_RETRY_MS = 600_000;

/** The settings routing reads. */
export interface ReadRoutingSettings {
  sequentialWaitMs: number;
}

/** EDGEKEEPER_SEQUENTIAL_WAIT_MS, within [0, MAX_SEQUENTIAL_WAIT_MS]; unset or invalid keeps the default. */
export function readRoutingSettings(env: EdgekeeperEnv): ReadRoutingSettings {
  return { sequentialWaitMs: integerSetting(env, "EDGEKEEPER_SEQUENTIAL_WAIT_MS", DEFAULT_SEQUENTIAL_WAIT_MS, 0, MAX_SEQUENTIAL_WAIT_MS) };
}

/** EDGEKEEPER_HOME_RETRY_MS (a session host's home: session-homes.ts), within [0, MAX_HOME_RETRY_MS]; unset or invalid keeps the default. */
export function homeRetryMsOf(env: EdgekeeperEnv): number {
  return integerSetting(env, "EDGEKEEPER_HOME_RETRY_MS", DEFAULT_HOME_RETRY_MS, 0, MAX_HOME_RETRY_MS);
}

/**
 * Where every shard has copies: with simulated regions (EDGEKEEPER_REGIONS), its
 * leader in the first and a read replica in each other (started by its first
 * read); without, its leader only, in LOCAL_REGION.
 */
export function copiesOf(env: EdgekeeperEnv): ShardCopies {
  const regions = regionsOf(env);
  return regions ? { leaderRegion: regions[0]!, replicaRegions: regions.slice(1) } : { leaderRegion: LOCAL_REGION, replicaRegions: [] };
}

/**
 * The decision: linearizable at the leader; the others at the replica in the
 * caller's region, if there is one: sequential once it has applied `seenZxid`
 * (waiting up to the setting), bounded=MS if it holds every write committed MS ago,
 * any as it is. Without such a replica, the leader.
 *
 * @example
 * placeRead({ kind: "sequential" }, 42, "weur", { leaderRegion: "wnam", replicaRegions: [] }, settings); // { at: "leader", servedBy: "wnam/leader" }
 */
export function placeRead(mode: ReadMode, seenZxid: number, callerRegion: string, copies: ShardCopies, settings: ReadRoutingSettings): ReadPlacement {
  const leader: ReadPlacement = { at: "leader", servedBy: `${copies.leaderRegion}/leader` };
  if (mode.kind === "linearizable" || !copies.replicaRegions.includes(callerRegion)) return leader;
  const replica = { at: "replica", region: callerRegion, servedBy: `${callerRegion}/replica` } as const;
  switch (mode.kind) {
    case "sequential":
      return { ...replica, minZxid: seenZxid, waitMs: settings.sequentialWaitMs };
    case "bounded":
      return { ...replica, minZxid: 0, waitMs: 0, maxStalenessMs: mode.maxStalenessMs };
    case "any":
      return { ...replica, minZxid: 0, waitMs: 0 };
  }
}

/** What routing reads needs of the deployment: the shards' copies and the settings. */
export interface ReadRouting {
  copies: ShardCopies;
  settings: ReadRoutingSettings;
}

/** The deployment's read routing, from its settings. */
export function readRoutingOf(env: EdgekeeperEnv): ReadRouting {
  return { copies: copiesOf(env), settings: readRoutingSettings(env) };
}

/** Whether two requests may share one call to a shard: the same read mode (a write goes to the leader whatever it says). */
export function sameReadMode(a: ShardRequest, b: ShardRequest): boolean {
  const [x, y] = [a.consistency ?? SEQUENTIAL, b.consistency ?? SEQUENTIAL];
  return x.kind === y.kind && (x.kind !== "bounded" || x.maxStalenessMs === (y as typeof x).maxStalenessMs);
}

/**
 * The highest zxid answers showed (those that say "moved", "deferred" or "notLeader"
 * ran nothing, and show none); -1 if none did. One pass: this runs for every answer a session gets.
 */
export function highestZxidShown(outcomes: readonly Outcome[]): number {
  let highest = -1;
  for (const o of outcomes) if ((o.ok || !(o.moved || o.deferred || o.notLeader)) && o.zxid > highest) highest = o.zxid;
  return highest;
}

/** The shard each answer a ReadContext took came from (answers are passed on as they are). */
const answeringShards = new WeakMap<Outcome, string>();

/** The shard that gave `outcome`, if it came through a ReadContext (a session's answers do). */
export function shardThatAnswered(outcome: Outcome): string | undefined {
  return answeringShards.get(outcome);
}

/**
 * One caller's reads as they pass through a router: its mode, its region, and the
 * bookmark it sent, advanced by every answer (so it can be handed back). The
 * bookmark it sent is checked against each shard's leader when that leader answers.
 */
export class ReadContext {
  readonly mode: ReadMode;
  readonly bookmark: Bookmark;
  /** The served-by of the last answer (`<region>/<leader|replica>`), once one came. */
  servedBy: string | undefined;
  private readonly callerRegion: string;
  private readonly copies: ShardCopies;
  private readonly settings: ReadRoutingSettings;
  /**
   * Whether the bookmark may lack what the caller has seen (a session host that
   * restarted and was handed no bookmark since): a shard it does not name is then
   * read at the leader, whose answer makes the bookmark whole for that shard.
   */
  private readonly partial: boolean;
  /** What the caller sent, per shard, not yet checked against the shard's leader (taken as checked). */
  private readonly unchecked: Map<string, number>;

  /**
   * `options.unchecked`: the zxids to check against the leaders (default: all the
   * bookmark holds, as a caller sent it); a session host passes only those a client
   * handed it, since what its shards answered needs no check.
   */
  constructor(routing: ReadRouting, mode: ReadMode, bookmark: Bookmark, options: { callerRegion?: string | undefined; partial?: boolean; unchecked?: Map<string, number> } = {}) {
    this.mode = mode;
    this.bookmark = bookmark;
    this.copies = routing.copies;
    this.settings = routing.settings;
    this.callerRegion = options.callerRegion ?? this.copies.leaderRegion;
    this.partial = options.partial ?? false;
    this.unchecked = options.unchecked ?? new Map(bookmark.shards);
  }

  /**
   * Where requests to the shard of `mount` go (one call: they share a mode, see
   * `sameReadMode`): with a write among them, or for a shard a partial bookmark does
   * not name, to the leader; reads in their own mode, else the caller's, as
   * `placeRead` decides, with the shard's leader where the mount says (a move's).
   */
  place(mount: ShardLeaderPlace, requests: readonly ShardRequest[]): ReadPlacement {
    const { shard } = mount;
    const atLeader = requests.some((r) => WRITE_OPS.has(r.op)) || (this.partial && !this.bookmark.shards.has(shard));
    const readMode: ReadMode = atLeader ? { kind: "linearizable" } : (requests[0]?.consistency ?? this.mode);
    return placeRead(readMode, this.bookmark.shards.get(shard) ?? 0, this.callerRegion, this.copiesOf(mount), this.settings);
  }

  /** The shard's copies: the deployment's, with its leader in the region a move put it in. */
  private copiesOf({ leader }: ShardLeaderPlace): ShardCopies {
    if (leader === undefined || leader === this.copies.leaderRegion) return this.copies;
    const regions = [this.copies.leaderRegion, ...this.copies.replicaRegions];
    return { leaderRegion: leader, replicaRegions: regions.filter((region) => region !== leader) };
  }

  /**
   * Takes the answers `placement` gave for `requests` at `shard` (the RPC's own
   * array), advancing the bookmark by the highest zxid they showed. A leader's
   * answer carries its commit point, so the zxid the caller sent for the shard is
   * checked against it: beyond it, reads are refused, their outcomes replaced in
   * place by BadArguments (in place, so that whatever rode on the answer, such as
   * watch notifications, still reaches the caller); a write, already applied, keeps
   * its answer. Either way the bookmark takes the leader's commit point instead.
   */
  answered(shard: string, placement: ReadPlacement, requests: readonly ShardRequest[], outcomes: Outcome[]): void {
    const highest = highestZxidShown(outcomes);
    if (highest < 0) return;
    this.servedBy = placement.servedBy;
    const sent = this.unchecked.size === 0 ? undefined : this.unchecked.get(shard);
    if (sent !== undefined && placement.at === "leader") {
      this.unchecked.delete(shard);
      const refusal = refusalByLeader(shard, sent, highest);
      if (refusal) {
        this.bookmark.shards.delete(shard);
        if (!requests.some((r) => WRITE_OPS.has(r.op))) {
          for (let i = 0; i < outcomes.length; i++) outcomes[i] = { ok: false, zxid: highest, error: refusal.toBody() };
        }
      }
    }
    for (const outcome of outcomes) answeringShards.set(outcome, shard);
    advanceBookmark(this.bookmark, shard, highest);
  }

  /** `answered`, for answers of the leader of the shard of `mount`. */
  answeredByLeader(mount: ShardLeaderPlace, requests: readonly ShardRequest[], outcomes: Outcome[]): void {
    this.answered(mount.shard, { at: "leader", servedBy: `${this.copiesOf(mount).leaderRegion}/leader` }, requests, outcomes);
  }
}
