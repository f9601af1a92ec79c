/**
 * Where a namespace's shards live, for `GET /v1/admin/shards`: each shard's leader
 * (its region and epoch), its replicas, the move of its leader under way if any
 * (leader-moves.ts), and where its leader should be by where its writes come from
 * (durable/shard/write-origins.ts). A page holds at most
 * EDGEKEEPER_MAX_LISTED_SHARDS shards (default 100), in prefix order; `next` names the
 * prefix to ask after for the rest. Each entry is small and bounded (a prefix, a few
 * numbers, one line per region), so a page is bounded in bytes too.
 *
 * A shard has a copy in each region (durable/replication/replica-name.ts): its leader,
 * and a replica in each other once a read has started it; one not started is not listed.
 */
import { zxidEpoch } from "../../protocol/zxid.ts";
import type { PlacementAdvice } from "../replication/core/index.ts";
import type { RegionLink } from "../base/region-link.ts";
import { positiveSetting } from "../base/settings.ts";
import { type EdgekeeperEnv, shardObjectName } from "../env.ts";
import { copiesOf } from "../replication/replica-name.ts";
import { leaderObjectName } from "./mount-table.ts";
import { DEFAULT_LEADER_SETTINGS, type MoveInProgress } from "./shard-leaders.ts";
import type { FailoverView } from "./geo-tier.ts";

export const DEFAULT_MAX_LISTED_SHARDS = 100;

/** A shard's replica in one region: how far it has applied its leader's log, how fresh it is, and what replicating has cost it. */
export interface ReplicaPlacement {
  region: string;
  appliedZxid: number;
  lagZxids: number;
  /** Null when the replica has not heard from its leader since it (re)started. */
  msSinceContact: number | null;
  /** Since the replica's object started (in memory, 0 after a restart): pulls sent, pages its leader pushed, log entries applied, SQLite rows its replication wrote. */
  pulls: number;
  pushes: number;
  entriesApplied: number;
  rowsWritten: number;
}

export interface ShardPlacement {
  shard: string;
  prefix: string;
  /**
   * The leader's region (null when regions are not simulated: wherever the platform
   * placed it), its epoch and last zxid (null, and `reachable` false, while it cannot be reached).
   */
  leader: { region: string | null; epoch: number | null; lastZxid: number | null; reachable: boolean };
  replicas: ReplicaPlacement[];
  /** Where the leader should be, and why (null when regions are not simulated). */
  advice: PlacementAdvice | null;
  /** The move of its leader under way (POST /v1/admin/shards/{shard}/leader), or null. */
  move: MoveInProgress | null;
  /** How its leader is placed (PUT /v1/admin/shards/{shard}). */
  autoMove: boolean;
  preferredRegion: string | null;
  /** Regional, or geo: acknowledged once one of its sync replicas (their regions) holds a write. */
  tier: "regional" | "geo";
  syncReplicas: string[];
  /** Its last failover (geo-tier.ts), or null. */
  failover: FailoverView | null;
}

export interface ShardPlacementPage {
  shards: ShardPlacement[];
  /** Present when more shards follow: pass it as `after` for the next page. */
  next?: string;
}

/**
 * One page of `namespace`'s shards whose prefixes sort after `after`, asked over `link`.
 *
 * @example
 * const page = await shardPlacements(env, RegionLink.at(env), "default"); // { shards: [{ shard: "root", prefix: "/", leader: { region: "wnam", epoch: 1, lastZxid }, replicas: [] }] }
 */
export async function shardPlacements(env: EdgekeeperEnv, link: RegionLink, namespace: string, after?: string): Promise<ShardPlacementPage> {
  const max = positiveSetting(env, "EDGEKEEPER_MAX_LISTED_SHARDS", DEFAULT_MAX_LISTED_SHARDS);
  const directory = link.directory(namespace);
  const [{ mounts }, { moves, settings, geo }] = await Promise.all([directory.table(), directory.leaderPlacements()]);
  const following = mounts.filter((mount) => after === undefined || mount.prefix > after).sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  const page = following.slice(0, max);
  const shards = await Promise.all(
    page.map(async ({ shard, prefix, leader: moved }): Promise<ShardPlacement> => {
      const first = shardObjectName(namespace, shard);
      const region = moved ?? link.regions?.[0];
      const leader = leaderObjectName(namespace, { prefix, shard, leader: moved }, link.regions);
      const stub = link.shard(leader);
      const others = copiesOf(first, link.regions).filter((name) => name !== leader);
      const { autoMove, preferredRegion } = settings[shard] ?? DEFAULT_LEADER_SETTINGS;
      // Writes are counted by region only when regions are simulated: else no call is made for the advice.
      // A leader (or replica) in a region gone dark is listed without what only it could say.
      const [lastZxid, replicas, advice] = await Promise.all([
        stub.stats(prefix).then((stats) => stats.lastZxid, () => null),
        replicasAt(link, others),
        link.regions ? stub.placementAdvice(preferredRegion ?? undefined).catch(() => null) : null,
      ]);
      const { syncReplicas = [], failover = null } = geo[shard] ?? {};
      const leaderShown = { region: region ?? null, epoch: lastZxid === null ? null : zxidEpoch(lastZxid), lastZxid, reachable: lastZxid !== null };
      const tier = syncReplicas.length > 0 ? "geo" : "regional";
      return { shard, prefix, leader: leaderShown, replicas, advice, move: moves[shard] ?? null, autoMove, preferredRegion, tier, syncReplicas, failover };
    }),
  );
  return following.length > max ? { shards, next: page[page.length - 1]!.prefix } : { shards };
}

/** The started replicas among a shard's copies `names` (those not leading). */
async function replicasAt(link: RegionLink, names: readonly string[]): Promise<ReplicaPlacement[]> {
  const statuses = await Promise.all(names.map((name) => link.shard(name).replicaStatus().catch(() => null)));
  return statuses.flatMap((status) => {
    if (!status) return [];
    const { region, appliedZxid, lagZxids, msSinceContact, pulls, pushes, entriesApplied, rowsWritten } = status;
    return [{ region, appliedZxid, lagZxids, msSinceContact, pulls, pushes, entriesApplied, rowsWritten }];
  });
}
