/**
 * The replica's side of a shard: it pulls its leader's committed log in pages,
 * applies entries strictly in zxid order with the applied zxid in the same
 * transaction as the rows, takes a paged (fuzzy) snapshot when new or when the
 * leader has trimmed past it, and resumes from storage after any crash. It applies
 * only from the log its rows came from: an answer from another (its leader recreated
 * empty under the same name) discards them for a snapshot (log-identity.ts).
 */
import { zxidEpoch } from "../../../protocol/index.ts";
import { CommitSignal } from "./commit-signal.ts";
import { freshMeta, type ReadResult } from "./leader.ts";
import { appendEntry, applyEffects, followsInOrder, overBounds, readMeta, replicaTrimSlack, storeAppliedMeta, trimLog, writeMeta } from "./log.ts";
import type { Fenced, PullReply, PullRequest, SnapshotReply, SnapshotRequest } from "./messages.ts";
import type { Clock, Network, Random, Storage, StorageTxn } from "./ports.ts";
import { SNAPSHOT_NOT_STARTED, type LogEntry, type Meta, type SnapshotProgress, type ZnodeRow } from "./rows.ts";
import type { ReplicationSettings } from "./settings.ts";
import { waitAtMost } from "./wait.ts";

/** A read the replica cannot serve yet: it has applied only `appliedZxid`. */
export interface Behind {
  behind: true;
  appliedZxid: number;
}

export interface ReplicaPorts {
  storage: Storage;
  clock: Clock;
  random: Random;
  network: Network;
  /**
   * Where the shard's leader is now, as its directory says (undefined: it cannot say).
   * Asked when the leader this replica follows stops answering, or answers that it no
   * longer leads without naming whom it follows: a handover moved the leader.
   */
  findLeader?: () => Promise<string | undefined>;
}

/** Consecutive failed rounds after which a replica asks where its leader is (findLeader). */
const FAILURES_BEFORE_ASKING = 3;

/** What `installed` is told was applied before a snapshot replacing another log's state: every row is new to it. */
const FROM_ANOTHER_LOG = -1;

export class ReplicaCore {
  readonly commits = new CommitSignal();
  private readonly name: string;
  /** The leader it pulls from: the one it was made for, or the one a fenced answer or a handover named (meta.following). */
  private leader: string;
  /** Set when the leader answered that it no longer leads, naming nobody: the directory is asked before the next round. */
  private leaderUnknown = false;
  private readonly ports: ReplicaPorts;
  private readonly settings: ReplicationSettings;
  /** How far past its bounds this replica's log grows before it is trimmed back (replicaTrimSlack). */
  private readonly trimSlack: { entries: number; bytes: number };
  /**
   * Called inside the transaction in which the replay after a snapshot's install
   * reaches the zxid every page's rows show (its rows consistent again), with the
   * zxid applied before the snapshot (FROM_ANOTHER_LOG when that state came from
   * another log), the zxid applied now and that transaction (an adapter fires its watches).
   */
  private readonly installed: (previousZxid: number, rowsZxid: number, txn: StorageTxn) => void;
  /**
   * Whether the entry being applied now (in apply's transaction) replays a snapshot's
   * range: its changes are in what `installed` fires, so an adapter fires nothing for it.
   */
  replayingSnapshot = false;
  /** Whether its leader's last answer named it a sync replica (a geo-tier leader acknowledges through it). */
  syncReplica = false;

  constructor(name: string, leader: string, ports: ReplicaPorts, settings: ReplicationSettings, installed: (previousZxid: number, rowsZxid: number, txn: StorageTxn) => void = () => {}) {
    this.name = name;
    this.leader = leader;
    this.ports = ports;
    this.settings = settings;
    this.trimSlack = replicaTrimSlack(settings);
    this.installed = installed;
    const following = ports.storage.transact((txn) => {
      const meta = readMeta(txn);
      if (!meta) writeMeta(txn, { ...freshMeta("replica"), readableZxid: Number.MAX_SAFE_INTEGER, snapshot: SNAPSHOT_NOT_STARTED });
      return meta?.following;
    });
    this.leader = following ?? leader;
  }

  /** The leader this replica pulls from now. */
  get leaderName(): string {
    return this.leader;
  }

  /**
   * A fenced answer: the object no longer leads. When it names the leader it follows
   * now (it handed the shard over), this replica follows that one from now on (stored,
   * so a restart does too); either way this pull's round ends.
   */
  private fencedBy(reply: Fenced): never {
    const was = this.leader;
    if (reply.leader) this.followLeader(reply.leader);
    else this.leaderUnknown = true;
    throw new Error(reply.leader ? `${was} handed its shard to ${reply.leader}` : `${was} is ${reply.role}`);
  }

