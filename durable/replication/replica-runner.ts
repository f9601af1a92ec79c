/**
 * A replica shard object's replication, as the object runs it: the core's
 * ReplicaCore over the object's SQLite Storage port, pulling from its leader
 * through a LeaderLink. A read starts the pull loop; it runs until the replica is
 * idle (no read for `idleMs`, unless it holds watches or is a geo-tier leader's sync
 * replica) or its leader answers that it no longer leads: then
 * it stops and its alarm is cleared (its rows stay), and the next read starts it
 * again from what storage says it applied. A replica whose leader's log has ended
 * its shard (an unmount's seal, applied) stops for good: no read starts it again.
 * While it runs, a watchdog alarm, re-armed at each firing, restarts it in a new
 * instance (after a restart, an eviction or a deploy nothing else would wake the object).
 */
import { KeeperError, zxidCounter, zxidEpoch } from "../../protocol/index.ts";
import { type ReplicationSettings, ReplicaCore, type Storage, readMeta } from "./core/index.ts";
import { LeaderLink, type ReplicationLeader } from "./leader-link.ts";
import { WORKER_CLOCK } from "./worker-clock.ts";
import type { ReplicaIdentity } from "./replica-name.ts";

/** A replica as `GET /v1/admin/shards` shows it. */
export interface ReplicaStatus {
  region: string;
  /** The leader object it follows. */
  leader: string;
  /** The last zxid whose effects are in its rows. */
  appliedZxid: number;
  /** Zxids the leader had committed, at its last answer, that the replica has not applied. */
  lagZxids: number;
  /** How old the state it serves may be (see `msSinceContact`); null before its first answer since it started. */
  msSinceContact: number | null;
  /** Taking a snapshot: reads wait until it is done and replayed. */
  snapshotting: boolean;
  /** Whether its pull loop runs (false once idle or its leader no longer leads, until the next read). */
  pulling: boolean;
}

/**
 * What a read asks of a replica: to have applied `minZxid` (the caller's bookmark
 * for the shard), waiting at most `waitMs` for it, and, when given, to hold every
 * write its leader committed `maxStalenessMs` ago.
 */
export interface ReplicaReadAt {
  minZxid: number;
  waitMs: number;
  maxStalenessMs?: number;
}

/** Whether a replica can serve a read as asked, and how far it has applied and how fresh it is. */
export interface Readiness {
  ready: boolean;
  appliedZxid: number;
  msSinceContact: number | null;
}

export interface ReplicaRunnerOptions {
  /** The replica object's own name (how its leader knows it). */
  name: string;
  /** The region it serves, and the leader it follows unless its storage names another (a handover's). */
  identity: ReplicaIdentity;
  /** The object's SQLite storage as the core's Storage port. */
  storage: Storage;
  /** The object's storage, for its alarm. */
  alarms: Pick<DurableObjectStorage, "getAlarm" | "setAlarm" | "deleteAlarm">;
  /** A stub of the named leader object. */
  leaderOf: (name: string) => ReplicationLeader;
  settings: ReplicationSettings;
  /** How often the watchdog alarm fires. */
  watchdogMs: number;
  /** After this long without a read the replica stops pulling (checked by the watchdog), unless it holds watches. */
  idleMs: number;
  /** Whether the log it applied has ended its shard (ShardDO: sealed by an unmount), read from storage: then it pulls no more. */
  ended: () => boolean;
  /** The watches this replica holds for session hosts (none when omitted). */
  watches?: ReplicaWatches;
}

/** A replica's watches as its pull loop sees them. */
export interface ReplicaWatches {
  /** Inside the transaction in which the replay after a snapshot's install makes its rows consistent: fires them by what the rows show changed since `previousZxid` (rows at `rowsZxid`). */
  installed(previousZxid: number, rowsZxid: number): void;
  /** Whether any is held: then the replica keeps pulling though nobody reads, or they would never fire. */
  held(): boolean;
}

/** Zxids between `applied` and `leader`: the counter gap in one epoch; from an earlier epoch, the later epoch's counter plus its start. */
export function zxidLag(applied: number, leader: number): number {
  if (leader <= applied) return 0;
  return zxidEpoch(leader) === zxidEpoch(applied) ? leader - applied : zxidCounter(leader) + 1;
}

export class ReplicaRunner {
  private readonly core: ReplicaCore;
  private readonly identity: ReplicaIdentity;
  private readonly link: LeaderLink;
  private readonly options: ReplicaRunnerOptions;
  private readonly now = WORKER_CLOCK.now;
  /** When the state applied so far was last known complete: the `asOf` of an answer it has since applied (LeaderLink). */
  private completeAt: number | undefined;
  private loop: Promise<void> | undefined;
  /** Whether the loop should run: set by a read (or a resumed instance), cleared when idle or the leader is gone. */
  private wanted = false;
  /** When the last read came (or this instance resumed pulling): idleness counts from here. */
  private lastReadAt: number;

