/**
 * A session host's home per shard: the copy of the shard its sessions' sequential
 * reads and their watches go to, so that everything a session is shown of a shard
 * comes in zxid order through one copy, as ZooKeeper's sessions get it from one
 * server. With simulated regions, a host outside a shard's leader region has that
 * region's read replica as home; otherwise (and without regions) the leader, and
 * nothing here acts.
 *
 * - A sequential read goes to home (ShardDO.replicaHostExecute, once home has applied
 *   the session's bookmark for the shard); its events ride on its answer.
 * - An answer from the leader (a write, a linearizable read, sync) showing zxid Z is
 *   released only once home has handed over its events up to Z (ShardDO.syncHost
 *   with no watches: "settle"), unless the host holds no watch on that shard or has
 *   had them already (`through`).
 * - Home not ready within the sequential wait: home becomes the leader, the host's
 *   watches on the shard set there again from the zxid through which the old home
 *   handed over its events (ShardDO.syncHost applies ZooKeeper's setWatches rule),
 *   then removed at the replica (best effort). After EDGEKEEPER_HOME_RETRY_MS the
 *   replica is tried again the same way.
 *
 * During a move both copies may deliver: only home's deliveries fire watches, and
 * the new home's only past the zxid handed over (`skipThrough`), so each event
 * fires once. A shard whose home is the leader is written down (host_homes), so a
 * restarted host does not take the replica, which lost its watches, for home;
 * `through` starts again at 0 (the next settle sets it).
 */
import type { WatchNotification } from "../../protocol/index.ts";
import type { Mount } from "../directory/mount-table.ts";
import type { HostHomeRouting, ShardCopy, ShardRouter, WatchSet } from "../directory/shard-router.ts";
import type { WatchHost } from "../shard/shard-do.ts";
import type { SessionWatches } from "./session-watches.ts";

export const HOME_TABLES = [`CREATE TABLE IF NOT EXISTS host_homes (shard TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID`];

/** One shard's home, as this host instance knows it. */
interface ShardHome {
  mount: Mount;
  at: ShardCopy["at"];
  /** The zxid through which home has handed this host every event it fired. */
  through: number;
  /** Home's deliveries up to here were the previous home's to make (a move's handover). */
  skipThrough: number;
  /** When home last became the leader, or a try of the replica failed. */
  leftAt: number;
  /** A move under way: requests wait for it. */
  moving?: Promise<boolean>;
}

/** What homes need of their host (given as parts, not the host object). */
export interface HomeParts {
  sql: SqlStorage;
  watches: SessionWatches;
  router(): ShardRouter;
  /** The host as shards know it. */
  host(): WatchHost;
  /** The host's region when it is not its shards' leader region (their replica there is home); else undefined. */
  replicaRegion: string | undefined;
  /** How long home may take to apply a zxid asked of it (EDGEKEEPER_SEQUENTIAL_WAIT_MS). */
  waitMs: number;
  /** How long home stays the leader before the replica is tried again (EDGEKEEPER_HOME_RETRY_MS). */
  retryMs: number;
  ackSeq(shardKey: string): number;
  /** Fans a copy's notifications out (session-host.ts `receive`, which asks `fires`). */
  receive(shardKey: string, notifications: WatchNotification[]): void;
}

export class SessionHomes implements HostHomeRouting {
  private readonly parts: HomeParts;
  private readonly homes = new Map<string, ShardHome>();
  /** Each copy's delivery key (its object id): which shard, which copy. */
  private readonly copies = new Map<string, { shard: string; at: ShardCopy["at"] }>();

  constructor(parts: HomeParts) {
    this.parts = parts;
  }

  /** Whether a host's homes do anything: it has a replica region. */
  get active(): boolean {
    return this.parts.replicaRegion !== undefined;
  }

  async readAt<P extends { region: string }>(mount: Mount, placement: P): Promise<P | undefined> {
    if (placement.region !== this.parts.replicaRegion) return undefined;
    const home = this.homeOf(mount);
    if (home.moving) await home.moving;
    if (home.at === "leader") {
      if (Date.now() - home.leftAt < this.parts.retryMs) return undefined;
      if (!(await this.move(home, "replica"))) return undefined;
    }
    return placement;
  }

  async leave(mount: Mount): Promise<void> {
    await this.move(this.homeOf(mount), "leader");
  }

