/**
 * The leader's side of a shard: it sequences writes into log entries (effects and
 * commit record in one transaction), answers linearizable reads, serves its log and
 * paged snapshots to replicas, and is fenced by its storage (role, promised epoch),
 * read in the same synchronous transaction as everything it guards.
 */
import { makeZxid, zxidCounter, zxidEpoch } from "../../../protocol/index.ts";
import { CommitSignal } from "./commit-signal.ts";
import { execute, rootRow } from "./executor.ts";
import { PullStreams } from "./pull-streams.ts";
import { PushWindow } from "./push-window.ts";
import { RecentEntries } from "./recent-entries.ts";
import { SyncAcks } from "./sync-acks.ts";
import type { CopyState } from "./handover.ts";
import { leaderLogId, newLogId } from "./log-identity.ts";
import { applyEffects, entriesAfter, overBounds, recordEntry, readMeta, slowestLiveReplica, storedMeta, trimLog, writeMeta } from "./log.ts";
import type { Fenced, PullReply, PullRequest, PushPage, SnapshotReply, SnapshotRequest } from "./messages.ts";
import type { Clock, Random, Storage, StorageTxn } from "./ports.ts";
import { SNAPSHOT_NOT_STARTED, shippedBytes, type AnyLogEntry, type Effect, type LogEntry, type Meta, type PeerRow, type Reply, type SessionRow, type SnapshotCursor, type WriteOp, type ZnodeRow } from "./rows.ts";
import type { ReplicationSettings } from "./settings.ts";
import { waitAtMost } from "./wait.ts";

/** What a read returns: the row (undefined when absent) and the zxid of the state it shows. */
export interface ReadResult {
  row: ZnodeRow | undefined;
  zxid: number;
}

/** Rows of a fresh meta: nothing applied, nothing promised. */
export function freshMeta(role: Meta["role"]): Meta {
  return { role, epoch: 0, promisedEpoch: 0, sealedZxid: 0, appliedZxid: 0, readableZxid: 0, trimmedZxid: 0, logEntries: 0, logBytes: 0, snapshot: null };
}

/** Builds a log entry, its size counted as shipped. */
export function logEntry(fields: Omit<LogEntry, "size">): LogEntry {
  return { ...fields, size: shippedBytes(fields) };
}

function fencedBy(meta: Meta | undefined): Fenced | undefined {
  if (meta && meta.role === "leader" && meta.promisedEpoch <= meta.epoch) return undefined;
  return fencedAnswer(meta, meta?.epoch ?? 0);
}

/**
 * Drops what this object knew of replicas pulling from it: a copy that changes role
 * in a handover knew them at another time (as a sealed leader, say), and a stale
 * note would hold back a trim its log, trimmed as a replica's meanwhile, is past.
 */
function forgetPeers(txn: StorageTxn): void {
  txn.deleteAll("peer");
}

/** Names a leader's sync replicas in its meta (none: it is regional). */
function setSyncReplicasOf(meta: Meta, replicas: readonly string[]): void {
  if (replicas.length > 0) meta.syncReplicas = [...replicas];
  else delete meta.syncReplicas;
}

/** A fenced answer from an object in `meta`'s role, naming the leader it follows when it knows one. */
function fencedAnswer(meta: Meta | undefined, epoch: number): Fenced {
  const fenced: Fenced = { kind: "fenced", role: meta?.role ?? "replica", epoch };
  return meta?.following ? { ...fenced, leader: meta.following } : fenced;
}

/**
 * How often a replica's progress from the pushes it applied is written at most
 * (LeaderLog.noteApplied); a pull's arrival notes it too.
 */
export const PROGRESS_NOTE_MS = 1_000;

/** A page of log entries, as a pull is answered or a streaming pull pushes. */
type EntriesPage<E extends AnyLogEntry> = Extract<PullReply<E>, { kind: "entries" }>;

/** A write `LeaderLog.sequence` ran: the executor's value and the entry logged (none: it took no zxid). */
export interface Sequenced<T, E> {
  kind: "sequenced";
  value: T;
  entry?: E;
}

/**
 * The leader's log whatever its rows: activation, seal, sequencing of writes an
 * executor runs (each write's entry in its transaction, fenced by meta read there),
 * and the pages of log and snapshot replicas pull. `E`: the entries' type; `sizeOf`
 * counts a snapshot row's bytes as shipped, as entries count theirs in `size`;
 * `random` makes the log's identity (log-identity.ts).
 */
