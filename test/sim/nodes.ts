/**
 * The simulated shard objects: copies of the shard around the replication core (a
 * leader and replicas, roles a handover moves), each with storage that outlives its
 * crashes and, per incarnation, the one-shot data watches its sessions set (lost in
 * a crash; sessions set them again).
 */
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, ReplicaCore, readApplied, readMeta,
  type CopyState, type LeaderRequest, type Placement, type StorageTxn, type LogEntry, type Meta, type ReadResult, type ReplicationSettings, type WriteOp, type ZnodeRow,
} from "../../durable/replication/core/index.ts";
import { waitAtMost } from "../../durable/replication/core/wait.ts";
import { DIRECTORY, type WhereRequest } from "./directory.ts";
import { MemoryStorage } from "./memory-storage.ts";
import type { Push, SimNetwork } from "./network.ts";
import type { Prng } from "./prng.ts";
import type { Owner, Scheduler } from "./scheduler.ts";

/** What a client sends its shard's leader over the network (writes and linearizable reads). */
export type ClientRequest =
  | { type: "write"; session: number; cxid: number; op: WriteOp }
  | { type: "read"; path: string };

/** A watch as a session holds it: the path, the read that set it, and the state that read saw. */
export interface SimWatch {
  session: number;
  path: string;
  setBy: number;
  zxid: number;
  seenMzxid: number | null;
}

/** Where a node sends a fired watch (the session's link from that node); `guessed`: fired by the rows, not the log. */
export type FireWatch = (node: string, watch: SimWatch, zxid: number, guessed: boolean) => void;

export interface SimEnv {
  scheduler: Scheduler;
  network: SimNetwork;
  prng: Prng;
  settings: ReplicationSettings;
  fire: FireWatch;
  /**
   * A watch a copy keeps armed by its rows alone, at `zxid`: it goes on as a new watch
   * (a new id, set at that zxid), which the copy holds instead; its session is told.
   */
  rearm: (node: string, watch: SimWatch, zxid: number) => SimWatch;
  /** Called after each commit of a leader, to check invariants as the run goes. */
  leaderCommitted: (leader: SimNode, entries: LogEntry[]) => void;
}

/** Whether an entry changed a path's data or existence: what a data watch fires on. */
export function changesPath(entry: LogEntry, path: string): boolean {
  return entry.effects.some((e) => e.table === "znode" && e.key === path && (e.row === null || e.row.stat.mzxid === entry.zxid));
}

export abstract class SimNode {
  readonly storage = new MemoryStorage();
  incarnation: Owner = { alive: false };
  crashes = 0;
  destroyed = false;
  protected watches: SimWatch[] = [];
  readonly name: string;
  protected readonly env: SimEnv;

  constructor(name: string, env: SimEnv) {
    this.name = name;
    this.env = env;
  }

  get up(): boolean {
    return this.incarnation.alive;
  }

  /** Loses everything not committed: pending awaits, timers, watches. */
  crash(): void {
    this.incarnation.alive = false;
    this.crashes += 1;
    this.watches = [];
  }

  /** A new instance over the same storage, as the platform starts one. */
  start(): void {
    if (this.destroyed) return;
    this.incarnation.alive = false;
    this.incarnation = { alive: true };
    this.watches = [];
    this.boot();
  }

  protected abstract boot(): void;
  abstract read(path: string, minZxid: number): ReadResult | "behind" | "fenced";
  abstract waitReadable(zxid: number, timeoutMs: number): Promise<boolean>;

  meta(): Meta {
    return this.storage.read((txn) => readMeta(txn)!);
  }

  /** A session (re)sets watches once this node has applied `minZxid`; ones already due fire now. */
  async attach(minZxid: number, watches: SimWatch[], timeoutMs: number): Promise<boolean> {
    if (!(await this.waitReadable(minZxid, timeoutMs))) return false;
    // A replica whose log no longer reaches back to a watch's read cannot say when it fired.
    if (this.guessesFor(watches)) return false;
    const meta = this.meta();
    for (const watch of watches) {
      const due = this.changeSince(watch);
      if (due) this.env.fire(this.name, watch, due.zxid, due.guessed);
      else if (meta.trimmedZxid > watch.zxid) this.watches.push(this.env.rearm(this.name, watch, meta.appliedZxid));
      else this.watches.push(watch);
    }
    return true;
  }