  async release(mount: Mount, from: ShardCopy["at"], zxid: number, watches: readonly WatchSet[]): Promise<void> {
    if (!this.active) return;
    const home = this.homeOf(mount);
    if (home.moving) await home.moving;
    if (from === home.at) {
      // Its answer carried every event home had fired up to its zxid.
      home.through = Math.max(home.through, zxid);
      return;
    }
    if (watches.length === 0 && (home.through >= zxid || !this.parts.watches.heldOn(mount.shard))) return;
    // Home hands over its events up to zxid; a watch the answer set elsewhere is set at home too.
    const at = home.at;
    const settled = await this.sync(home, at, zxid, watches.map((w) => ({ ...w, sinceZxid: zxid })));
    if (settled || at === "leader") {
      if (!settled) throw new Error(`the leader of shard ${mount.shard} did not settle`);
      return;
    }
    await this.move(home, "leader");
    // The watches this answer set are not in the session's rows yet: set them at the leader too.
    if (watches.length > 0 && from === "replica") await this.release(mount, from, zxid, watches);
  }

  /**
   * Whether a notification delivered by the copy keyed `shardKey` fires watches: it
   * does unless that copy is not its shard's home, or its home's since a move whose
   * handover covered it. Also keeps `through` for home's deliveries (all it owed).
   */
  fires(shardKey: string, notifications: readonly WatchNotification[]): (n: WatchNotification) => boolean {
    const copy = this.copyOf(shardKey);
    if (!copy) return () => true;
    const home = this.homes.get(copy.shard)!;
    if (copy.at !== home.at) return () => false;
    for (const n of notifications) home.through = Math.max(home.through, n.zxid);
    const skipThrough = home.skipThrough;
    return (n) => n.zxid > skipThrough;
  }

  /** The copy a host's addWatch goes to: home (settled first to the session's bookmark `seen`, so the watch is set past it). */
  async addWatchAt(mount: Mount, seen: number): Promise<ShardCopy> {
    const region = this.parts.replicaRegion;
    if (region === undefined) return { at: "leader" };
    const home = this.homeOf(mount);
    if (home.moving) await home.moving;
    if (home.at === "replica" && (await this.sync(home, "replica", seen, []))) return { at: "replica", region };
    await this.move(home, "leader");
    return { at: "leader" };
  }

  /**
   * A host instance's start: each shard its sessions watch hands over what its home
   * owes the host, which also starts a replica home pulling again after a restart
   * of every object (else it would wait for its watchdog).
   */
  async wake(): Promise<void> {
    if (!this.active) return;
    for (const { shard, root } of this.parts.watches.watchedShards()) {
      const home = this.homeOf({ shard, prefix: root });
      try {
        await this.sync(home, home.at, 0, []);
      } catch (err) {
        console.warn(`waking the home of shard ${shard} failed`, err);
      }
    }
  }

  /** A watch set at `copy` (addWatch), answered at `zxid`: if home moved meanwhile, it is set at home too. */
  async watchSetAt(mount: Mount, copy: ShardCopy, watch: WatchSet, zxid: number): Promise<void> {
    if (!this.active) return;
    const home = this.homeOf(mount);
    if (home.moving) await home.moving;
    if (home.at !== copy.at) await this.release(mount, copy.at, zxid, [watch]);
  }

  /** The copy that holds the host's watches on the shard of `mount` now (where removeWatches go). */
  watchesAt(mount: Mount): ShardCopy {
    const region = this.parts.replicaRegion;
    return region !== undefined && this.homeOf(mount).at === "replica" ? { at: "replica", region } : { at: "leader" };
  }

  /** The shard's home, made on first use: the replica, unless written down as the leader. */
  private homeOf(mount: Mount): ShardHome {
    let home = this.homes.get(mount.shard);
    if (home) return home;
    const stored = this.parts.sql.exec<{ at: string }>("SELECT at FROM host_homes WHERE shard = ?", mount.shard).toArray()[0];
    home = { mount, at: stored?.at === "leader" ? "leader" : "replica", through: 0, skipThrough: 0, leftAt: 0 };
    this.homes.set(mount.shard, home);
    const router = this.parts.router();
    this.copies.set(router.copyKey(mount, { at: "leader" }), { shard: mount.shard, at: "leader" });
    this.copies.set(router.copyKey(mount, { at: "replica", region: this.parts.replicaRegion! }), { shard: mount.shard, at: "replica" });
    return home;
  }