  /**
   * Makes the object a replica (its meta, on first start); `resume` starts pulling.
   *
   * @example
   * const runner = new ReplicaRunner({ name, identity, storage, alarms: ctx.storage, leaderOf, settings, watchdogMs: 30_000, idleMs: 600_000 });
   * await runner.resume();
   */
  constructor(options: ReplicaRunnerOptions) {
    this.options = options;
    this.identity = options.identity;
    this.link = new LeaderLink(options.leaderOf, this.now);
    const ports = { storage: options.storage, clock: WORKER_CLOCK, random: { next: Math.random }, network: this.link };
    this.core = new ReplicaCore(options.name, options.identity.leader, ports, options.settings, (previous, rowsZxid) => options.watches?.installed(previous, rowsZxid));
    this.lastReadAt = this.now();
  }

  /** Whether the entry being applied now replays a snapshot's range: its watches fire by the rows when the replay ends, not by the entry. */
  get replayingSnapshot(): boolean {
    return this.core.replayingSnapshot;
  }

  /** Counts as a read: starts pulling (again) unless it runs, with its watchdog alarm set. */
  async resume(): Promise<void> {
    this.lastReadAt = this.now();
    if (this.wanted || this.options.ended()) return;
    this.wanted = true;
    // Try the leader again: it may lead once more (a new mount), else the loop stops at its first answer.
    this.link.leaderGone = false;
    this.ensureRunning();
    if ((await this.options.alarms.getAlarm()) === null) await this.options.alarms.setAlarm(this.now() + this.options.watchdogMs);
  }

  /** The alarm: stops an idle replica (clearing its alarm); else restarts the loop if this instance has none, and sets the next alarm. */
  async watchdog(): Promise<void> {
    // A sync replica pulls whether read or not: its leader acknowledges writes through it.
    const idle = this.now() - this.lastReadAt >= this.options.idleMs && !this.options.watches?.held() && !this.core.syncReplica;
    if (idle || !this.mayPull()) return this.stop();
    this.wanted = true;
    this.ensureRunning();
    await this.options.alarms.setAlarm(this.now() + this.options.watchdogMs);
  }

  /**
   * Stops pulling for good, leaving the alarm to the object: it leads now (a
   * handover's target), and its rows move by its own writes alone.
   */
  retire(): void {
    this.wanted = false;
  }

  /** Stops pulling (the loop ends at the next answer to one of its pulls) and clears the alarm; the rows stay for the next read. */
  private async stop(): Promise<void> {
    this.wanted = false;
    await this.options.alarms.deleteAlarm();
  }

  /**
   * Waits until the replica can serve reads as `at` asks, at most `at.waitMs`. When
   * it says ready, the caller reads in the same synchronous block (the applied zxid
   * only grows, so what it reads shows at least `at.minZxid`).
   */
  async readiness(at: ReplicaReadAt): Promise<Readiness> {
    if (!Number.isSafeInteger(at?.minZxid) || at.minZxid < 0) throw new KeeperError("BadArguments", "a replica read names the zxid it must show (a whole number, 0 or more)");
    await this.resume();
    const applied = await this.core.waitApplied(at.minZxid, Number.isFinite(at.waitMs) ? Math.max(0, at.waitMs) : 0);
    const msSinceContact = this.msSinceContact();
    const fresh = at.maxStalenessMs === undefined || (msSinceContact !== null && msSinceContact <= at.maxStalenessMs);
    return { ready: applied && fresh, appliedZxid: this.applied().appliedZxid, msSinceContact };
  }

  /** The applied zxid, the zxid reads wait for (a snapshot's end), and whether a snapshot is in progress, from storage. */
  applied(): { appliedZxid: number; readableZxid: number; snapshotting: boolean } {
    return this.options.storage.transact((txn) => {
      const meta = readMeta(txn);
      return { appliedZxid: meta?.appliedZxid ?? 0, readableZxid: meta?.readableZxid ?? Number.MAX_SAFE_INTEGER, snapshotting: (meta?.snapshot ?? null) !== null };
    });
  }

  /**
   * How old the served state may be, in ms: the replica holds every write its leader
   * had committed that long ago. Null before an answer since this instance started.
   */
  msSinceContact(): number | null {
    const latest = this.link.latest;
    if (latest && (this.completeAt === undefined || latest.asOf > this.completeAt) && this.applied().appliedZxid >= latest.leaderZxid) this.completeAt = latest.asOf;
    return this.completeAt === undefined ? null : Math.max(0, this.now() - this.completeAt);
  }

  status(): ReplicaStatus {
    const { appliedZxid, snapshotting } = this.applied();
    const leaderZxid = this.link.latest?.leaderZxid ?? appliedZxid;
    return { region: this.identity.region, leader: this.core.leaderName, appliedZxid, lagZxids: zxidLag(appliedZxid, leaderZxid), msSinceContact: this.msSinceContact(), snapshotting, pulling: this.loop !== undefined };
  }

  /** Starts the pull loop unless this instance runs it already. */
  private ensureRunning(): void {
    if (this.loop) return;
    // ReplicaCore.run retries every failure itself: it ends when no longer wanted, or with the instance.
    this.loop = this.core.run(() => this.wanted && this.mayPull()).finally(() => {
      this.loop = undefined;
      // Wanted again while it was ending: run on. Ended for its leader or its shard: stop (clears the alarm).
      if (this.wanted && this.mayPull()) this.ensureRunning();
      else if (this.wanted) void this.stop();
    });
  }

  /** Whether there is anything to pull: its leader still leads, and its shard has not ended. */
  private mayPull(): boolean {
    return !this.link.leaderGone && !this.options.ended();
  }
}