export class LeaderLog<E extends AnyLogEntry = LogEntry> {
  readonly commits = new CommitSignal<E>();
  protected readonly storage: Storage;
  protected readonly clock: Clock;
  private readonly settings: ReplicationSettings;
  private readonly sizeOf: (value: unknown) => number;
  private readonly pulls = new PullStreams();
  /** The last few committed entries, which pulls at the head read instead of storage. */
  private readonly recent = new RecentEntries<E>();
  /** When each replica's progress from its applied pushes was last written (noteApplied). */
  private readonly progressNotedAt = new Map<string, number>();
  private readonly random: Random;
  /** A geo-tier leader's acknowledgements: what its sync replicas hold. */
  protected readonly acks: SyncAcks;
  private acksConfigured = false;

  constructor(storage: Storage, clock: Clock, settings: ReplicationSettings, sizeOf: (value: unknown) => number = shippedBytes, random: Random = { next: Math.random }) {
    this.storage = storage;
    this.clock = clock;
    this.settings = settings;
    this.sizeOf = sizeOf;
    this.random = random;
    // Read replicas' pulls held back by the acknowledged point read again when it moves.
    this.acks = new SyncAcks(clock, () => this.pulls.wakeNewest());
    this.commits.listen((entries) => {
      this.recent.committed(entries);
      this.pulls.wakeNewest();
    });
  }

  /**
   * Makes this object the leader of `epoch` (above any it led or promised). A new tree
   * is logged as the snapshot of its rows (`initialRows`) at (epoch, 0); a later epoch
   * opens with an epoch-start entry at (epoch, 0), so the log has no holes across epochs.
   * A new tree is a new log, with a new identity; a later epoch continues the log.
   */
  activate(epoch: number, initialRows: (zxid: number, now: number) => E["effects"]): Meta | Fenced {
    return this.beginEpoch((meta) => (epoch <= meta.epoch || epoch < meta.promisedEpoch ? { kind: "fenced", role: meta.role, epoch: meta.promisedEpoch } : epoch), initialRows);
  }

  /**
   * Opens the epoch `decide` names in one transaction with its check of meta (or
   * answers what it says instead): the snapshot of a new tree, else an epoch-start
   * entry; then this object leads it. `before` runs first in that transaction.
   */
  private beginEpoch<A>(decide: (meta: Meta) => number | A, initialRows: (zxid: number, now: number) => E["effects"] = () => [], before: (txn: StorageTxn, meta: Meta) => void = () => {}): Meta | A {
    this.recent.clear();
    const begun = this.storage.transact((txn): { entry: E } | { answer: A } => {
      const meta = readMeta(txn) ?? freshMeta("leader");
      const epoch = decide(meta);
      if (typeof epoch !== "number") return { answer: epoch };
      before(txn, meta);
      const zxid = makeZxid(epoch, 0);
      const fresh = meta.appliedZxid === 0;
      const effects = fresh ? initialRows(zxid, this.clock.now()) : [];
      const fields = { zxid, epoch, kind: fresh ? "snapshot" : "epoch-start", session: 0, cxid: 0, effects, reply: { zxid } } as const;
      const entry = { ...fields, size: this.sizeOf(fields) } as unknown as E;
      Object.assign(meta, { role: "leader", epoch, promisedEpoch: epoch, sealedZxid: 0, readableZxid: 0, snapshot: null });
      delete meta.following;
      delete meta.installedFrom;
      if (fresh || meta.logId === undefined) meta.logId = newLogId(this.random);
      applyEffects(txn, effects);
      this.append(txn, meta, entry);
      return { entry };
    });
    if ("answer" in begun) return begun.answer;
    this.commits.committed([begun.entry]);
    const meta = this.storage.transact((txn) => readMeta(txn)!);
    this.acks.configure(meta.syncReplicas ?? []);
    return meta;
  }

  /**
   * A handover's last step at its target, a replica of the sealed leader: once it has
   * applied `sealedZxid` (the sealed leader's last zxid, so it holds every write that
   * leader acknowledged, and their stored replies), it leads `epoch`, its log going on
   * from the old leader's. Answers its meta once it leads `epoch` (asked again: at
   * once), "behind" while it has not applied `sealedZxid` (or is mid-snapshot), or
   * fenced when it may not (a leader already, or promised a later epoch).
   */
  takeOver(epoch: number, sealedZxid: number, syncReplicas: readonly string[] = []): Meta | "behind" | Fenced {
    return this.beginEpoch((meta): number | Meta | "behind" | Fenced => {
      if (meta.role === "leader" && meta.epoch === epoch) return meta;
      if (meta.role !== "replica" || epoch <= meta.epoch || epoch < meta.promisedEpoch || meta.appliedZxid > sealedZxid) return fencedAnswer(meta, meta.promisedEpoch);
      if (meta.snapshot || meta.appliedZxid < Math.max(sealedZxid, meta.readableZxid)) return "behind";
      return epoch;
    }, () => [], (txn, meta) => {
      forgetPeers(txn);
      setSyncReplicasOf(meta, syncReplicas);
      // Shown only acknowledged entries, then the sealed zxid once it was: all it holds is.
      this.acks.beginLeading(meta.appliedZxid);
    });
  }

