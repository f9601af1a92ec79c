/**
 * Where each shard of a namespace leads, and the planned moves of its leaders
 * (core/handover.ts), as the namespace's directory keeps them. A shard that never
 * moved has no row: it leads at its first object (`<namespace>/<shard>`, in the first
 * region). A row holds the shard's Placement: its leader object, the highest epoch
 * handed out, and the move under way, each step stored before it is acted on (so a
 * restarted directory resumes the move from its alarm). A leader that changes bumps
 * the mount table's version, so routers' cached tables are refreshed.
 */
import type { Handover, Placement, PlacementStore } from "../replication/core/index.ts";
import { copyRegion } from "../replication/replica-name.ts";

export const SHARD_LEADERS_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS shard_leaders (shard TEXT PRIMARY KEY, placement TEXT NOT NULL) WITHOUT ROWID",
  // The operator's choices per shard (none: no automatic moves, no preferred region).
  "CREATE TABLE IF NOT EXISTS shard_leader_settings (shard TEXT PRIMARY KEY, settings TEXT NOT NULL) WITHOUT ROWID",
];

/**
 * How a shard's leader is placed, as its operator set it (`PUT /v1/admin/shards/{shard}`):
 * whether the directory moves it where its writes come from, and the region it
 * belongs in whatever the load (which always wins).
 */
export interface LeaderSettings {
  autoMove: boolean;
  preferredRegion: string | null;
}

export const DEFAULT_LEADER_SETTINGS: LeaderSettings = { autoMove: false, preferredRegion: null };

/** A move under way, as `GET /v1/admin/shards` shows it. */
export interface MoveInProgress {
  /** The regions of the old leader and of the target. */
  from: string | null;
  to: string | null;
  step: Handover["step"];
  /** When it was recorded, and when its step began (ms since the epoch). */
  startedAt: number;
  stepAt: number;
}

export class ShardLeaders {
  private readonly sql: SqlStorage;
  private readonly storage: DurableObjectStorage;
  private readonly regions: readonly string[] | undefined;
  /** The object name a shard's first copy has (`<namespace>/<shard>`). */
  private readonly firstObject: (shard: string) => string;

  constructor(storage: DurableObjectStorage, regions: readonly string[] | undefined, firstObject: (shard: string) => string) {
    this.storage = storage;
    this.sql = storage.sql;
    this.regions = regions;
    this.firstObject = firstObject;
  }

  /** The shard's placement: its row, or its first object leading at no epoch handed out. */
  placement(shard: string): Placement {
    const row = this.sql.exec<{ placement: string }>("SELECT placement FROM shard_leaders WHERE shard = ?", shard).toArray()[0];
    return row ? (JSON.parse(row.placement) as Placement) : { leader: this.firstObject(shard), epoch: 0, move: null };
  }

  /** The object leading the shard now. */
  leaderOf(shard: string): string {
    return this.placement(shard).leader;
  }

  /** The shard's placement as a move's steps read and write it (one row, written in a transaction with the table's version when its leader changes). */
  store(shard: string): PlacementStore {
    return {
      read: () => this.placement(shard),
      write: (placement) =>
        this.storage.transactionSync(() => {
          const before = this.leaderOf(shard);
          this.sql.exec("INSERT OR REPLACE INTO shard_leaders (shard, placement) VALUES (?, ?)", shard, JSON.stringify(placement));
          if (placement.leader !== before) this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
        }),
    };
  }

  /** The region of each shard whose leader is not in the first region (routers name its leader by it). */
  movedLeaders(): Map<string, string> {
    const moved = new Map<string, string>();
    for (const { shard, placement } of this.rows()) {
      const region = copyRegion(placement.leader, this.regions);
      if (placement.leader !== this.firstObject(shard) && region !== undefined) moved.set(shard, region);
    }
    return moved;
  }

  /** The shards with a move under way. */
  movesUnderWay(): Map<string, MoveInProgress> {
    const moves = new Map<string, MoveInProgress>();
    for (const { shard, placement } of this.rows()) {
      const move = placement.move;
      if (move) moves.set(shard, { from: copyRegion(move.from, this.regions) ?? null, to: copyRegion(move.target, this.regions) ?? null, step: move.step, startedAt: move.startedAt, stepAt: move.stepAt });
    }
    return moves;
  }

  /** The placements of the shards whose placement is stored (each that moved, failed over or is geo-tier), by shard. */
  storedPlacements(): Map<string, Placement> {
    return new Map(this.rows().map(({ shard, placement }) => [shard, placement]));
  }

  /** The operator's settings of the shard's leader. */
  settings(shard: string): LeaderSettings {
    const row = this.sql.exec<{ settings: string }>("SELECT settings FROM shard_leader_settings WHERE shard = ?", shard).toArray()[0];
    return row ? (JSON.parse(row.settings) as LeaderSettings) : DEFAULT_LEADER_SETTINGS;
  }

  /** Every shard's settings that differ from the default. */
  allSettings(): Map<string, LeaderSettings> {
    const rows = this.sql.exec<{ shard: string; settings: string }>("SELECT shard, settings FROM shard_leader_settings").toArray();
    return new Map(rows.map((row) => [row.shard, JSON.parse(row.settings) as LeaderSettings]));
  }

  /** Stores the shard's settings (the default ones as no row). */
  configure(shard: string, settings: LeaderSettings): void {
    if (!settings.autoMove && settings.preferredRegion === null) this.sql.exec("DELETE FROM shard_leader_settings WHERE shard = ?", shard);
    else this.sql.exec("INSERT OR REPLACE INTO shard_leader_settings (shard, settings) VALUES (?, ?)", shard, JSON.stringify(settings));
  }

  /** The shards whose leaders the directory moves by itself. */
  autoMoving(): string[] {
    return [...this.allSettings()].filter(([, settings]) => settings.autoMove).map(([shard]) => shard);
  }

  /** Forgets a shard freed for good (unmounted, or wiped by a restore). */
  forget(shard: string): void {
    this.sql.exec("DELETE FROM shard_leaders WHERE shard = ?", shard);
    this.sql.exec("DELETE FROM shard_leader_settings WHERE shard = ?", shard);
  }

  /** Forgets every shard's (a restore wipes the namespace). */
  forgetAll(): void {
    this.sql.exec("DELETE FROM shard_leaders");
    this.sql.exec("DELETE FROM shard_leader_settings");
  }

  private rows(): Array<{ shard: string; placement: Placement }> {
    return this.sql
      .exec<{ shard: string; placement: string }>("SELECT shard, placement FROM shard_leaders")
      .toArray()
      .map((row) => ({ shard: row.shard, placement: JSON.parse(row.placement) as Placement }));
  }
}
