/**
 * The simulated shard objects: a leader and replicas around the replication core,
 * each with storage that outlives its crashes and, per incarnation, the one-shot
 * data watches its sessions set (lost in a crash; sessions set them again).
 */
import {
  DEFAULT_REPLICATION_SETTINGS, LeaderCore, ReplicaCore, readMeta,
  type LeaderRequest, type LogEntry, type Meta, type ReadResult, type ReplicationSettings, type WriteOp, type ZnodeRow,
} from "../../durable/replication/core/index.ts";
import { MemoryStorage } from "./memory-storage.ts";
import type { SimNetwork } from "./network.ts";
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

/** Where a node sends a fired watch (the session's link from that node). */
export type FireWatch = (node: string, watch: SimWatch, zxid: number) => void;

export interface SimEnv {
  scheduler: Scheduler;
  network: SimNetwork;
  prng: Prng;
  settings: ReplicationSettings;
  fire: FireWatch;
  /** Called after each of the leader's commits, to check invariants as the run goes. */
  leaderCommitted: () => void;
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
    for (const watch of watches) {
      const due = this.changeSince(watch);
      if (due === undefined) this.watches.push(watch);
      else this.env.fire(this.name, watch, due);
    }
    return true;
  }

  /** A sequential read that sets a watch in the same step, so no change slips between them. */
  async readAndWatch(path: string, minZxid: number, watch: Omit<SimWatch, "zxid" | "seenMzxid"> | null, timeoutMs: number): Promise<ReadResult | "behind" | "fenced"> {
    if (!(await this.waitReadable(minZxid, timeoutMs))) return "behind";
    const result = this.read(path, minZxid);
    if (typeof result !== "string" && watch) this.watches.push({ ...watch, zxid: result.zxid, seenMzxid: result.row?.stat.mzxid ?? null });
    return result;
  }

  /** Fires the watches the committed entries change. */
  protected onCommit(entries: LogEntry[]): void {
    for (const entry of entries) {
      const keep: SimWatch[] = [];
      for (const watch of this.watches) {
        if (entry.zxid > watch.zxid && changesPath(entry, watch.path)) this.env.fire(this.name, watch, entry.zxid);
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

  /** The zxid of the first change of the watch's path after its read, from the log, or else from the row. */
  private changeSince(watch: SimWatch): number | undefined {
    return this.storage.read((txn) => {
      const meta = readMeta(txn)!;
      if (meta.trimmedZxid <= watch.zxid) {
        let after = watch.zxid;
        for (;;) {
          const page = txn.scan<LogEntry>("log", after, 64);
          for (const [, entry] of page) if (changesPath(entry, watch.path)) return entry.zxid;
          if (page.length < 64) return undefined;
          after = page[page.length - 1]![1].zxid;
        }
      }
      // The log no longer reaches back to the read: the row says whether the path changed, and
      // only roughly when (its create, else its last change, else just after the read).
      const row = txn.get<ZnodeRow>("znode", watch.path);
      const mzxid = row?.stat.mzxid ?? null;
      if (mzxid === watch.seenMzxid) return undefined;
      if (!row) return watch.zxid + 1;
      return row.stat.czxid > watch.zxid ? row.stat.czxid : row.stat.mzxid;
    });
  }
}

export class LeaderNode extends SimNode {
  core: LeaderCore | undefined;

  protected boot(): void {
    // The seeded PRNG makes its log's identity, so a seed replays exactly.
    const core = new LeaderCore(this.storage.handle(this.incarnation), this.env.scheduler.clockFor(this.incarnation), this.env.settings, undefined, this.env.prng);
    this.core = core;
    core.commits.listen((entries) => this.onCommit(entries));
    core.commits.listen(() => this.env.leaderCommitted());
    this.env.network.serve(this.name, this.incarnation, async (message, push) => {
      const request = message as LeaderRequest | ClientRequest;
      switch (request.type) {
        case "pull":
          return core.pull(request, push && (async (page) => (await push(page)) === true));
        case "snapshot":
          return core.snapshotPage(request);
        case "write":
          return core.write(request.session, request.cxid, request.op);
        case "read":
          return core.read(request.path);
      }
    });
  }

  read(path: string): ReadResult | "fenced" {
    const result = this.core!.read(path);
    return "kind" in result ? "fenced" : result;
  }

  async waitReadable(): Promise<boolean> {
    return true;
  }

  protected guessesFor(): boolean {
    return false;
  }
}

export class ReplicaNode extends SimNode {
  core: ReplicaCore | undefined;
  private readonly leader: string;

  constructor(name: string, leader: string, env: SimEnv) {
    super(name, env);
    this.leader = leader;
  }

  protected boot(): void {
    const owner = this.incarnation;
    const { scheduler, network, prng } = this.env;
    const core = new ReplicaCore(this.name, this.leader, {
      storage: this.storage.handle(owner),
      clock: scheduler.clockFor(owner),
      random: prng,
      network: { request: (peer, message, pushed) => network.request(this.name, owner, peer, message, pushed) },
    }, this.env.settings);
    this.core = core;
    core.commits.listen((entries) => this.onCommit(entries));
    // The alarm that keeps the loop going after a restart; it ends with the incarnation.
    scheduler.after(0, owner, () => void core.run());
  }

  read(path: string, minZxid: number): ReadResult | "behind" {
    const result = this.core!.read(path, minZxid);
    return "behind" in result ? "behind" : result;
  }

  waitReadable(zxid: number, timeoutMs: number): Promise<boolean> {
    return this.core!.waitApplied(zxid, timeoutMs);
  }

  protected guessesFor(watches: SimWatch[]): boolean {
    return !this.logReaches(watches);
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