  /**
   * A handover abandoned: this object, sealed for `epoch` or still leading the one
   * before, leads `epoch` itself (so a seal of it still on its way is refused). Answers
   * its meta once it leads `epoch` (asked again: at once), or fenced (a replica, or
   * promised a later epoch). Storage cannot tell this from a seal whose successor took
   * over: the handover asks it only of a move whose target was never asked to lead
   * (core/handover.ts, abandoning before "sealed").
   */
  reopen(epoch: number): Meta | Fenced {
    return this.beginEpoch((meta): number | Meta | Fenced => {
      if (meta.role === "leader" && meta.epoch === epoch) return meta;
      if (meta.role === "replica" || epoch <= meta.epoch || epoch < meta.promisedEpoch) return fencedAnswer(meta, meta.promisedEpoch);
      return epoch;
    });
  }

  /**
   * A handover done: this object, sealed for `epoch`, becomes a replica of `leader`,
   * which leads it (its log is a prefix of the new leader's); a replica is told whom
   * to follow now. Its pullers and callers are pointed there (fenced answers name it).
   * Answers true, or fenced when it leads or promised a later epoch.
   */
  follow(leader: string, epoch: number): true | Fenced {
    const told = this.storage.transact((txn): true | Fenced => {
      const meta = readMeta(txn);
      if (!meta || meta.role === "leader" || epoch < meta.promisedEpoch) return fencedAnswer(meta, meta?.promisedEpoch ?? 0);
      Object.assign(meta, { role: "replica", promisedEpoch: epoch, following: leader });
      writeMeta(txn, meta);
      forgetPeers(txn);
      return true;
    });
    // The pulls it holds are answered now, naming the new leader, not when their long polls end.
    if (told === true) this.pulls.wakeAll();
    return told;
  }

  /**
   * Makes the shard geo-tier, a write acknowledged once one of `replicas` holds it, or
   * regional (none): stored in the leader's meta, which a promoted replica's gets too.
   * Answers true, or fenced when this object does not lead.
   */
  setSyncReplicas(replicas: readonly string[]): true | Fenced {
    const set = this.storage.transact((txn): true | Fenced => {
      const meta = readMeta(txn);
      const fenced = fencedBy(meta);
      if (fenced || !meta) return fenced ?? fencedAnswer(meta, 0);
      setSyncReplicasOf(meta, replicas);
      writeMeta(txn, meta);
      return true;
    });
    if (set === true) this.acks.configure(replicas);
    return set;
  }

  /**
   * A failover's first step at each sync replica: it promises `epoch` and from then on
   * applies nothing from a leader of an earlier one, so the old leader, which needs a
   * sync replica to hold each write it acknowledges, acknowledges nothing more. Answers
   * what it holds (asked again for the same epoch: the same promise), or fenced when it
   * leads or promised a later epoch.
   */
  promise(epoch: number): CopyState | Fenced {
    return this.storage.transact((txn): CopyState | Fenced => {
      const meta = readMeta(txn);
      if (!meta || meta.role === "leader" || epoch <= meta.epoch || epoch < meta.promisedEpoch) return fencedAnswer(meta, meta?.promisedEpoch ?? 0);
      if (meta.promisedEpoch < epoch) writeMeta(txn, { ...meta, promisedEpoch: epoch });
      // Replaying after a snapshot's pages, its rows are not yet those of any one zxid: as good as mid-snapshot.
      return { role: meta.role, epoch: meta.epoch, promisedEpoch: epoch, appliedZxid: meta.appliedZxid, snapshot: meta.snapshot !== null || meta.appliedZxid < meta.readableZxid };
    });
  }