  /** A sequential read that sets a watch in the same step, so no change slips between them. */
  async readAndWatch(path: string, minZxid: number, watch: Omit<SimWatch, "zxid" | "seenMzxid"> | null, timeoutMs: number): Promise<ReadResult | "behind" | "fenced"> {
    if (!(await this.waitReadable(minZxid, timeoutMs))) return "behind";
    for (;;) {
      const result = this.read(path, minZxid);
      // A geo-tier leader's state not yet acknowledged is read again once it is: the watch
      // is set with the answer, so that no event of a later change goes out before it.
      if (typeof result !== "string" && result.zxid > this.visibleZxid()) {
        if (!(await this.acknowledges(result.zxid, timeoutMs))) return "behind";
        continue;
      }
      if (typeof result !== "string" && watch) this.watches.push({ ...watch, zxid: result.zxid, seenMzxid: result.row?.stat.mzxid ?? null });
      return result;
    }
  }

  /** Waits until what `zxid` shows is acknowledged (a geo-tier leader's: a sync replica holds it); says whether it is. */
  protected abstract acknowledges(zxid: number, timeoutMs: number): Promise<boolean>;

  /** The last zxid whose change a watch may fire for: a geo-tier leader's acknowledged one. */
  protected abstract visibleZxid(): number;

  /** Fires the watches the committed entries change. */
  protected onCommit(entries: LogEntry[]): void {
    for (const entry of entries) {
      const keep: SimWatch[] = [];
      for (const watch of this.watches) {
        if (entry.zxid > watch.zxid && changesPath(entry, watch.path)) this.env.fire(this.name, watch, entry.zxid, false);
        else keep.push(watch);
      }
      this.watches = keep;
    }
  }

  /** Whether this node's log misses the range of a watch (only the leader then answers by a guess). */
  protected abstract guessesFor(watches: SimWatch[]): boolean;

  protected logReaches(watches: SimWatch[]): boolean {
    const trimmed = this.meta().trimmedZxid;
    return watches.every((w) => w.zxid >= trimmed);
  }

  /** The zxid of the first change of the watch's path after its read, from the log, or else guessed from the row. */
  private changeSince(watch: SimWatch): { zxid: number; guessed: boolean } | undefined {
    return this.storage.read((txn) => {
      const meta = readMeta(txn)!;
      if (meta.trimmedZxid > watch.zxid) return rowChange(txn, watch, meta.appliedZxid);
      let after = watch.zxid;
      // Later changes fire as they are acknowledged (onCommit).
      const visible = this.visibleZxid();
      for (;;) {
        const page = txn.scan<LogEntry>("log", after, 64);
        for (const [, entry] of page) if (entry.zxid <= visible && changesPath(entry, watch.path)) return { zxid: entry.zxid, guessed: false };
        if (page.length < 64) return undefined;
        after = page[page.length - 1]![1].zxid;
      }
    });
  }

  /**
   * A replica installed a snapshot: the changes it skipped fire nothing of their own,
   * so each watch it holds fires now by its row, as ZooKeeper's setWatches would, or
   * is armed again by it.
   */
  protected snapshotInstalled(txn: StorageTxn, rowsZxid: number): void {
    const keep: SimWatch[] = [];
    for (const watch of this.watches) {
      const due = rowChange(txn, watch, rowsZxid);
      if (due) this.env.fire(this.name, watch, due.zxid, true);
      else keep.push(this.env.rearm(this.name, watch, rowsZxid));
    }
    this.watches = keep;
  }
}

/**
 * Whether a watch's path changed since its read, by its row alone (the log no longer
 * reaches back to the read), and only roughly when: its create, else its last change,
 * else (gone) the zxid the rows show, `rowsZxid`, by which it was gone (as the shard
 * object dates a delete it finds by the rows).
 */
