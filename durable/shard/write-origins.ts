/**
 * Where a shard's writes come from, and so where its leader should be: each write
 * the leader commits is counted by its origin region (Caller.region, set by the
 * router that sent it) in the decayed histograms of leader-placement.ts, whose advice
 * `GET /v1/admin/shards` shows. Only with simulated regions (a region per caller).
 *
 * A copy that takes the lead in a move starts counting afresh, from that move.
 *
 * Counted in memory; written to the shard's `meta` table at most once a minute
 * (PERSIST_EVERY_MS, one small row, after the write's own commit), so a restarted
 * leader goes on from what it had counted, less the last minute's writes at most.
 */
import { DEFAULT_PLACEMENT_POLICY, type PlacementAdvice, type PlacementState, advisePlacement, leaderMoved, newPlacementState, noteWrites } from "../replication/core/index.ts";
import { type Region, isRegion, roundTripMs } from "../../protocol/regions.ts";

/** How often, at most, the counts are written down. */
export const PERSIST_EVERY_MS = 60_000;
const META_KEY = "write_origins";

export class WriteOrigins {
  private readonly sql: SqlStorage;
  private readonly regions: readonly Region[];
  /** The region of the copy counting (the leader's, while it leads). */
  private readonly here: Region;
  private state: PlacementState | undefined;
  private persistedAt = -Infinity;

  /** `regions`: the simulated regions; `here`: the region of this copy of the shard. */
  constructor(sql: SqlStorage, regions: readonly Region[], here: Region) {
    this.sql = sql;
    this.regions = regions;
    this.here = here;
  }

  /** A write from `region` committed now (one of another kind, or of no region, is not counted). */
  noteWrite(region: string | undefined): void {
    if (region === undefined || !isRegion(region)) return;
    const now = Date.now();
    this.state = noteWrites(this.current(now), DEFAULT_PLACEMENT_POLICY, region, 1, now);
    if (now - this.persistedAt >= PERSIST_EVERY_MS) this.persist(now);
  }

  /**
   * This copy leads now, moved here: it counts afresh (what the old leader counted
   * stayed there), from a move at `now`, which the next move must be far enough from.
   */
  movedHere(): void {
    const now = Date.now();
    this.state = leaderMoved(newPlacementState(this.here, now), this.here, now);
    this.persist(now);
  }

  /** Where the leader should be now, and why; `preferred`: the operator's region for it, which always wins. */
  advice(preferred?: string): PlacementAdvice {
    const now = Date.now();
    const state = this.current(now);
    return advisePlacement(preferred === undefined ? state : { ...state, preferred }, DEFAULT_PLACEMENT_POLICY, this.regions, (from, to) => roundTripMs(from as Region, to as Region), now);
  }

  private persist(now: number): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", META_KEY, JSON.stringify(this.state));
    this.persistedAt = now;
  }

  /** The counts: in memory, else as last written, else none (the leader in the first region). */
  private current(now: number): PlacementState {
    if (this.state) return this.state;
    const stored = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", META_KEY).toArray()[0];
    this.state = stored ? (JSON.parse(stored.value) as PlacementState) : newPlacementState(this.here, now);
    return this.state;
  }
}