  /**
   * A failover's promotion of the sync replica holding the most: having promised
   * `epoch`, it leads it, its log going on from what it holds, acknowledging through
   * `syncReplicas`. Answers its meta once it leads `epoch` (asked again: at once), or
   * fenced when it may not (it promised another epoch, leads, or is mid-snapshot).
   */
  promote(epoch: number, syncReplicas: readonly string[]): Meta | Fenced {
    return this.beginEpoch(
      (meta): number | Meta | Fenced => {
        if (meta.role === "leader" && meta.epoch === epoch) return meta;
        if (meta.role === "leader" || meta.promisedEpoch !== epoch || epoch <= meta.epoch || meta.snapshot || meta.appliedZxid < meta.readableZxid) return fencedAnswer(meta, meta.promisedEpoch);
        return epoch;
      },
      () => [],
      (txn, meta) => {
        forgetPeers(txn);
        setSyncReplicasOf(meta, syncReplicas);
        // A sync replica: what it holds is acknowledged by its holding it.
        this.acks.beginLeading(meta.appliedZxid);
      },
    );
  }

  /**
   * A failover done, told to every copy but the promoted one (the old leader when it is
   * reached again): it becomes a replica of `leader`, which leads `epoch`. What its rows
   * show past `keepThrough` (the promoted replica's head: an old leader's tail, or a
   * snapshot's rows read from it) no sync replica held, so no client was told of it:
   * those rows are dropped for a snapshot of the new leader's, begun at once (so a
   * later failover's promise says it is mid-snapshot, and it is never promoted with
   * them), under a new log identity. Answers the zxid it had applied (an old leader's tail past
   * `keepThrough` is what it dropped), or fenced when it leads `epoch` or a later one.
   */
  stepDown(leader: string, epoch: number, keepThrough: number): { appliedZxid: number } | Fenced {
    const told = this.storage.transact((txn): { appliedZxid: number } | Fenced => {
      const meta = readMeta(txn);
      if (!meta || (meta.role === "leader" && meta.epoch >= epoch) || epoch < meta.promisedEpoch) return fencedAnswer(meta, meta?.promisedEpoch ?? 0);
      const appliedZxid = meta.appliedZxid;
      // Told again (its first answer was lost): nothing more to do.
      if (meta.role === "replica" && meta.promisedEpoch === epoch && meta.following === leader) return { appliedZxid };
      // Mid-snapshot, rows show up to where its pages were read (readableZxid), beyond what is applied.
      const shown = meta.snapshot || meta.installedFrom !== undefined ? meta.readableZxid : appliedZxid;
      Object.assign(meta, { role: "replica", promisedEpoch: epoch, sealedZxid: 0, following: leader });
      delete meta.syncReplicas;
      if (shown > keepThrough) Object.assign(meta, { logId: newLogId(this.random), snapshot: SNAPSHOT_NOT_STARTED, readableZxid: Number.MAX_SAFE_INTEGER });
      writeMeta(txn, meta);
      forgetPeers(txn);
      return { appliedZxid };
    });
    if (!("kind" in told)) {
      this.acks.stepDown();
      this.pulls.wakeAll();
    }
    return told;
  }

  /**
   * Waits until `zxid` is acknowledged (a geo-tier leader: a sync replica holds it; a
   * regional one: at once), or `timeoutMs` pass; says whether it is. An answer showing
   * `zxid` waits for this.
   */
  whenAcked(zxid: number, timeoutMs: number): Promise<boolean> {
    return this.syncAcks().whenAcked(zxid, timeoutMs);
  }

  /**
   * Whether this copy, a sync replica, vouches that nobody leads after `epoch` yet: it
   * has promised no later one. A geo-tier leader's linearizable read is answered once
   * a sync replica vouches after the read: a failover promotes only once every sync
   * replica promised, so until then the read's state is the newest.
   */
  vouches(epoch: number): boolean {
    return this.readOnly((txn) => {
      const meta = storedMeta(txn);
      return meta !== undefined && meta.promisedEpoch <= epoch && meta.epoch <= epoch;
    });
  }

  /** The highest zxid acknowledged: what a sync replica holds (the head itself, for a regional leader). */
  acknowledgedZxid(): number {
    return this.syncAcks().acked(this.appliedZxid());
  }

  /** Whether writes wait for a sync replica (the shard is geo-tier). */
  get geo(): boolean {
    return this.syncAcks().geo;
  }

  /**
   * The acknowledgements, configured from meta at this instance's first use (a
   * restarted geo-tier leader acknowledges nothing its sync replicas do not hold);
   * only this object's own steps change the list after (setSyncReplicas, a new epoch,
   * stepDown), and each configures them.
   */
  private syncAcks(): SyncAcks {
    if (!this.acksConfigured) {
      this.acksConfigured = true;
      this.acks.configure(this.readOnly((txn) => storedMeta(txn)?.syncReplicas ?? []));
    }
    return this.acks;
  }

  /** Meta as storage says it now (undefined: a new object), for a handover's checks. */
  state(): Meta | undefined {
    return this.readOnly((txn) => readMeta(txn));
  }