function rowChange(txn: StorageTxn, watch: SimWatch, rowsZxid: number): { zxid: number; guessed: true } | undefined {
  const row = txn.get<ZnodeRow>("znode", watch.path);
  const mzxid = row?.stat.mzxid ?? null;
  if (mzxid === watch.seenMzxid) return undefined;
  if (!row) return { zxid: Math.max(watch.zxid + 1, rowsZxid), guessed: true };
  return { zxid: row.stat.czxid > watch.zxid ? row.stat.czxid : row.stat.mzxid, guessed: true };
}

/** What the directory asks a copy of the shard during a handover (core/handover.ts). */
export type HandoverRequest =
  | { type: "state" }
  | { type: "seal"; epoch: number }
  | { type: "take-over"; epoch: number; sealedZxid: number; waitMs: number; syncReplicas: string[] }
  | { type: "reopen"; epoch: number }
  | { type: "follow"; leader: string; epoch: number }
  | { type: "promise"; epoch: number }
  | { type: "promote"; epoch: number; syncReplicas: string[] }
  | { type: "step-down"; leader: string; epoch: number; keepThrough: number }
  /** Whether this copy reaches the leader it follows (a failover's second opinion). */
  | { type: "probe" }
  /** Whether this sync replica vouches that nobody leads after `epoch` (a geo-tier leader's read). */
  | { type: "vouch"; epoch: number };

/** How long a geo-tier leader holds an answer for a sync replica to hold its zxid; past it the caller hears nothing (its outcome unknown). */
export const ACK_WAIT_MS = 1_000;
/** How long a copy asked whether it reaches its leader waits for the leader's answer. */
const PROBE_WAIT_MS = 300;

/**
 * A copy of the shard: its leader or a replica, as its storage says, and either in
 * turn (a handover makes a replica the leader and the old leader a replica). It
 * answers pulls, writes and linearizable reads while it leads (fenced otherwise,
 * naming its successor once it follows one), and pulls while it is a replica.
 */
export class ShardNode extends SimNode {
  /** Its log as a leader's: writes, pulls and the handover's steps go through it whatever the role (storage fences them). */
  core: LeaderCore | undefined;
  replica: ReplicaCore | undefined;
  /** The leader a new replica follows (undefined: made to lead, activated by its maker). */
  private readonly madeFor: string | undefined;
  /** The directory that names the shard's leader. */
  private readonly directory: string;
  /** As a leader: the last zxid whose watches this incarnation fired, and answers waiting for it. */
  private eventsThrough = 0;
  private readonly eventWaiters = new Set<() => void>();
  /** Whether this incarnation's fireAcknowledged runs. */
  private firing = false;

  constructor(name: string, env: SimEnv, madeFor?: string, directory = DIRECTORY) {
    super(name, env);
    this.madeFor = madeFor;
    this.directory = directory;
  }

  protected boot(): void {
    const owner = this.incarnation;
    // The seeded PRNG makes its log's identity, so a seed replays exactly.
    const core = new LeaderCore(this.storage.handle(owner), this.env.scheduler.clockFor(owner), this.env.settings, undefined, this.env.prng);
    this.core = core;
    this.replica = undefined;
    // A geo-tier leader's watches fire once a sync replica holds the change (fireAcknowledged),
    // and an answer showing a change leaves after its events (acknowledges).
    this.eventsThrough = core.geo ? 0 : core.appliedZxid();
    this.firing = false;
    core.commits.listen((entries) => (core.geo ? void this.fireAcknowledged(owner) : this.eventsFired(entries, entries.at(-1)!.zxid)));
    if (core.geo && core.state()?.role !== "replica") void this.fireAcknowledged(owner);
    core.commits.listen((entries) => this.env.leaderCommitted(this, entries));
    this.env.network.serve(this.name, owner, (message, push) => this.handle(message as LeaderRequest | ClientRequest | HandoverRequest, push));
    const role = core.state()?.role;
    if (role === "replica" || (role === undefined && this.madeFor !== undefined)) this.startFollowing();
  }