  /**
   * An answer from a leader of an epoch below the one this replica promised (a failover
   * is under way or done): nothing of it is applied, and the directory is asked where
   * the leader is now.
   */
  private supersededLeader(): never {
    this.leaderUnknown = true;
    throw new Error(`${this.leader} leads an epoch this replica promised to leave`);
  }

  /**
   * Follows `leader` from now on, stored so that a restart does too. A snapshot under
   * way starts again there: the new leader's log may not reach back to where it began.
   */
  private followLeader(leader: string): void {
    if (leader === this.leader || leader === this.name) return;
    this.ports.storage.transact((txn) => {
      const meta = readMeta(txn)!;
      if (meta.role !== "replica") return;
      writeMeta(txn, { ...meta, following: leader, ...(meta.snapshot ? { snapshot: SNAPSHOT_NOT_STARTED } : {}) });
    });
    this.leader = leader;
  }

  /**
   * Pulls and applies while `keepRunning` says so (checked at each answer), or until
   * the object is gone (a crash abandons it at an await; the next instance resumes).
   */
  async run(keepRunning: () => boolean = () => true): Promise<void> {
    let failures = 0;
    while (keepRunning()) {
      try {
        const meta = this.meta();
        if (meta.snapshot) await this.snapshotStep(meta.snapshot);
        else await this.follow(meta.appliedZxid, keepRunning);
        failures = 0;
      } catch {
        failures += 1;
        if (this.ports.findLeader && (this.leaderUnknown || failures % FAILURES_BEFORE_ASKING === 0)) {
          this.leaderUnknown = false;
          const leader = await this.ports.findLeader().catch(() => undefined);
          if (leader) this.followLeader(leader);
        }
        await this.ports.clock.sleep(this.settings.retryMs * (0.5 + this.ports.random.next())).elapsed;
      }
    }
  }

  /** One pull, or one snapshot page. */
  async step(): Promise<void> {
    const meta = this.meta();
    if (meta.snapshot) return this.snapshotStep(meta.snapshot);
    const reply = await this.ports.network.request<PullRequest, PullReply>(this.leader, this.pullRequest(meta.appliedZxid, false));
    this.take(reply);
  }

