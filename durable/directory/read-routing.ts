/**
 * Where a read is served: the one decision every surface's reads go through
 * (ShardRouter asks it per shard call). It takes the read mode, the caller's
 * bookmark for the shard and the caller's region, and the copies the shard has:
 * its leader and, once read replicas exist, a replica per region with how far it
 * has applied the log and when it last heard from the leader.
 *
 * Today a shard has no replicas (`copiesOf` answers none), so every read is served
 * by the leader. The replica read API plugs in at `copiesOf` (the replicas and their
 * state) and at ShardRouter's `stubFor` (asking a replica "serve these reads once you
 * have applied zxid Z, waiting at most W ms, else not ready", then the leader).
 */
import {
  type Bookmark,
  type ReadMode,
  WRITE_OPS,
  advanceBookmark,
  refusalByLeader,
  formatReadMode,
  SEQUENTIAL,
  type Outcome,
  type ShardRequest,
} from "../../protocol/index.ts";
import type { EdgekeeperEnv } from "../env.ts";

/** Where a shard's leader runs when no regions are configured. */
export const LOCAL_REGION = "local";

/** How long a sequential read waits at most for its region's replica to apply its bookmark before going to the leader (default). */
export const DEFAULT_SEQUENTIAL_WAIT_MS = 50;
/** The most EDGEKEEPER_SEQUENTIAL_WAIT_MS may be. */
export const MAX_SEQUENTIAL_WAIT_MS = 5_000;

/** A replica of a shard as routing sees it (reported by the replica's read API). */
export interface ReplicaCopy {
  region: string;
  /** How long since it last heard from the leader, in ms. */
  lastContactAgeMs: number;
}

/** The copies of one shard that may serve reads. */
export interface ShardCopies {
  leaderRegion: string;
  replicas: readonly ReplicaCopy[];
}

/**
 * Where a read goes. A replica placement says what the replica must have applied
 * (`minZxid`) and how long it may wait for that (`waitMs`); a replica that cannot
 * answers "not ready" and the read goes to the leader.
 */
export type ReadPlacement =
  | { at: "leader"; servedBy: string }
  | { at: "replica"; region: string; minZxid: number; waitMs: number; servedBy: string };

/** The settings routing reads. */
export interface ReadRoutingSettings {
  sequentialWaitMs: number;
}

/** EDGEKEEPER_SEQUENTIAL_WAIT_MS, within [0, MAX_SEQUENTIAL_WAIT_MS]; unset or invalid keeps the default. */
export function readRoutingSettings(env: EdgekeeperEnv): ReadRoutingSettings {
  const raw = Number(env.EDGEKEEPER_SEQUENTIAL_WAIT_MS);
  const valid = typeof env.EDGEKEEPER_SEQUENTIAL_WAIT_MS === "string" && Number.isInteger(raw) && raw >= 0 && raw <= MAX_SEQUENTIAL_WAIT_MS;
  return { sequentialWaitMs: valid ? raw : DEFAULT_SEQUENTIAL_WAIT_MS };
}

/**
 * The leader's region: the first of EDGEKEEPER_REGIONS (every shard's leader
 * region when regions are simulated), else LOCAL_REGION.
 */
export function leaderRegionOf(env: EdgekeeperEnv): string {
  const first = typeof env.EDGEKEEPER_REGIONS === "string" ? env.EDGEKEEPER_REGIONS.split(",")[0]?.trim() : undefined;
  return first || LOCAL_REGION;
}

/** The copies of a shard: its leader only, until read replicas exist. */
export function copiesOf(env: EdgekeeperEnv): ShardCopies {
  return { leaderRegion: leaderRegionOf(env), replicas: [] };
}

/**
 * The decision: linearizable at the leader; sequential at the caller's region's
 * replica once it has applied `seenZxid` (waiting up to the setting); bounded=MS at
 * that replica if it heard from the leader at most MS ago; any at that replica as it
 * is. Without such a replica, the leader.
 *
 * @example
 * placeRead({ kind: "sequential" }, 42, "weur", { leaderRegion: "wnam", replicas: [] }, settings); // { at: "leader", servedBy: "wnam/leader" }
 */
export function placeRead(mode: ReadMode, seenZxid: number, callerRegion: string, copies: ShardCopies, settings: ReadRoutingSettings): ReadPlacement {
  const leader: ReadPlacement = { at: "leader", servedBy: `${copies.leaderRegion}/leader` };
  const nearest = copies.replicas.find((r) => r.region === callerRegion);
  if (!nearest || mode.kind === "linearizable") return leader;
  const replica = (minZxid: number, waitMs: number): ReadPlacement => ({ at: "replica", region: nearest.region, minZxid, waitMs, servedBy: `${nearest.region}/replica` });
  switch (mode.kind) {
    case "sequential":
      return replica(seenZxid, settings.sequentialWaitMs);
    case "bounded":
      return nearest.lastContactAgeMs <= mode.maxStalenessMs ? replica(0, 0) : leader;
    case "any":
      return replica(0, 0);
  }
}

/** Whether two requests may share one call to a shard: the same read mode (a write goes to the leader whatever it says). */
export function sameReadMode(a: ShardRequest, b: ShardRequest): boolean {
  return formatReadMode(a.consistency ?? SEQUENTIAL) === formatReadMode(b.consistency ?? SEQUENTIAL);
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
  /** What the caller sent, per shard, not yet checked against the shard's leader. */
  private readonly unchecked: Map<string, number>;

  constructor(env: EdgekeeperEnv, mode: ReadMode, bookmark: Bookmark, callerRegion: string | undefined) {
    this.mode = mode;
    this.bookmark = bookmark;
    this.copies = copiesOf(env);
    this.callerRegion = callerRegion ?? this.copies.leaderRegion;
    this.settings = readRoutingSettings(env);
    this.unchecked = new Map(bookmark.shards);
  }

  /**
   * Where requests to `shard` go (one call: they share a mode, see `sameReadMode`):
   * with a write among them to the leader, reads in their own mode, else the
   * caller's, as `placeRead` decides.
   */
  place(shard: string, requests: readonly ShardRequest[]): ReadPlacement {
    const readMode: ReadMode = requests.some((r) => WRITE_OPS.has(r.op)) ? { kind: "linearizable" } : (requests[0]?.consistency ?? this.mode);
    return placeRead(readMode, this.bookmark.shards.get(shard) ?? 0, this.callerRegion, this.copies, this.settings);
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
    const shown = outcomes.filter((o) => !(!o.ok && (o.moved || o.deferred)));
    if (shown.length === 0) return;
    this.servedBy = placement.servedBy;
    const highest = Math.max(...shown.map((o) => o.zxid));
    const sent = this.unchecked.get(shard);
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
}
