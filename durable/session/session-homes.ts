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
 * - Home not ready within the sequential wait: the read goes to the leader; and if
 *   the host holds watches on the shard, home becomes the leader: those watches are
 *   set there again from the zxid through which the old home handed over its events
 *   (ShardDO.syncHost applies ZooKeeper's setWatches rule), then removed at the
 *   replica (best effort). After EDGEKEEPER_HOME_RETRY_MS the replica is tried again
 *   the same way.
 *
 * During a move both copies may deliver: only home's deliveries fire watches, and
 * the new home's fire lasting watches only past the zxid handed over
 * (`skipThrough`), so each event fires once. One-shot watches are set at the new
 * home from where their sessions set them, and fire from all its deliveries: a
 * read's watch may not have reached the old home, and one that fired is gone. A
 * shard whose home is the leader is written down (host_homes), so a restarted host
 * does not take the replica, which lost its watches, for home; `through` starts
 * again from the highest zxid the host had fired of either copy's notifications
 * (SessionWatches.handedOver, stored with each copy's seq: home may have moved
 * since the copy home now last delivered), so a move before its first settle does
 * not hand over again what any home had delivered.
 */
import { KeeperError, type WatchNotification, firesOnce } from "../../protocol/index.ts";
import type { Mount } from "../directory/mount-table.ts";
import type { HostHomeRouting, ShardCopy, ShardRouter, WatchSet } from "../directory/shard-router.ts";
import type { HostWatch, WatchHost } from "../shard/shard-do.ts";
import type { NotificationVerdict, SessionWatches } from "./session-watches.ts";

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
  /** How many moves this host instance made of this shard's home: a request sent before one may have left its watch at the old home. */
  generation: number;
  /** A move under way, and to which copy: requests wait for it. */
  moving?: { to: ShardCopy["at"]; done: Promise<boolean> };
  /** The copy being moved to delivered before it was home: it is asked again once home. */
  deferred: boolean;
  /** Removals of the host's watches at a copy that is not home, under way: watches set at a copy wait for them, lest a late one remove them. */
  removing: Promise<void>;
  /** The last move's hand-over, once its events are sent: an answer released after that move waits for it. */
  moveEvents: Promise<void>;
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
  /**
   * Fans a copy's notifications out, riding on an answer at zxid `shows` (session-host.ts:
   * once the watching reads sent to that copy are recorded, judged as taken); resolves
   * once they are, and never rejects.
   */
  receive(shardKey: string, notifications: WatchNotification[], shows: number): Promise<void>;
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
    await this.settled(home);
    if (home.at === "leader") {
      if (Date.now() - home.leftAt < this.parts.retryMs) return undefined;
      if (!(await this.move(home, "replica"))) return undefined;
    }
    return placement;
  }

  async leave(mount: Mount): Promise<void> {
    // Without watches there is nothing to take from the leader: this read goes there alone.
    if (!this.parts.watches.heldOn(mount.shard)) return;
    await this.move(this.homeOf(mount), "leader");
  }

  generation(mount: Mount): number {
    return this.active ? this.homeOf(mount).generation : 0;
  }

  async release(mount: Mount, from: ShardCopy["at"], zxid: number, watches: readonly WatchSet[], leftAtFrom: boolean, generation: number): Promise<void> {
    if (!this.active) return;
    const home = this.homeOf(mount);
    await this.settled(home);
    // The answer's watches are at home only if they were left at the copy that was home
    // when they were sent and is home still: else home moved meanwhile (or they were not
    // left), and they are set at home now. Their sessions' rows are written already
    // (HostCall.recordWatches), so a move from here on takes them along.
    const unplaced = from === home.at && leftAtFrom && generation === home.generation ? [] : watches;
    if (from === home.at) {
      // Its answer carried every event home had fired up to its zxid.
      home.through = Math.max(home.through, zxid);
      if (unplaced.length === 0) return;
    } else if (unplaced.length === 0 && (home.through >= zxid || !this.parts.watches.heldOn(mount.shard))) {
      return;
    }
    // Home hands over its events up to zxid, and sets the watches not there yet.
    await this.settleAndSet(home, zxid, unplaced);
    // Those left at a copy that home had left meanwhile go from there, as a move's do.
    if (leftAtFrom && from !== home.at) this.removeAt(home, this.copy(from), unplaced);
  }

  /**
   * Home hands over its events up to `zxid` and sets `watches` from there; if it is
   * not ready (a leader always is), the leader becomes home, and the move takes every
   * watch the sessions' rows hold, these too.
   */
  private async settleAndSet(home: ShardHome, zxid: number, watches: readonly WatchSet[]): Promise<void> {
    const setting = watches.map((w) => ({ ...w, sinceZxid: zxid }));
    const at = home.at;
    if (!(await this.sync(home, at, zxid, setting))) {
      await this.move(home, "leader");
      // The leader handed over what it owed up to its zxid, which is past this answer's.
      await home.moveEvents;
    } else if (home.at !== at && watches.length > 0) {
      // Home moved while they were being set, and took them along: they go from where they were set.
      this.removeAt(home, this.copy(at), watches);
    }
  }

  /**
   * What to do with the notifications the copy keyed `shardKey` delivered, as the host
   * takes them (not as they arrive: a move meanwhile hands over from what was taken):
   * home's fire, except those a move's handover covered; those of the copy home is
   * moving to wait until it is home (its shard sends them again); any other copy's are
   * dropped. Keeps `through` for home's deliveries (all it owed, up to `shows` for a
   * delivery riding on an answer at that zxid).
   */
  judge(shardKey: string, notifications: readonly WatchNotification[], shows = 0): (n: WatchNotification) => NotificationVerdict {
    const copy = this.copyOf(shardKey);
    if (!copy) return () => "fire";
    const home = this.homes.get(copy.shard)!;
    if (copy.at !== home.at) {
      if (home.moving?.to !== copy.at) return () => "drop";
      home.deferred = true;
      return () => "later";
    }
    home.through = Math.max(home.through, shows);
    for (const n of notifications) home.through = Math.max(home.through, n.zxid);
    const skipThrough = home.skipThrough;
    return (n) => (n.zxid > skipThrough ? "fire" : "covered");
  }

  /** The copy a host's addWatch goes to: home (settled first to the session's bookmark `seen`, so the watch is set past it). */
  async addWatchAt(mount: Mount, seen: number): Promise<ShardCopy> {
    const region = this.parts.replicaRegion;
    if (region === undefined) return { at: "leader" };
    const home = this.homeOf(mount);
    await this.settled(home);
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
      try {
        const home = this.homeOf({ shard, prefix: root });
        await this.sync(home, home.at, 0, []);
      } catch (err) {
        console.warn(`waking the home of shard ${shard} failed`, err);
      }
    }
  }

  /**
   * A watch set at `copy` (addWatch, decided at home `generation`), answered at `zxid`,
   * its sessions' row written: if home moved since, it is set at home too.
   */
  async watchSetAt(mount: Mount, copy: ShardCopy, generation: number, watch: WatchSet, zxid: number): Promise<void> {
    if (!this.active) return;
    const home = this.homeOf(mount);
    await this.settled(home);
    if (home.at === copy.at && home.generation === generation) return;
    await this.settleAndSet(home, zxid, [watch]);
    if (home.at !== copy.at) this.removeAt(home, copy, [watch]);
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
    const at = stored?.at === "leader" ? "leader" : "replica";
    const router = this.parts.router();
    // What home had handed over before this instance began (a restart) is known from the
    // notifications fired: of either copy, as home may have moved since the one there now delivered.
    const through = Math.max(
      this.parts.watches.handedOver(router.copyKey(mount, { at: "leader" })),
      this.parts.watches.handedOver(router.copyKey(mount, { at: "replica", region: this.parts.replicaRegion! })),
    );
    home = { mount, at, through, skipThrough: 0, leftAt: 0, generation: 0, deferred: false, removing: Promise.resolve(), moveEvents: Promise.resolve() };
    this.homes.set(mount.shard, home);
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
   * syncHost at one copy of the home's shard, home or not: once it has applied
   * `minZxid` (waiting up to the setting at a replica), `watches` are set there.
   * Answers its ready answer and the copy's delivery key; undefined if a replica was
   * not ready or not reachable (a leader's failure is thrown).
   */
  private async syncAt(home: ShardHome, at: ShardCopy["at"], minZxid: number, watches: HostWatch[]): Promise<{ key: string; zxid: number; notifications: WatchNotification[] } | undefined> {
    const router = this.parts.router();
    const copy = this.copy(at);
    const key = router.copyKey(home.mount, copy);
    // A quick move back sets again watches whose removal there may still be on its way.
    if (watches.length > 0) await home.removing;
    try {
      const answer = await router.syncHost(home.mount, copy, this.parts.host(), this.parts.ackSeq(key), minZxid, watches, at === "leader" ? 0 : this.parts.waitMs);
      if (answer.ready) return { key, zxid: answer.zxid, notifications: answer.notifications };
      if (at === "leader") throw new KeeperError("SystemError", `the leader of shard ${home.mount.shard} was not ready`);
      return undefined;
    } catch (err) {
      if (at === "leader") throw err;
      console.warn(`syncHost at the replica of shard ${home.mount.shard} failed`, err);
      return undefined;
    }
  }

  /**
   * syncHost at home (`at`): what it owes the host received (`through` kept as it is
   * taken), and its events sent, before this resolves: an answer released after it
   * shows their changes. False if it was not ready.
   */
  private async sync(home: ShardHome, at: ShardCopy["at"], minZxid: number, watches: HostWatch[]): Promise<boolean> {
    const answer = await this.syncAt(home, at, minZxid, watches);
    if (!answer) return false;
    await this.parts.receive(answer.key, answer.notifications, answer.zxid);
    return true;
  }

  /** Resolves once no move of the shard's home is under way (one that starts while another's waiter wakes is waited for too). */
  private async settled(home: ShardHome): Promise<void> {
    // Another request's failed move is that request's failure, not this one's.
    while (home.moving) await home.moving.done.catch(() => undefined);
  }

  /** Moves the shard's home to `to` (one move at a time); whether home is `to` after. */
  private async move(home: ShardHome, to: ShardCopy["at"]): Promise<boolean> {
    // Checked and set in one tick: two waiters woken by the same move must not both start one.
    while (home.moving) await home.moving.done.catch(() => undefined);
    if (home.at === to) return true;
    const moving = { to, done: this.moveNow(home, to) };
    home.moving = moving;
    try {
      return await moving.done;
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
    home.deferred = false;
    const since = home.through;
    // A one-shot watch from where its session set it: it may not have been at the old home
    // yet (a read's, on its way there), and one that fired is gone, so none fires twice.
    const watches = this.parts.watches.onShard(home.mount.shard).map((w) => ({ path: w.path, kind: w.kind, sinceZxid: firesOnce(w.kind) ? w.setZxid : Math.max(since, w.setZxid) }));
    // Without watches there is nothing to hand over: the next read finds whether the replica is ready.
    const answer = watches.length > 0 ? await this.syncAt(home, to, since, watches) : undefined;
    if (watches.length > 0 && !answer) {
      home.leftAt = Date.now();
      return false;
    }
    const from = this.copy(home.at);
    const handedOver = home.through;
    home.at = to;
    home.generation++;
    home.skipThrough = handedOver;
    home.through = handedOver;
    if (to === "leader") {
      home.leftAt = Date.now();
      this.parts.sql.exec("INSERT INTO host_homes (shard, at) VALUES (?, 'leader') ON CONFLICT (shard) DO UPDATE SET at = excluded.at", home.mount.shard);
    } else {
      this.parts.sql.exec("DELETE FROM host_homes WHERE shard = ?", home.mount.shard);
    }
    // Not awaited here: they wait for the watching requests on their way to `to`, and one may
    // be the request that waits for this move. Its answer carries them again (they are not
    // acknowledged until taken), so they still come before it; an answer whose release
    // moved home waits for them (settleAndSet).
    if (answer) home.moveEvents = this.parts.receive(answer.key, answer.notifications, answer.zxid);
    if (home.deferred) {
      // What it delivered during the move, and is still owed, comes with a settle.
      home.deferred = false;
      void this.sync(home, to, 0, []).catch((err: unknown) => console.warn(`settling the new home of shard ${home.mount.shard} failed`, err));
    }
    this.removeAt(home, from, watches);
    return true;
  }

  /** Removes the host's `watches` at `copy`, which is not home (best effort: one left there fires for nobody, as judge drops its events). */
  private removeAt(home: ShardHome, copy: ShardCopy, watches: readonly WatchSet[]): void {
    const host = this.parts.host().name;
    const router = this.parts.router();
    const removal = Promise.all(watches.map((w) => router.removeWatchesOn(home.mount, host, w.path, w.kind, copy))).then(
      () => undefined,
      (err: unknown) => console.warn(`removing the host's watches at a copy of shard ${home.mount.shard} that is not its home failed`, err),
    );
    home.removing = Promise.all([home.removing, removal]).then(() => undefined);
  }
}