  /** Which shard and copy a delivery key is; a restarted host first learns the shards its sessions watch. */
  private copyOf(shardKey: string): { shard: string; at: ShardCopy["at"] } | undefined {
    if (!this.active) return undefined;
    if (!this.copies.has(shardKey)) for (const { shard, root } of this.parts.watches.watchedShards()) this.homeOf({ shard, prefix: root });
    return this.copies.get(shardKey);
  }

  private copy(at: ShardCopy["at"]): ShardCopy {
    return at === "leader" ? { at } : { at, region: this.parts.replicaRegion! };
  }

  /**
   * syncHost at one copy of the home's shard: once it has applied `minZxid` (waiting
   * up to the setting at a replica), `watches` set there and what it owes the host
   * received. False if it was not ready or not reachable.
   */
  private async sync(home: ShardHome, at: ShardCopy["at"], minZxid: number, watches: { path: string; kind: WatchSet["kind"]; sinceZxid: number }[]): Promise<boolean> {
    const router = this.parts.router();
    const copy = this.copy(at);
    const key = router.copyKey(home.mount, copy);
    try {
      const answer = await router.syncHost(home.mount, copy, this.parts.host(), this.parts.ackSeq(key), minZxid, watches, at === "leader" ? 0 : this.parts.waitMs);
      if (!answer.ready) return false;
      this.parts.receive(key, answer.notifications);
      if (home.at === at) home.through = Math.max(home.through, answer.zxid);
      return true;
    } catch (err) {
      if (at === "leader") throw err;
      console.warn(`syncHost at the ${copy.at} of shard ${home.mount.shard} failed`, err);
      return false;
    }
  }

  /** Moves the shard's home to `to` (one move at a time); whether home is `to` after. */
  private async move(home: ShardHome, to: ShardCopy["at"]): Promise<boolean> {
    while (home.moving) await home.moving;
    if (home.at === to) return true;
    const moving = this.moveNow(home, to);
    home.moving = moving;
    try {
      return await moving;
    } finally {
      if (home.moving === moving) home.moving = undefined;
    }
  }

  /**
   * Sets the host's watches on the shard at `to`, from the zxid through which the
   * old home handed over its events (each watch no earlier than a session set it),
   * then makes `to` home: its deliveries up to the handover are the old home's, and
   * skipped. The watches at the old home go, best effort.
   */
  private async moveNow(home: ShardHome, to: ShardCopy["at"]): Promise<boolean> {
    const since = home.through;
    const watches = this.parts.watches.onShard(home.mount.shard).map((w) => ({ path: w.path, kind: w.kind, sinceZxid: Math.max(since, w.setZxid) }));
    const router = this.parts.router();
    const copy = this.copy(to);
    const key = router.copyKey(home.mount, copy);
    let answer: Awaited<ReturnType<ShardRouter["syncHost"]>> | undefined;
    if (watches.length > 0) {
      try {
        answer = await router.syncHost(home.mount, copy, this.parts.host(), this.parts.ackSeq(key), since, watches, to === "leader" ? 0 : this.parts.waitMs);
      } catch (err) {
        if (to === "leader") throw err;
        console.warn(`setting watches at the replica of shard ${home.mount.shard} failed`, err);
      }
      if (!answer?.ready) {
        if (to === "leader") throw new Error(`the leader of shard ${home.mount.shard} did not take the host's watches`);
        home.leftAt = Date.now();
        return false;
      }
    }
    const from = this.copy(home.at);
    const handedOver = home.through;
    home.at = to;
    home.skipThrough = handedOver;
    home.through = Math.max(handedOver, answer?.ready ? answer.zxid : 0);
    if (to === "leader") {
      home.leftAt = Date.now();
      this.parts.sql.exec("INSERT INTO host_homes (shard, at) VALUES (?, 'leader') ON CONFLICT (shard) DO UPDATE SET at = excluded.at", home.mount.shard);
    } else {
      this.parts.sql.exec("DELETE FROM host_homes WHERE shard = ?", home.mount.shard);
    }
    if (answer?.ready) this.parts.receive(key, answer.notifications);
    const host = this.parts.host().name;
    void Promise.all(watches.map((w) => router.removeWatchesOn(home.mount, host, w.path, w.kind, from))).catch((err: unknown) => {
      console.warn(`removing the host's watches at the old home of shard ${home.mount.shard} failed`, err);
    });
    return true;
  }
}