  /**
   * Makes an object that led before it kept this log the leader of `zxid`'s epoch,
   * its log starting after `zxid` (a replica behind that takes a snapshot). Nothing
   * happens when meta exists.
   */
  continueFrom(zxid: number): void {
    this.recent.clear();
    this.storage.transact((txn) => {
      if (readMeta(txn)) return;
      const epoch = zxidEpoch(zxid);
      writeMeta(txn, { ...freshMeta("leader"), epoch, promisedEpoch: epoch, appliedZxid: zxid, trimmedZxid: zxid, logId: newLogId(this.random) });
    });
  }

  /** The log's head and where it was trimmed: every zxid after trimmedZxid through appliedZxid is in the log. */
  bounds(): { appliedZxid: number; trimmedZxid: number } {
    return this.readOnly((txn) => {
      const meta = readMeta(txn);
      return { appliedZxid: meta?.appliedZxid ?? 0, trimmedZxid: meta?.trimmedZxid ?? 0 };
    });
  }

  appliedZxid(): number {
    return this.bounds().appliedZxid;
  }

  /**
   * Moves the sequence on to `zxid` when it is behind (a restore: restored rows keep
   * their zxids, below every later write's), emptying the log: a replica resyncs by snapshot.
   */
  skipTo(zxid: number): void {
    this.recent.clear();
    this.storage.transact((txn) => {
      const meta = readMeta(txn);
      if (!meta || zxid <= meta.appliedZxid) return;
      txn.deleteAll("log");
      const epoch = Math.max(meta.epoch, zxidEpoch(zxid));
      Object.assign(meta, { appliedZxid: zxid, trimmedZxid: zxid, logEntries: 0, logBytes: 0, epoch, promisedEpoch: Math.max(meta.promisedEpoch, epoch) });
      writeMeta(txn, meta);
    });
  }

  /** The object's role as its storage says, undefined for an object that has none yet (new). */
  role(): Meta["role"] | undefined {
    return this.readOnly((txn) => storedMeta(txn)?.role);
  }

  private readOnly<T>(body: (txn: StorageTxn) => T): T {
    return this.storage.read ? this.storage.read(body) : this.storage.transact(body);
  }

  /** Whether storage says this object may write and answer linearizable reads now (undefined) or not (why). */
  fenced(): Fenced | undefined {
    return this.readOnly((txn) => fencedBy(storedMeta(txn)));
  }

  /**
   * Promises `epoch` and stops writing: returns the sealed zxid, the last this leader
   * will ever write (again when asked again for the same epoch: a retried seal).
   */
  seal(epoch: number): number | Fenced {
    return this.storage.transact((txn) => {
      const meta = readMeta(txn);
      if (meta?.role === "sealed" && meta.promisedEpoch === epoch) return meta.sealedZxid;
      if (!meta || meta.role === "replica" || epoch <= meta.promisedEpoch) return fencedAnswer(meta, meta?.promisedEpoch ?? 0);
      Object.assign(meta, { role: "sealed", promisedEpoch: epoch, sealedZxid: meta.appliedZxid });
      writeMeta(txn, meta);
      return meta.appliedZxid;
    });
  }

  /**
   * Sequences one write its executor runs in place (writing its rows itself): fenced
   * by meta read in this transaction, given the next zxid, and logged with the entry
   * `run` returns (none: the write took no zxid). Everything commits together.
   */
  sequence<T>(run: (txn: StorageTxn, zxid: number, epoch: number) => { value: T; entry?: E }): Sequenced<T, E> | Fenced {
    const done = this.storage.transact((txn): Sequenced<T, E> | Fenced => {
      const meta = readMeta(txn);
      const fenced = fencedBy(meta);
      if (fenced || !meta) return fenced ?? { kind: "fenced", role: "replica", epoch: 0 };
      // The counter is 32 bits: its last value is left unused, so a new epoch must follow.
      if (zxidCounter(meta.appliedZxid) === 2 ** 32 - 1) throw new Error("the zxid counter of this epoch is exhausted: a new epoch must begin");
      const { value, entry } = run(txn, meta.appliedZxid + 1, meta.epoch);
      if (entry) this.append(txn, meta, entry);
      return { kind: "sequenced", value, entry };
    });
    if (done.kind === "sequenced" && done.entry) this.commits.committed([done.entry]);
    return done;
  }