  protected async handle(request: LeaderRequest | ClientRequest | HandoverRequest, push?: Push): Promise<unknown> {
    const core = this.core!;
    switch (request.type) {
      case "pull":
        return core.pull(request, push && (async (page) => (await push(page)) === true));
      case "snapshot":
        return core.snapshotPage(request);
      case "write":
        return this.acknowledged(core.write(request.session, request.cxid, request.op));
      case "read": {
        const read = core.read(request.path);
        if (!("kind" in read) && !(await this.vouchedFor())) throw new Error("no sync replica vouched for this leader");
        return this.acknowledged(read);
      }
      case "vouch":
        return core.vouches(request.epoch);
      case "state": {
        const meta = core.state()!;
        return { role: meta.role, epoch: meta.epoch, promisedEpoch: meta.promisedEpoch, appliedZxid: meta.appliedZxid, snapshot: meta.snapshot !== null } satisfies CopyState;
      }
      case "seal":
        return core.seal(request.epoch);
      case "take-over": {
        await this.replica?.waitApplied(request.sealedZxid, request.waitMs);
        const led = core.takeOver(request.epoch, request.sealedZxid, request.syncReplicas);
        if (typeof led === "string" || "kind" in led) return led;
        this.replica = undefined; // its loop ends: this copy leads now
        return "led";
      }
      case "reopen": {
        const led = core.reopen(request.epoch);
        return "kind" in led ? led : "led";
      }
      case "follow": {
        // Its successor led only once it held the sealed zxid, shown only what was acknowledged: all of it is.
        const sealedZxid = this.meta().role === "sealed" ? this.meta().sealedZxid : 0;
        const told = core.follow(request.leader, request.epoch);
        if (told === true && this.firing) this.fireOwnLogThrough(sealedZxid);
        // Pulls from the new leader (a loop pulling from another one ends).
        if (told === true) this.startFollowing();
        return told;
      }
      case "promise":
        return core.promise(request.epoch);
      case "promote": {
        const led = core.promote(request.epoch, request.syncReplicas);
        if ("kind" in led) return led;
        this.replica = undefined;
        return "led";
      }
      case "step-down": {
        const told = core.stepDown(request.leader, request.epoch, request.keepThrough);
        if (!("kind" in told)) this.startFollowing();
        return told;
      }
      case "probe": {
        const leader = this.replica?.leaderName;
        if (!leader) return false;
        // Answered within the directory's own wait for this answer, or not at all.
        const asked = this.env.network.request(this.name, this.incarnation, leader, { type: "state" } satisfies HandoverRequest).then(() => true, () => false);
        return Promise.race([asked, this.env.scheduler.sleep(PROBE_WAIT_MS, this.incarnation).then(() => false)]);
      }
    }
  }

  /** A geo-tier leader's linearizable read: whether a sync replica, asked now, vouches nobody leads after it (true at once for a regional one). */
  private async vouchedFor(): Promise<boolean> {
    const meta = this.meta();
    if (!meta.syncReplicas?.length) return true;
    const asks = meta.syncReplicas.map((copy) => this.env.network.request<boolean>(this.name, this.incarnation, copy, { type: "vouch", epoch: meta.epoch } satisfies HandoverRequest).then((yes) => (yes ? true : Promise.reject(new Error("no")))));
    return Promise.any(asks).then(() => true, () => false);
  }

  /** Fires the watches of `entries`, the log through `through`: answers waiting for them may leave. */
  private eventsFired(entries: LogEntry[], through: number): void {
    this.onCommit(entries);
    this.eventsThrough = Math.max(this.eventsThrough, through);
    for (const wake of [...this.eventWaiters]) wake();
  }

  /**
   * While this geo-tier copy leads or is sealed: each time a sync replica holds more,
   * fires the watches of the log's entries it now holds (read from the log, so entries
   * a restart left unacknowledged fire too).
   */
  private async fireAcknowledged(owner: Owner): Promise<void> {
    if (this.firing) return;
    this.firing = true;
    try {
      const core = this.core!;
      while (owner.alive && this.meta().role !== "replica" && core.geo) {
        this.fireOwnLogThrough(core.acknowledgedZxid());
        await core.whenAcked(this.eventsThrough + 1, 1_000);
      }
    } finally {
      if (owner === this.incarnation) this.firing = false;
    }
  }

  /** Fires the watches of the entries of its own log not fired yet, through `zxid`. */
  private fireOwnLogThrough(zxid: number): void {
    if (zxid <= this.eventsThrough) return;
    const entries = this.storage.read((txn) => txn.scan<LogEntry>("log", this.eventsThrough, 10_000).map(([, entry]) => entry).filter((entry) => entry.zxid <= zxid));
    this.eventsFired(entries, zxid);
  }