  /**
   * Keeps `pullsInFlight` pulls at the leader, sending the next as each is answered,
   * so a commit's entry leaves the leader at once. Ends (resolved) when one answers
   * that a snapshot is needed or `keepRunning` says stop, and fails when one fails or
   * the leader no longer leads; the pulls still out are applied if they come back
   * (unless stopped).
   * The first pull, and the first after a gap (an answer lost, duplicated or
   * reordered), is plain, from the applied zxid; the others pipelined. `applied`:
   * the applied zxid as storage said when the loop began; each answer's transaction
   * says it since (pulls name it: nothing else applies meanwhile). Each pull gives the
   * leader a way back: a pull that streams pushes pages, taken as answers are, until
   * one shows a gap (then the replica asks for no more, and the pull's answer brings
   * the next plain one).
   */
  private follow(applied: number, keepRunning: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let out = 0;
      let plain = true;
      let ended = false;
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      /** Takes an answer or a pushed page: whether it followed what was applied and the loop goes on. */
      const taken = (reply: PullReply): boolean => {
        // A stopped replica's rows stay as they are: an answer that comes after is dropped.
        if (ended && !keepRunning()) return false;
        try {
          const outcome = this.take(reply, !ended);
          if (outcome.appliedZxid !== undefined) applied = outcome.appliedZxid;
          if (outcome.kind === "gap") plain = true;
          if (outcome.kind === "snapshot" || !keepRunning()) end();
          return outcome.kind === "applied" && !ended;
        } catch (error) {
          end(error);
          return false;
        }
      };
      const answered = (reply: PullReply) => {
        out--;
        taken(reply);
        send();
      };
      const send = () => {
        while (!ended && out < this.settings.pullsInFlight) {
          out++;
          const request = this.pullRequest(applied, !plain);
          plain = false;
          this.ports.network.request<PullRequest, PullReply>(this.leader, request, taken).then(answered, (error: unknown) => {
            out--;
            end(error);
          });
        }
      };
      send();
    });
  }

  private pullRequest(appliedZxid: number, pipelined: boolean): PullRequest {
    const request: PullRequest = { type: "pull", replica: this.name, fromZxid: appliedZxid, maxBytes: this.settings.pageMaxBytes };
    return pipelined ? { ...request, pipelined } : request;
  }

  /**
   * Acts on a pull's answer: applies its entries ("gap" when the page starts past
   * what is applied, some entries could not follow it, or an empty answer shows the
   * leader ahead: a plain pull must refetch), or starts a snapshot when the leader no
   * longer holds what follows or its log is another (unless `current` is false: a
   * late answer to a loop that ended), or throws when the leader no longer leads.
   * Says the applied zxid after it, when it applied (or could have).
   */
  private take(reply: PullReply, current = true): { kind: "applied" | "gap" | "snapshot"; appliedZxid?: number } {
    if (reply.kind === "fenced") this.fencedBy(reply);
    if (reply.kind === "entries") this.syncReplica = reply.sync === true;
    const applied = reply.kind === "entries" ? this.apply(reply) : "another-log";
    if (applied === "superseded") this.supersededLeader();
    if (reply.kind === "snapshot-needed" || applied === "another-log" || applied === "dropped") {
      if (current) this.restartSnapshot();
      return { kind: "snapshot" };
    }
    const last = reply.entries.at(-1)?.zxid ?? reply.leaderZxid;
    return { kind: last > applied ? "gap" : "applied", appliedZxid: applied };
  }

  /** A sequential read: served once this replica has applied `minZxid` (the session's bookmark). */
  read(path: string, minZxid: number): ReadResult | Behind {
    return this.ports.storage.transact((txn) => readApplied(txn, path, minZxid));
  }

  /** Waits until the replica can serve reads at `zxid`, or `timeoutMs` passes; says which. */
  async waitApplied(zxid: number, timeoutMs: number): Promise<boolean> {
    const deadline = this.ports.clock.now() + timeoutMs;
    for (;;) {
      if (this.readableAt(zxid)) return true;
      const left = deadline - this.ports.clock.now();
      if (left <= 0) return false;
      await waitAtMost(this.ports.clock, this.commits.next(), left);
    }
  }

  private readableAt(zxid: number): boolean {
    const meta = this.meta();
    return meta.appliedZxid >= Math.max(zxid, meta.readableZxid);
  }

  private meta(): Meta {
    return this.ports.storage.transact((txn) => readMeta(txn)!);
  }

  /**
   * Applies the entries of a page of the log after `afterZxid` that follow what is
   * applied, in order; none while a snapshot is taken, or when the page starts past
   * what is applied (it follows a page that never came: lost, or still travelling).
   * A gap ends the page (a plain pull refetches). Returns the applied zxid, or
   * "another-log" when the page comes from another log than this replica's rows (a
   * replica stored before logs had identities has none: it resyncs once), or
   * "superseded" when its leader's epoch is below one this copy promised, or "dropped"
   * when the log goes past what a snapshot's rows show without holding it (below).
   */
  private apply({ afterZxid, entries, logId, epoch }: Extract<PullReply, { kind: "entries" }>): number | "another-log" | "superseded" | "dropped" {
    const applied = this.ports.storage.transact((txn): { applied: number; done: LogEntry[]; dropped?: true } | "another-log" | "superseded" => {
      const meta = readMeta(txn)!;
      const done: LogEntry[] = [];
      let dropped = false;
      if (epoch < meta.promisedEpoch) return "superseded";
      if (meta.logId !== logId) return "another-log";
      // Promoted meanwhile (it leads now): its rows move by its own writes alone.
      if (meta.role !== "replica" || meta.snapshot || afterZxid > meta.appliedZxid) return { applied: meta.appliedZxid, done };
      try {
        for (const entry of entries) {
          if (entry.zxid <= meta.appliedZxid) continue;
          if (!followsInOrder(meta.appliedZxid, entry)) break;
          // The snapshot's rows show its leader's head (readableZxid), and this log goes past
          // it without holding it: a failover dropped that tail, so the rows may show writes
          // it dropped. They are never served: the new leader's snapshot replaces them.
          if (meta.appliedZxid < meta.readableZxid && entry.zxid > meta.readableZxid) {
            dropped = true;
            break;
          }
          this.replayingSnapshot = meta.installedFrom !== undefined && entry.zxid <= meta.readableZxid;
          appendEntry(txn, meta, entry);
          meta.epoch = entry.epoch;
          done.push(entry);
        }
      } finally {
        this.replayingSnapshot = false;
      }
      if (done.length > 0) {
        if (overBounds(meta, this.settings, this.trimSlack)) trimLog(txn, meta, this.settings, meta.appliedZxid);
        if (this.replayed(txn, meta)) writeMeta(txn, meta);
        else storeAppliedMeta(txn, meta);
      }
      return { applied: meta.appliedZxid, done, ...(dropped ? { dropped } : {}) };
    });
    if (typeof applied === "string") return applied;
    this.commits.committed(applied.done);
    return applied.dropped ? "dropped" : applied.applied;
  }

  /**
   * Tells `installed` when the replay after a snapshot has reached readableZxid
   * (call in the transaction that moved meta, and store meta if it says so).
   */
  private replayed(txn: StorageTxn, meta: Meta): boolean {
    if (meta.installedFrom === undefined || meta.appliedZxid < meta.readableZxid) return false;
    this.installed(meta.installedFrom, meta.appliedZxid, txn);
    delete meta.installedFrom;
    return true;
  }

  private restartSnapshot(): void {
    this.ports.storage.transact((txn) => {
      const meta = readMeta(txn)!;
      writeMeta(txn, { ...meta, readableZxid: Number.MAX_SAFE_INTEGER, snapshot: SNAPSHOT_NOT_STARTED });
    });
  }

  private async snapshotStep(progress: SnapshotProgress): Promise<void> {
    const starting = progress.startZxid < 0;
    const request: SnapshotRequest = {
      type: "snapshot",
      replica: this.name,
      ...(starting ? {} : { startZxid: progress.startZxid }),
      cursor: starting ? null : progress.cursor,
      maxBytes: this.settings.pageMaxBytes,
    };
    const page = await this.ports.network.request<SnapshotRequest, SnapshotReply>(this.leader, request);
    if (page.kind === "fenced") this.fencedBy(page);
    if (page.kind === "snapshot-needed") {
      if (!starting) this.restartSnapshot();
      return;
    }
    const finished = this.ports.storage.transact((txn): boolean | "superseded" => {
      const meta = readMeta(txn)!;
      const current = meta.snapshot;
      if (page.epoch < meta.promisedEpoch) return "superseded";
      if (!current) return false;
      if (starting) {
        // A new snapshot: this replica's rows and log are replaced by the leader's.
        if (current.startZxid >= 0) return false;
        for (const table of ["subtree", "znode", "session", "txn", "log"] as const) txn.deleteAll(table);
        Object.assign(meta, { logEntries: 0, logBytes: 0 });
      } else if (page.logId !== current.logId) {
        // Its leader's log was recreated mid-snapshot: the pages so far are another log's rows.
        writeMeta(txn, { ...meta, snapshot: SNAPSHOT_NOT_STARTED });
        return false;
      } else if (current.startZxid !== page.startZxid || JSON.stringify(current.cursor) !== JSON.stringify(page.cursor)) {
        return false; // a late or duplicated page
      }
      applyEffects(txn, page.rows);
      const endZxid = Math.max(current.endZxid, page.pageZxid);
      if (page.next) {
        meta.snapshot = { startZxid: page.startZxid, endZxid, cursor: page.next, logId: page.logId };
      } else {
        // Done: replay the log from startZxid; reads wait until the replay passes every page's zxid.
        // The rows are now this log's: its identity is stored with them.
        // Its watches fire once the replay reaches endZxid (at once if the log holds nothing
        // newer), by what changed since before this snapshot or an earlier one whose replay it cut short.
        Object.assign(meta, { snapshot: null, appliedZxid: page.startZxid, trimmedZxid: page.startZxid, readableZxid: endZxid, epoch: zxidEpoch(page.startZxid), logId: page.logId, installedFrom: Math.min(meta.installedFrom ?? Infinity, appliedBefore(meta, page.logId)) });
        this.replayed(txn, meta);
      }
      writeMeta(txn, meta);
      return meta.snapshot === null;
    });
    if (finished === "superseded") this.supersededLeader();
    // Waiting reads may be served now, if the log after the snapshot holds nothing newer.
    if (finished) this.commits.wake();
  }
}

/**
 * A sequential read of a copy that does not lead (a replica, or a sealed leader): its
 * row once the copy has applied `minZxid` and is readable (not mid-snapshot).
 */
export function readApplied(txn: StorageTxn, path: string, minZxid: number): ReadResult | Behind {
  const meta = readMeta(txn)!;
  if (meta.appliedZxid < Math.max(minZxid, meta.readableZxid)) return { behind: true, appliedZxid: meta.appliedZxid };
  return { row: txn.get<ZnodeRow>("znode", path), zxid: meta.appliedZxid };
}

/**
 * The zxid of the state a snapshot of log `logId` replaces, for `installed`: zxids of
 * another log say nothing of this one's rows. A replica stored before logs had
 * identities counts as this log's (its zxids are the only clue it has).
 */
function appliedBefore(meta: Meta, logId: string): number {
  return meta.logId === undefined || meta.logId === logId ? meta.appliedZxid : FROM_ANOTHER_LOG;
}