  /**
   * Entries after the replica's zxid (a pipelined pull: after those its replica was
   * last answered with); at the head, waits up to longPollMs for a commit that is
   * its turn (each commit answers the newest parked pull of each replica). Given
   * `push` (a way back to its replica), a pull that has entries within streamMs of
   * its arrival streams them instead (stream, below).
   */
  async pull(request: PullRequest, push?: PushPage<E>): Promise<PullReply<E>> {
    const arrivedAt = this.clock.now();
    const deadline = arrivedAt + this.settings.longPollMs;
    // The replica's progress is noted as the pull arrives: once woken it says nothing newer
    // (and a replica gone meanwhile, its pulls still parked, must not seem to be pulling).
    for (let arrived = true; ; arrived = false) {
      const reply = this.heldSince(arrivedAt, this.pullNow(request, arrived));
      const left = deadline - this.clock.now();
      if (reply.kind !== "entries" || left <= 0) return reply;
      if (reply.entries.length > 0) {
        const streamUntil = Math.min(deadline, arrivedAt + this.settings.streamMs);
        return push && this.clock.now() < streamUntil ? this.stream(request, arrivedAt, reply, push, streamUntil) : reply;
      }
      const parked = this.pulls.park(request.replica);
      await waitAtMost(this.clock, parked.woken, left);
      parked.leave();
    }
  }

  /**
   * A streaming pull: pushes `first`, then each commit after it as it comes, until
   * `until`, a push fails or its replica wants no more. A commit leaves at once while
   * its pushes leave room (PushWindow); when they fill it, the commits made meanwhile
   * wait and go together in the next push, once an answer frees room;
   * a push its replica applied notes its progress, as a pull's arrival does;
   * then, its pushes answered, it is answered with what followed them (the commits
   * made meanwhile). While it streams, its replica's other pulls stay parked. Another pull
   * of the replica streaming already: `first` is the answer, as without a way back.
   */
  private async stream(request: PullRequest, arrivedAt: number, first: EntriesPage<E>, push: PushPage<E>, until: number): Promise<PullReply<E>> {
    const streaming = this.pulls.startStreaming(request.replica);
    if (!streaming) return first;
    const onward: PullRequest = { ...request, pipelined: true };
    const unanswered = new Set<Promise<void>>();
    const window = new PushWindow(this.settings);
    let more = true;
    const send = (page: EntriesPage<E>) => {
      const last = page.entries.at(-1)!.zxid;
      const freed = window.sent(page.entries);
      const answered: Promise<void> = push(page)
        .then((applied) => {
          more &&= applied;
          if (!applied) return;
          this.acks.note(request.replica, last);
          this.noteApplied(request.replica, last);
        })
        // Lost, or its note failed (the instance is gone): the stream ends, and nothing waits on a rejection.
        .catch(() => void (more = false))
        .finally(() => {
          unanswered.delete(answered);
          freed();
        });
      unanswered.add(answered);
    };
    try {
      send(first);
      while (more && this.clock.now() < until) {
        if (window.full()) {
          await waitAtMost(this.clock, Promise.race(unanswered), until - this.clock.now());
          continue;
        }
        // Asked before the read: a commit after it is not missed.
        const committed = streaming.next();
        const page = this.heldSince(arrivedAt, this.pullNow(onward, false));
        if (page.kind !== "entries") return page;
        if (page.entries.length > 0) send(page);
        else await waitAtMost(this.clock, committed, until - this.clock.now());
      }
      // Neither its answer nor the next stream's pushes may pass its pushes (each would
      // look like a gap): it keeps the commits until they are answered, then answers them.
      await waitAtMost(this.clock, Promise.allSettled(unanswered), this.settings.longPollMs);
      return this.heldSince(arrivedAt, this.pullNow(onward, false));
    } finally {
      streaming.end();
    }
  }

  /** A page read now for a pull that arrived at `arrivedAt`, saying how long it was held. */
  private heldSince(arrivedAt: number, reply: PullReply<E>): PullReply<E> {
    const heldMs = this.clock.now() - arrivedAt;
    return reply.kind === "entries" && heldMs > 0 ? { ...reply, heldMs } : reply;
  }