  /** An answer once it is acknowledged (at once unless the shard is geo-tier); never, when no sync replica holds it in time. */
  private async acknowledged<T extends { zxid: number } | { kind: "fenced" }>(answer: T): Promise<T> {
    if ("kind" in answer || (await this.acknowledges(answer.zxid, ACK_WAIT_MS))) return answer;
    throw new Error(`no sync replica holds ${answer.zxid.toString(16)} yet`);
  }

  /** Pulls from the leader storage names (or the one it was made for) while its storage says it is a replica. */
  private startFollowing(): void {
    const owner = this.incarnation;
    const { scheduler, network, prng } = this.env;
    const replica = new ReplicaCore(this.name, this.madeFor ?? this.name, {
      storage: this.storage.handle(owner),
      clock: scheduler.clockFor(owner),
      random: prng,
      network: { request: (peer, message, pushed) => network.request(this.name, owner, peer, message, pushed) },
      findLeader: () => network.request<Placement>(this.name, owner, this.directory, { type: "where" } satisfies WhereRequest).then((placement) => placement.leader),
    }, this.env.settings, (previousZxid, rowsZxid, txn) => {
      // A first snapshot follows no state of this copy's: a watch set meanwhile is armed from it on.
      if (previousZxid !== 0) this.snapshotInstalled(txn, rowsZxid);
    });
    this.replica = replica;
    // Entries replaying a snapshot's range fire nothing of their own: its install fires their changes by the rows (snapshotInstalled).
    replica.commits.listen((entries) => this.onCommit(entries.filter((entry) => entry.zxid > this.meta().readableZxid)));
    // The alarm that keeps the loop going after a restart; it ends with the incarnation or once this copy leads.
    scheduler.after(0, owner, () => void replica.run(() => this.replica === replica && this.meta().role === "replica"));
  }

  read(path: string, minZxid: number): ReadResult | "behind" | "fenced" {
    if (this.meta().role === "leader") {
      const result = this.core!.read(path);
      return "kind" in result ? "fenced" : result;
    }
    const result = this.storage.read((txn) => readApplied(txn, path, minZxid));
    return "behind" in result ? "behind" : result;
  }

  async waitReadable(zxid: number, timeoutMs: number): Promise<boolean> {
    if (this.ownLog()) return this.acknowledges(zxid, timeoutMs);
    if (this.replica) return this.replica.waitApplied(zxid, timeoutMs);
    return this.meta().appliedZxid >= zxid;
  }

  protected guessesFor(watches: SimWatch[]): boolean {
    return this.meta().role !== "leader" && !this.logReaches(watches);
  }

  /** Whether this copy answers from its own log: it leads, or led and is sealed (its entries fire as they are acknowledged). */
  private ownLog(): boolean {
    return this.meta().role !== "replica";
  }

  protected async acknowledges(zxid: number, timeoutMs: number): Promise<boolean> {
    if (!this.ownLog()) return true;
    const clock = this.env.scheduler.clockFor(this.incarnation);
    const deadline = clock.now() + timeoutMs;
    if (!(await this.core!.whenAcked(zxid, timeoutMs))) return false;
    while (this.eventsThrough < zxid) {
      const left = deadline - clock.now();
      if (left <= 0) return false;
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => this.eventWaiters.add((wake = resolve)));
      await waitAtMost(clock, woken, left);
      this.eventWaiters.delete(wake);
    }
    return true;
  }

  protected visibleZxid(): number {
    return this.ownLog() ? this.eventsThrough : this.meta().appliedZxid;
  }
}

export const SIM_SETTINGS: ReplicationSettings = {
  ...DEFAULT_REPLICATION_SETTINGS,
  logMaxEntries: 200,
  logMaxBytes: 96 * 1024,
  pageMaxBytes: 2 * 1024,
  longPollMs: 200,
  pullsInFlight: 3,
  pushEntriesInFlight: 5,
  streamMs: 100,
  replicaLeaseMs: 10_000,
  retryMs: 50,
};