  private pullNow(request: PullRequest, noteProgress: boolean): PullReply<E> {
    return this.storage.transact((txn): PullReply<E> => {
      const meta = readMeta(txn);
      if (!meta || meta.role === "replica") return fencedAnswer(meta, meta?.epoch ?? 0);
      const logId = leaderLogId(txn, meta, this.random);
      const start = this.pulls.startOf(request);
      // Committed entries the log holds (it was not trimmed past start): nothing to read.
      const recent = start >= meta.trimmedZxid ? this.recent.after(start, meta.appliedZxid, request.maxBytes) : undefined;
      // Whether the log holds the start, by its key alone (an entry is not decoded for it).
      const known = recent !== undefined || start === meta.trimmedZxid || txn.logSizes(start - 1, 1)[0]?.[0] === start;
      if (!known || start > meta.appliedZxid) return { kind: "snapshot-needed", leaderZxid: meta.appliedZxid, logId };
      // A pipelined pull may have left before the pushes its replica applied since: those
      // noted more, and the log may be trimmed to that already, so it never notes less.
      if (noteProgress) this.notePeer(txn, request.replica, request.pipelined ? Math.max(request.fromZxid, this.notedOf(txn, request.replica)) : request.fromZxid);
      const acks = this.syncAcks();
      const sync = acks.isSyncReplica(request.replica);
      if (sync) acks.note(request.replica, request.fromZxid);
      // A read replica of a geo-tier leader is shown only what a sync replica holds: a failover keeps that.
      const head = sync ? meta.appliedZxid : acks.acked(meta.appliedZxid);
      const read = recent ?? (entriesAfter(txn, start, request.maxBytes) as E[]);
      const entries = head < meta.appliedZxid ? read.filter((entry) => entry.zxid <= head) : read;
      if (entries.length > 0) this.pulls.answered(request.replica, entries.at(-1)!.zxid);
      return { kind: "entries", afterZxid: start, entries, leaderZxid: Math.max(head, start), logId, epoch: meta.epoch, ...(sync ? { sync: true as const } : {}) };
    });
  }

  /** A page of a fuzzy snapshot: rows as they are now; the replica replays the log from startZxid. */
  snapshotPage(request: SnapshotRequest): SnapshotReply<E> {
    return this.storage.transact((txn): SnapshotReply<E> => {
      const meta = readMeta(txn);
      if (!meta || meta.role === "replica") return fencedAnswer(meta, meta?.epoch ?? 0);
      // A snapshot whose start the log no longer holds could never be replayed here (its
      // replica stopped past its lease, or began it at another leader): it starts over.
      if (request.startZxid !== undefined && request.startZxid < meta.trimmedZxid) return { kind: "snapshot-needed", leaderZxid: meta.appliedZxid, logId: leaderLogId(txn, meta, this.random) };
      // A read replica of a geo-tier leader replays from what a sync replica holds: its reads
      // wait until it has applied the pages' zxid, and its pulls show only acknowledged entries.
      const acks = this.syncAcks();
      const shown = acks.isSyncReplica(request.replica) ? meta.appliedZxid : Math.max(acks.acked(meta.appliedZxid), meta.trimmedZxid);
      const startZxid = request.startZxid ?? shown;
      // The log after startZxid must outlive the snapshot: the replica counts as at startZxid.
      this.notePeer(txn, request.replica, startZxid);
      const { rows, next } = snapshotRows(txn, request.startZxid === undefined ? null : request.cursor, request.maxBytes, this.sizeOf);
      return { kind: "page", startZxid, pageZxid: meta.appliedZxid, cursor: request.cursor, logId: leaderLogId(txn, meta, this.random), epoch: meta.epoch, rows: rows as E["effects"], next };
    });
  }

  /** A replica destroyed for good no longer holds the log back. */
  forgetReplica(name: string): void {
    this.pulls.forget(name);
    this.progressNotedAt.delete(name);
    this.storage.transact((txn) => txn.delete("peer", name));
  }

  /**
   * A pushed page its replica applied through `zxid`: its progress moves on (what holds
   * the trim back), written at most once per PROGRESS_NOTE_MS per replica, not at every
   * push (a transaction each): a progress noted older holds back only more of the log.
   */
  private noteApplied(name: string, zxid: number): void {
    const now = this.clock.now();
    if (now - (this.progressNotedAt.get(name) ?? -Infinity) < PROGRESS_NOTE_MS) return;
    this.progressNotedAt.set(name, now);
    this.storage.transact((txn) => {
      const peer = txn.get<PeerRow>("peer", name);
      if (peer && peer.appliedZxid < zxid) txn.put<PeerRow>("peer", name, { ...peer, appliedZxid: zxid });
    });
  }

  /** The applied zxid last noted of replica `name` (0: none). */
  private notedOf(txn: StorageTxn, name: string): number {
    return txn.get<PeerRow>("peer", name)?.appliedZxid ?? 0;
  }

  private notePeer(txn: StorageTxn, name: string, appliedZxid: number): void {
    txn.put<PeerRow>("peer", name, { name, appliedZxid, lastPullAt: this.clock.now() });
  }

  /** Logs an entry whose effects are in the rows, trims, and stores meta. */
  protected append(txn: StorageTxn, meta: Meta, entry: E): void {
    recordEntry(txn, meta, entry);
    // The replicas' progress is read only when there is something to trim.
    if (overBounds(meta, this.settings)) trimLog(txn, meta, this.settings, slowestLiveReplica(txn, this.clock.now(), this.settings));
    writeMeta(txn, meta);
  }
}

/** The leader of the simulator's rows: LeaderLog with the core's own executor. */
export class LeaderCore extends LeaderLog {
  /** As LeaderLog.activate, a new tree's snapshot being its root row. */
  override activate(epoch: number): Meta | Fenced {
    return super.activate(epoch, (zxid, now) => [{ table: "znode", key: "/", row: rootRow(zxid, now) }]);
  }

  /**
   * Executes a write once: a retried (session, cxid) gets its stored reply. Every
   * write takes a zxid and a log entry (a failed one, a multi of checks and a
   * closeSession included), so the log has no holes and every reply survives.
   */
  write(session: number, cxid: number, op: WriteOp): Reply | Fenced {
    const outcome = this.storage.transact((txn): { reply: Reply | Fenced; entry?: LogEntry } => {
      const meta = readMeta(txn);
      const fenced = fencedBy(meta);
      if (fenced || !meta) return { reply: fenced ?? { kind: "fenced", role: "replica", epoch: 0 } };
      const record = txn.get<SessionRow>("session", session);
      if (record && cxid === record.lastCxid) return { reply: record.reply };
      if (record?.closed) return { reply: { zxid: meta.appliedZxid, error: "SessionExpired" } };
      if (record && cxid < record.lastCxid) return { reply: { zxid: meta.appliedZxid, error: "BadArguments" } };
      // The counter is 32 bits: its last value is left unused, so a new epoch must follow.
      if (zxidCounter(meta.appliedZxid) === 2 ** 32 - 1) return { reply: { zxid: meta.appliedZxid, error: "SystemError" } };
      const zxid = meta.appliedZxid + 1;
      // A failed write is logged too (its commit record only, as ZooKeeper's error txn): else a
      // duplicate of it arriving later would run again and could succeed after its client saw it fail.
      const executed = execute(txn, op, session, zxid, this.clock.now());
      const reply: Reply = { ...executed.reply, zxid };
      const commitRecord: SessionRow = { session, lastCxid: cxid, reply, closed: op.op === "closeSession" };
      const effects: Effect[] = [...executed.effects, { table: "session", key: session, row: commitRecord }];
      const entry = logEntry({ zxid, epoch: meta.epoch, kind: op.op === "closeSession" ? "close-session" : "write", session, cxid, effects, reply });
      applyEffects(txn, effects);
      this.append(txn, meta, entry);
      return { reply, entry };
    });
    if (outcome.entry) this.commits.committed([outcome.entry]);
    return outcome.reply;
  }

  /** A linearizable read: only while storage says this object leads. */
  read(path: string): ReadResult | Fenced {
    return this.storage.transact((txn) => {
      const meta = readMeta(txn);
      const fenced = fencedBy(meta);
      if (fenced || !meta) return fenced ?? { kind: "fenced", role: "replica", epoch: 0 };
      return { row: txn.get<ZnodeRow>("znode", path), zxid: meta.appliedZxid };
    });
  }

}

const SNAPSHOT_TABLES = ["subtree", "znode", "session", "txn"] as const;

/** Rows after the cursor, the subtree's then znodes, sessions and transactions, up to maxBytes (at least one row when any is left). */
function snapshotRows(txn: StorageTxn, cursor: SnapshotCursor | null, maxBytes: number, sizeOf: (value: unknown) => number): { rows: Array<Effect<unknown, unknown>>; next: SnapshotCursor | null } {
  const rows: Array<Effect<unknown, unknown>> = [];
  let bytes = 0;
  let position: SnapshotCursor = cursor ?? { table: SNAPSHOT_TABLES[0], after: null };
  for (;;) {
    const page = txn.scan<unknown>(position.table, position.after ?? undefined, 64);
    for (const [key, row] of page) {
      const effect = { table: position.table, key, row } as Effect<unknown, unknown>;
      const size = sizeOf(effect);
      if (rows.length > 0 && bytes + size > maxBytes) return { rows, next: position };
      rows.push(effect);
      bytes += size;
      position = { table: position.table, after: key };
    }
    if (page.length === 64) continue;
    const nextTable = SNAPSHOT_TABLES[SNAPSHOT_TABLES.indexOf(position.table) + 1];
    if (!nextTable) return { rows, next: null };
    position = { table: nextTable, after: null };
  }
}
