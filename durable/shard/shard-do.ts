/**
 * ShardDO: owns one subtree of a namespace in SQLite and serializes its writes.
 * Requests arrive in batches (one RPC for many requests: STACK.md measured 13-25x
 * over one RPC each) and are answered in order, each write in its own transaction.
 */
import {
  type Acl,
  type Caller,
  type CrossShardTxn,
  type ChangeEvent,
  type ChangeScope,
  type GuardedChange,
  type WatchKind,
  type WatchNotification,
  type KeeperErrorBody,
  type MultiItemResult,
  type MultiOp,
  type MultiWriteOp,
  type Outcome,
  type ShardRequest,
  type ShardStats,
  KEEPER_ERRORS,
  KeeperError,
  type Limits,
  OPEN_ACL_UNSAFE,
  READ_ACL_UNSAFE,
  SYSTEM_PATHS,
  WRITE_OPS,
  basename,
  makeZxid,
  parentOf,
  routingPath,
  seenBy,
} from "../../protocol/index.ts";
import { EdgekeeperObject } from "../base/edgekeeper-object.ts";
import { RegionLink } from "../base/region-link.ts";
import type { EdgekeeperEnv } from "../env.ts";
import { AnswerBudget, AnswerOverBudget, RESULT_OVERHEAD_BYTES } from "./answer-budget.ts";
import {
  CheckHolds, type CopyState, type Fenced, HOLD_RESOLVE_AFTER_MS, LeaderLog, type LeaderRequest, type PartState, type PlacementAdvice, type PullReply, type SnapshotReply, type StorageTxn, type TxnFate, TxnParts,
  holdKeysWritten,
} from "../replication/core/index.ts";
import { REPLICATION_SCHEMA, type SqlLogTable, SqliteStorage, coreTables, storedBytes } from "../replication/sqlite-storage.ts";
import { WORKER_CLOCK } from "../replication/worker-clock.ts";
import { ChangeLog } from "./change-log.ts";
import { WriteOrigins } from "./write-origins.ts";
import { CHECK_HOLD_SCHEMA, SqlHoldStore } from "./hold-store.ts";
import { TXN_SCHEMA, type TxnRow, TxnRows, preparedOps, preparedPart } from "./cross-shard-txns.ts";
import { ChangeWaiters } from "./change-waiters.ts";
import { HostMemo } from "./host-memo.ts";
import { MovedError, ShardTree, type WriteContext } from "./shard-tree.ts";
import { readCounters } from "../base/row-counters.ts";
import { SHARD_SCHEMA, ZNODE_COUNTERS, hasTables, migrateShardSchema, tablesOnFirstUse } from "./schema.ts";
import { type SnapshotPage, SnapshotStore } from "./snapshot-store.ts";
import { WATCH_SCHEMA, WatchRegistry } from "./watch-registry.ts";
import { LogTable, type LoggedEvent, type SessionRecord, SessionTable, type ShardLogEntry, ZnodeTable, sessionKey, sizedEntry } from "./replicated-tables.ts";
import { type ReplicaIdentity, replicaIdentityOf } from "../replication/replica-name.ts";
import { type Readiness, type ReplicaReadAt, ReplicaRunner, type ReplicaStatus } from "../replication/replica-runner.ts";
import { LOCAL_REGION } from "../directory/read-routing.ts";
import type { ReplicationLeader } from "../replication/leader-link.ts";
import { type ReplicaCounters, ReplicaMeter } from "./replica-meter.ts";
import { type HostWatch, type LogReach, WatchCatchUp, parseHostWatches } from "./watch-catch-up.ts";
import { SUBTREE_KEY, type ServedSubtree, SubtreeTable } from "./served-subtree.ts";
import { ZnodeStore, type ZnodeRow } from "./znode-store.ts";
import { LeaderVouchers } from "./leader-vouchers.ts";
import { type AskTxnShard, askingTxnShards } from "./txn-deciders.ts";

/** What a session host offers a shard: delivery of notifications, answering the last seq it processed. */
interface WatchDeliveryTarget {
  deliver(shard: string, notifications: WatchNotification[]): Promise<number>;
}

const PUSH_RETRY_MS = 1_000;

/** How long a geo-tier leader's answer waits for a sync replica to hold what it shows, or to vouch for a read, before it is OperationTimeout. */
export const GEO_ACK_WAIT_MS = 10_000;

/** What a geo-tier leader asks of its sync replicas for a read. */
interface VouchingCopy {
  vouch(epoch: number): Promise<boolean>;
}

/** A session host as a shard knows it: its object name, and whether it takes pushes. */
export interface WatchHost {
  name: string;
  push: boolean;
}

/** The caller the shard acts as when it reaps or expires: no session, every permission. */
const SYSTEM_CALLER: Caller = { sessionId: 0, ids: [{ scheme: "super", id: "" }] };

/** A multi failed at `index`: nothing applied; per-op codes as ZooKeeper reports them. */
class MultiFailure extends Error {
  readonly error: KeeperError;
  readonly results: MultiItemResult[];

  constructor(error: KeeperError, results: MultiItemResult[]) {
    super(error.message);
    this.error = error;
    this.results = results;
  }
}

/**
 * A write as the shard runs it: ZooKeeper's rules' context, the served subtree when
 * the write changes it (an unmount's seal), and the rows of multis across shards it
 * writes (null: deleted), each logged as its row.
 */
interface ShardWrite extends WriteContext {
  subtree?: ServedSubtree;
  txns?: Array<[txn: string, row: TxnRow | null]>;
}

/** A replica's answer to reads: served at `zxid`, or not ready (behind, or staler than asked) for the caller to read at the leader. */
export type ReplicaReadAnswer =
  | { ready: true; zxid: number; msSinceContact: number | null; outcomes: Outcome[] }
  | { ready: false; appliedZxid: number; msSinceContact: number | null };

/** A replica's answer to a session host's reads: as ReplicaReadAnswer, with what the host is owed when ready. */
export type ReplicaHostAnswer =
  | { ready: true; zxid: number; msSinceContact: number | null; outcomes: Outcome[]; notifications: WatchNotification[] }
  | { ready: false; appliedZxid: number; msSinceContact: number | null };

/** syncHost's answer: at `zxid`, what the host is owed (its watches' catch-up included); or not ready, having applied only `appliedZxid`. */
export type SyncHostAnswer = { ready: true; zxid: number; notifications: WatchNotification[] } | { ready: false; appliedZxid: number };

export type { HostWatch } from "./watch-catch-up.ts";

export class ShardDO extends EdgekeeperObject {
  private readonly sql: SqlStorage;
  private readonly store: ZnodeStore;
  private readonly log: ChangeLog;
  private readonly sessions: SessionTable;
  /** The subtree served (its root, its seal): the leader's, logged; a replica's, applied from that log. */
  private readonly subtree: SubtreeTable;
  /** The replication core's leader: sequencing, the log (effects and commit records), its pages for replicas. */
  private readonly leader: LeaderLog<ShardLogEntry>;
  /** The core's Storage port over this object's SQLite (both roles use it). */
  private readonly storagePort: SqliteStorage;
  /**
   * What this object's name says (replica-name.ts): a read replica's names its region
   * and its first leader. The name decides only how a new object starts; a handover
   * can make a leader a replica, and a replica the leader (the role in its storage).
   */
  private readonly named: ReplicaIdentity | undefined;
  /** Set once this object's tables exist (a named replica's are made at its first statement). */
  private tablesMade = false;
  /** A replica's pull loop, once started (its first read; then at each instance's start). */
  private replica: ReplicaRunner | undefined;
  /**
   * Set once storage said this object is no replica (it leads, is sealed, or is new
   * and its name makes it the leader), so that every batch need not read its meta for
   * that: only a handover's `follow` (and a `destroy`) can make it one again.
   */
  private notReplica = false;
  /** Made at first use; null without simulated regions. */
  private origins: WriteOrigins | null | undefined;
  /** A replica's pulls, entries applied and rows written (replica-meter.ts); a leader's stay 0. */
  private readonly meter = new ReplicaMeter();
  private readonly snapshots: SnapshotStore;
  private readonly limits: Limits;
  private readonly containerReapMs: number;
  private readonly waiters = new ChangeWaiters();
  /** What multis across shards hold here (replication/core/txn-holds.ts), and their parts' rows here (cross-shard-txns.ts). */
  private readonly holds: CheckHolds;
  private readonly txns: TxnRows;
  /** Asks another shard of a multi across shards (txn-deciders.ts). */
  private readonly askTxnShard: AskTxnShard;
  /** The rules of this shard's parts of multis across shards (replication/core/txn-parts.ts). */
  private readonly txnParts: TxnParts;
  private readonly watches: WatchRegistry;
  /** What a watch set again (syncHost), or held through a replica's snapshot install, is owed. */
  private readonly catchUp: WatchCatchUp;
  private readonly hosts = new HostMemo();
  /** Hosts owed by what a replica applied, pushed once its transaction has committed. */
  private readonly owedByApply = new Set<string>();
  /** Hosts being pushed to now, and whether more arrived meanwhile. */
  private readonly pushing = new Map<string, boolean>();
  /** A geo-tier leader's reads wait for a sync replica to vouch it still leads (leader-vouchers.ts). */
  private readonly vouchers: LeaderVouchers;

  constructor(ctx: DurableObjectState, env: EdgekeeperEnv) {
    super(ctx, env);
    this.named = replicaIdentityOf(ctx.id.name);
    // Only a replica counts its rows: a leader's writes pay nothing for it. A replica's
    // tables are made at its first statement: asking one never read from its status creates nothing.
    this.sql = this.named ? this.meter.countingSql(tablesOnFirstUse(ctx.storage.sql, () => this.createSchema())) : ctx.storage.sql;
    this.store = new ZnodeStore(this.sql);
    // The change log is the log entries' events (LogTable keeps them beside each entry).
    this.log = new ChangeLog(this.sql);
    this.sessions = new SessionTable(this.sql);
    this.subtree = new SubtreeTable(this.sql);
    this.askTxnShard = askingTxnShards(env, ctx.id.name ?? "");
    this.txnParts = new TxnParts({
      row: (txn) => {
        const row = this.txns.get(txn);
        return row?.kind === "prepared" ? { kind: "prepared", parts: row.txn.parts } : row;
      },
      leads: () => !this.leader.fenced(),
      rowsWhole: () => this.rowsWhole(),
      abort: (txn) => this.abortPart(txn),
      settle: (txn, fate) => this.settlePrepared(txn, fate),
      askPart: (copy, txn) => this.askTxnShard(copy, (shard) => shard.partOfTxn(txn)),
      askDecider: (decider, txn, waiter) => this.askTxnShard(decider, (shard) => shard.resolveTxn(txn, waiter)),
      acknowledged: () => this.acknowledgedNow(),
    });
    this.holds = new CheckHolds(new SqlHoldStore(this.sql), WORKER_CLOCK, (decider, txn, waiter) => this.txnParts.fateOf(txn, decider, waiter), { leads: () => !this.leader.fenced(), settle: (txn, fate) => this.settlePrepared(txn, fate) });
    this.txns = new TxnRows(this.sql, () => this.holds);
    const log = new LogTable(this.sql);
    const tables = { subtree: this.subtree, znode: new ZnodeTable(this.store), session: this.sessions, txn: this.txns, log: firingOnApply(log, (entry) => this.replicaApplied(entry)) };
    this.storagePort = new SqliteStorage(ctx.storage, coreTables(this.sql, tables));
    this.leader = new LeaderLog<ShardLogEntry>(this.storagePort, WORKER_CLOCK, this.settings.replication, storedBytes);
    this.snapshots = new SnapshotStore(this.sql, this.store);
    this.watches = new WatchRegistry(this.sql);
    this.catchUp = new WatchCatchUp(this.sql, this.store, this.log);
    this.limits = this.settings.limits;
    const link = RegionLink.ofShard(env, ctx.id.name ?? "");
    this.vouchers = new LeaderVouchers((copy, epoch) => (link.shard(copy) as unknown as VouchingCopy).vouch(epoch), WORKER_CLOCK, GEO_ACK_WAIT_MS);
    this.containerReapMs = this.settings.containerReapMs;
    void ctx.blockConcurrencyWhile(async () => {
      if (!this.named) this.createSchema();
      // A replica that was pulling (its watchdog alarm set) resumes in every new instance (after a restart or deploy).
      if (this.hasTables() && this.leader.role() === "replica" && (await ctx.storage.getAlarm()) !== null) await this.asReplica()?.resume();
      // A geo-tier leader's events held back when it stopped go out from its alarm, as its sync replicas hold them again.
      else if (this.hasTables() && this.holdsUnacknowledged() && this.watches.pushHostsOwed().length > 0) await this.setAlarmBy(Date.now());
    });
  }

  private createSchema(): void {
    this.tablesMade = true;
    for (const statement of [...SHARD_SCHEMA, ...WATCH_SCHEMA, ...REPLICATION_SCHEMA, ...CHECK_HOLD_SCHEMA, ...TXN_SCHEMA]) this.sql.exec(statement);
    migrateShardSchema(this.sql);
    this.adoptLegacySequence();
  }

  /**
   * A shard from before the replication log keeps its zxids: it leads its epoch
   * from its last zxid on (its log starts there). One that never served has none to keep.
   */
  private adoptLegacySequence(): void {
    const legacy = this.log.legacyZxid();
    if (!legacy) return;
    this.ctx.storage.transactionSync(() => {
      if (legacy.counter > 0 || this.subtree.read().root !== undefined) this.leader.continueFrom(makeZxid(legacy.epoch, legacy.counter));
      this.log.dropLegacy();
    });
  }

  /** The last committed zxid (the log's head). */
  private lastZxid(): number {
    return this.leader.appliedZxid();
  }

  /**
   * The subtree this shard serves: "/" is set up at its first request, a mounted
   * subtree only by initMount (so a request routed by a stale table to a shard
   * being unmounted, or already freed, sets nothing up again: it answers `moved`).
   * A sealed shard (being unmounted) serves nothing.
   */
  private treeFor(root: string): ShardTree {
    const { root: stored, sealed } = this.subtree.read();
    // A replica serves the subtree its leader's log set up, from the rows that log wrote, until the log seals it (it
    // sets none up). One that applied its snapshot before the log carried the subtree knows none: it takes its caller's.
    if (this.asReplica()) return new ShardTree(this.store, this.limits, stored ?? root, !sealed);
    // Only a new object leads: one with a role (a replica) takes its rows from its leader.
    if (stored === undefined && root === "/" && this.leader.role() === undefined) this.initializeRoot(root, OPEN_ACL_UNSAFE);
    const serving = (stored !== undefined || root === "/") && !sealed;
    return new ShardTree(this.store, this.limits, stored ?? root, serving);
  }

  /**
   * Creates the root node (and, for "/", ZooKeeper's system nodes) once, as the
   * snapshot that opens the shard's log, with the subtree it serves. The system
   * nodes look as on a new ZooKeeper 3.8: zxid and times 0, /zookeeper/config
   * readable by all and writable by none (its aversion is -1 there too).
   */
  private initializeRoot(root: string, rootAcl: readonly Acl[]): void {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const paths = root === "/" ? ["/", ...SYSTEM_PATHS] : [root];
      const rows = paths.map((path) => {
        const children = paths.filter((p) => p !== path && p !== "/" && parentOf(p) === path).length;
        const row: ZnodeRow = {
          path,
          parent: path === "/" ? null : parentOf(path),
          name: basename(path),
          data: new Uint8Array(0),
          acl: [...(path === "/zookeeper/config" ? READ_ACL_UNSAFE : path === root ? rootAcl : OPEN_ACL_UNSAFE)],
          kind: "persistent",
          owner: 0,
          ttlMs: null,
          czxid: 0,
          mzxid: 0,
          pzxid: 0,
          ctime: root === "/" ? 0 : now,
          mtime: root === "/" ? 0 : now,
          version: 0,
          cversion: 0,
          aversion: path === "/zookeeper/config" ? -1 : 0,
          numChildren: children,
        };
        return { table: "znode" as const, key: path, row };
      });
      const served: ServedSubtree = { root, sealed: false };
      // A new shard leads epoch 1; its first rows are the log's snapshot at (1, 0).
      const activated = this.leader.activate(1, () => [...rows, { table: "subtree", key: SUBTREE_KEY, row: served }]);
      if ("kind" in activated) throw new KeeperError("SystemError", `this shard object cannot lead: it is ${activated.role} at epoch ${activated.epoch}`);
    });
  }

  /**
   * Executes a batch of requests in order and answers each.
   *
   * @example
   * const [out] = await shard.execute("/", { sessionId: 0, ids: [] }, [{ op: "getData", path: "/a" }]);
   */
  async execute(root: string, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]> {
    return this.executeBatch(root, undefined, caller, requests);
  }

  /**
   * `execute` for a session host: reads with `watch: true` leave a watch for the
   * host, and the answer carries every notification the host is still owed, so it
   * can deliver a watch event before any reply showing the change that fired it.
   * `ackSeq` acknowledges the notifications the host has processed. With `push`, the
   * shard also calls the host's `deliver` as soon as a watch fires.
   */
  async hostExecute(root: string, host: WatchHost, ackSeq: number, caller: Caller, requests: ShardRequest[]): Promise<{ outcomes: Outcome[]; notifications: WatchNotification[] }> {
    this.takeAck(host, ackSeq);
    const outcomes = await this.executeBatch(root, host.name, caller, requests);
    return { outcomes, notifications: this.pendingFor(host.name) };
  }

  private storePushMode(host: WatchHost): void {
    if (this.hosts.storesMode(host.name, host.push)) this.watches.setPush(host.name, host.push);
  }

  /**
   * What a host is still owed (watch-registry.ts), unless it is known to be owed
   * nothing. A geo-tier leader's (or sealed leader's) own changes are held back until a
   * sync replica holds them: an event of a write a failover may drop must not go out.
   */
  private pendingFor(host: string): WatchNotification[] {
    if (!this.hosts.mayBeOwed(host)) return [];
    const pending = this.watches.pending(host);
    if (pending.length === 0) this.hosts.owesNothing(host);
    if (!this.holdsUnacknowledged()) return pending;
    const acknowledged = this.leader.acknowledgedZxid();
    return pending.filter((n) => n.zxid <= acknowledged);
  }

  /**
   * Whether every write this copy holds is acknowledged (at once but for a geo-tier
   * leader, which waits at most `waitMs` for it): the caller then reads in the same
   * synchronous block, so what it reads is acknowledged.
   */
  private async acknowledgedHead(waitMs: number): Promise<boolean> {
    const deadline = Date.now() + Math.max(0, waitMs);
    while (this.holdsUnacknowledged() && this.leader.acknowledgedZxid() < this.lastZxid()) {
      if (!(await this.leader.whenAcked(this.lastZxid(), deadline - Date.now()))) return false;
    }
    return true;
  }

  /**
   * Whether what this copy holds now is acknowledged (a geo-tier leader waits at most
   * GEO_ACK_WAIT_MS for its head as it is now): for an answer already worked out, so
   * unlike acknowledgedHead it does not chase writes logged meanwhile, which under a
   * steady writer would never end.
   */
  private acknowledgedNow(): Promise<boolean> {
    return this.holdsUnacknowledged() ? this.leader.whenAcked(this.lastZxid(), GEO_ACK_WAIT_MS) : Promise.resolve(true);
  }

  /** Whether this copy's own log may hold writes no sync replica has yet: it leads, or led and is sealed, a geo-tier shard. */
  private holdsUnacknowledged(): boolean {
    return this.leader.geo && !this.asReplica();
  }

  /**
   * Runs a batch in order within one answer budget (Limits.maxAnswerBytes). Once a
   * read would take the answer over it, that read and the rest are `deferred` (not
   * run) for the caller to send again; a first request whose answer alone is over
   * the cap is refused instead (BadArguments), as sending it again could not help.
   */
  private async executeBatch(root: string, host: string | undefined, caller: Caller, requests: ShardRequest[], asReplica = false): Promise<Outcome[]> {
    // A write waits while a multi across shards holds what it would change (nothing is computed or awaited
    // when nothing is held), but a multi's part prepared here, which its own transaction holds.
    const written = asReplica || !this.holds.any() ? [] : holdKeysWritten(requests);
    const own = requests.length === 1 && requests[0]!.op === "multi" ? requests[0]!.txn?.id : undefined;
    while (this.holds.blocks(written, own)) await this.holds.untilNotHeld(written, own);
    const tree = this.treeFor(root);
    // The role, read with the batch's reads (one synchronous block): only the leader answers.
    if (!asReplica && tree.serving && this.leader.fenced()) return requests.map(() => this.notLeader());
    const budget = new AnswerBudget(this.limits.maxAnswerBytes);
    const outcomes: Outcome[] = [];
    let reapable = false;
    // After a request this shard does not serve, or past the budget, run none of the
    // rest: the caller re-sends them, in order, to wherever they now belong.
    let stop: Outcome | undefined;
    for (const [index, request] of requests.entries()) {
      if (stop) {
        outcomes.push(stop);
        continue;
      }
      const spent = budget.spent;
      let result: { outcome: Outcome; touchesReapable: boolean };
      try {
        result = this.executeOne(tree, caller, request, budget);
      } catch (err) {
        if (!(err instanceof AnswerOverBudget)) throw err;
        budget.resetTo(spent);
        if (index > 0) {
          stop = this.deferred();
          outcomes.push(stop);
          continue;
        }
        result = { outcome: { ok: false, zxid: this.lastZxid(), error: new KeeperError("BadArguments", err.message, pathOf(request)).toBody() }, touchesReapable: false };
      }
      const { outcome, touchesReapable } = result;
      if (!outcome.ok && outcome.moved === true) stop = outcome;
      reapable ||= touchesReapable;
      if (host !== undefined && outcome.ok) this.registerWatch(host, request, outcome);
      outcomes.push(outcome);
    }
    if (reapable) await this.scheduleReaper();
    return !asReplica && this.leader.geo ? this.acknowledged(requests, outcomes) : outcomes;
  }

  /**
   * A geo-tier leader's answers: they leave once a sync replica holds what they show
   * (LeaderLog.whenAcked), and a batch with reads once one vouches that this copy still
   * leads (leader-vouchers.ts). Else, after GEO_ACK_WAIT_MS, each is OperationTimeout:
   * a write's fate is then unknown (a failover may drop it), as after ZooKeeper's
   * ConnectionLoss; a session's retry with its cxid is answered once.
   */
  private async acknowledged(requests: ShardRequest[], outcomes: Outcome[]): Promise<Outcome[]> {
    const shown = Math.max(0, ...outcomes.map((o) => o.zxid));
    const meta = this.leader.state();
    const reads = requests.some((r) => !writes(r));
    const [acked, vouched] = await Promise.all([
      this.leader.whenAcked(shown, GEO_ACK_WAIT_MS),
      reads && meta ? this.vouchers.confirm(meta.syncReplicas ?? [], meta.epoch) : Promise.resolve(true),
    ]);
    if (acked && vouched) return outcomes;
    const why = acked ? "no sync replica confirmed in time that this copy still leads its shard: read again" : `no sync replica of this geo-tier shard acknowledged zxid ${shown} in time: the write may or may not have applied`;
    const timedOut = new KeeperError("OperationTimeout", why).toBody();
    return outcomes.map((o) => (o.ok || (o.moved !== true && o.notLeader !== true && o.deferred !== true) ? { ok: false, zxid: o.zxid, error: timedOut } : o));
  }

  /** ZooKeeper leaves a watch only where the read succeeded (exists: present or not). */
  private registerWatch(host: string, request: ShardRequest, outcome: Outcome): void {
    if (!outcome.ok || !("watch" in request) || !request.watch) return;
    if (request.op === "getData" || request.op === "exists") this.watches.add(host, request.path, "data");
    else if (request.op === "getChildren") this.watches.add(host, request.path, "child");
  }

  /** addWatch: a persistent (or persistent recursive) watch of the host on a path. */
  async addWatch(root: string, host: WatchHost, caller: Caller, path: string, mode: "persistent" | "recursive"): Promise<Outcome<Record<string, never>>> {
    // At a replica: it waits for nothing, but starts pulling (its watches then keep it pulling).
    await this.asReplica()?.resume();
    const tree = this.treeFor(root);
    try {
      tree.checkRoute(path);
      tree.checkWatchable(path, caller);
    } catch (err) {
      if (err instanceof MovedError) return this.moved();
      if (err instanceof KeeperError) return { ok: false, zxid: this.lastZxid(), error: err.toBody() };
      throw err;
    }
    this.storePushMode(host);
    this.watches.add(host.name, path, mode);
    return { ok: true, zxid: this.lastZxid(), value: {} };
  }

  /** Removes the host's watches on a path (one kind, or all); NoWatcher if there were none. */
  async removeWatches(root: string, host: string, path: string, kind?: WatchKind): Promise<Outcome<Record<string, never>>> {
    this.treeFor(root);
    const removed = this.watches.remove(host, path, kind);
    if (removed === 0) return { ok: false, zxid: this.lastZxid(), error: new KeeperError("NoWatcher", undefined, path).toBody() };
    return { ok: true, zxid: this.lastZxid(), value: {} };
  }

  /** The host's watches here (for a host that resynchronises, and for tests). */
  async watchesOf(host: string): Promise<{ path: string; kind: WatchKind }[]> {
    return this.watches.watchesOf(host);
  }

  /**
   * Deletes every ephemeral node of a session, in one write (one zxid), forgets its
   * replies, and refuses its ephemeral creates from now on (one still in flight would
   * otherwise outlive the session). Safe to repeat: a second call finds it closed.
   */
  async closeSession(root: string, sessionId: number): Promise<Outcome<{ deleted: string[] }>> {
    const tree = this.treeFor(root);
    // An unmounted shard holds no ephemerals (it was empty), and must not be written again.
    if (!tree.serving) return { ok: true, zxid: 0, value: { deleted: [] } };
    // An ephemeral a multi across shards checked (a lock's node) stays until that multi is
    // decided, and a part the session's multi prepared here applies or drops first: its
    // ephemeral made after the closure would fail, its multi then half applied. Nothing is
    // looked up when nothing is held (a prepared part always holds), as for writes.
    const held = () => (this.holds.any() ? [...tree.ephemeralsOf(sessionId), ...this.txns.preparedKeysOf(sessionId)] : []);
    while (this.holds.blocks(held())) await this.holds.untilNotHeld(held());
    if (this.store.isSessionClosed(sessionId)) return { ok: true, zxid: this.lastZxid(), value: { deleted: [] } };
    const paths = tree.ephemeralsOf(sessionId);
    let touchesReapable = false;
    // Logged as the session's closure (its replies dropped), so a replica promoted later refuses it too.
    const outcome = this.write({ sessionId, ids: SYSTEM_CALLER.ids }, undefined, (w) => {
      for (const path of paths) tree.delete({ op: "delete", path }, w, { skipAcl: true });
      touchesReapable = w.touchesReapable;
      return { deleted: paths };
    }, false, true);
    if (touchesReapable) await this.scheduleReaper();
    // A geo-tier shard's closure counts once a sync replica holds it (a failover could drop it): the host tries again otherwise.
    if (outcome.ok && this.leader.geo && !(await this.leader.whenAcked(outcome.zxid, GEO_ACK_WAIT_MS))) {
      return { ok: false, zxid: outcome.zxid, error: new KeeperError("OperationTimeout", `no sync replica acknowledged the closure of session ${sessionId} in time`).toBody() };
    }
    return outcome;
  }

  /**
   * Creates the stub that lists a subtree mounted on another shard (DirectoryDO.mount),
   * as `caller` would create the node: CREATE on the parent, the parent must exist,
   * the path must not. Idempotent: a stub already there is success, so an
   * interrupted mount can be redone.
   */
  async createMountStub(root: string, path: string, caller: Caller, acl: Acl[]): Promise<Outcome> {
    const tree = this.treeFor(root);
    try {
      tree.checkRoute(routingPath({ op: "create", path }));
    } catch (err) {
      if (err instanceof MovedError) return this.moved();
      throw err;
    }
    if (this.store.get(path)?.kind === "mount") return { ok: true, zxid: this.lastZxid(), value: {} };
    return this.write(caller, undefined, (w) => tree.create({ op: "create", path, acl }, w, true));
  }

  /** Whether `caller` may unmount `path`: DELETE on its parent, as a delete of the node needs. */
  async mayRemoveMountStub(root: string, path: string, caller: Caller): Promise<Outcome> {
    const tree = this.treeFor(root);
    try {
      tree.checkRoute(parentOf(path));
      tree.checkMayDelete(path, caller);
      return { ok: true, zxid: this.lastZxid(), value: {} };
    } catch (err) {
      if (err instanceof MovedError) return this.moved();
      if (err instanceof KeeperError) return { ok: false, zxid: this.lastZxid(), error: err.toBody() };
      throw err;
    }
  }

  /** Removes the stub of an unmounted subtree (DirectoryDO.unmount); idempotent. */
  async removeMountStub(root: string, path: string): Promise<Outcome> {
    const tree = this.treeFor(root);
    if (this.store.get(path)?.kind !== "mount") return { ok: true, zxid: this.lastZxid(), value: {} };
    return this.write(SYSTEM_CALLER, undefined, (w) => tree.removeMountStub(path, w));
  }

  /** Prepares a shard to serve the subtree at `root` with the mount point's ACL (DirectoryDO.mount). */
  async initMount(root: string, acl: Acl[]): Promise<void> {
    if (this.subtree.read().root === undefined && this.leader.role() === undefined) this.initializeRoot(root, acl);
  }

  /**
   * Stops serving, for an unmount, if the subtree is empty (NotEmpty otherwise): the
   * check and the seal are one write, so no create can slip between. Its watchers
   * see the mount point deleted, as a delete of the node would show them (and long
   * polls on it wake). From then on every request is answered `moved`; the seal is
   * logged, so its replicas answer so too, and stop pulling. Idempotent.
   */
  async sealForUnmount(root: string): Promise<Outcome> {
    const tree = this.treeFor(root);
    if (!tree.serving) return { ok: true, zxid: this.lastZxid(), value: {} };
    return this.write(SYSTEM_CALLER, undefined, (w) => {
      const rootRow = this.store.get(root);
      if ((rootRow?.numChildren ?? 0) > 0) throw new KeeperError("NotEmpty", `${root} still has children: delete them before unmounting`, root);
      w.subtree = { root, sealed: true };
      w.events.push({ event: "NodeDeleted", path: root, acl: rootRow?.acl ?? [] });
      return {};
    });
  }

  /**
   * Frees an unmounted shard: its storage and its alarm. The empty schema is made
   * again (as a restart would) so that a request a stale table still sends here
   * finds a shard that serves nothing, and is answered `moved`.
   */
  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.watches.forgetAcknowledged();
    this.hosts.clear();
    this.notReplica = false;
    this.createSchema();
  }

  /**
   * Save: copies the tree at its last zxid under `id` (snapshot-store.ts), answering
   * that zxid; the pages are then read from the copy, whatever writes follow.
   */
  async snapshotBegin(root: string, id: string): Promise<Outcome<{ zxid: number }>> {
    if (!this.treeFor(root).serving) return this.moved();
    const zxid = this.ctx.storage.transactionSync(() => {
      this.snapshots.take(id);
      return this.lastZxid();
    });
    return { ok: true, zxid, value: { zxid } };
  }

  /** Save: the copied nodes after `after`, in path order, about `maxBytes` of them, each readable by `reader`. */
  async snapshotPage(root: string, reader: Caller, id: string, after: string, maxBytes: number): Promise<Outcome<SnapshotPage>> {
    this.treeFor(root);
    return this.outcomeOf(() => this.snapshots.page(id, after, maxBytes, reader.ids));
  }

  /**
   * Restore: refuses (NotEmpty) a shard holding more than its root, then moves its
   * zxid on to the saved one, so every later write's zxid is above the restored ones.
   */
  async restoreBegin(root: string, zxid: number): Promise<Outcome> {
    if (!this.treeFor(root).serving) return this.moved();
    return this.outcomeOf(() => {
      if (!this.snapshots.holdsOnlyRoot(root)) throw new KeeperError("NotEmpty", `the subtree at ${root} is not empty: restore only into an empty namespace`, root);
      this.leader.skipTo(zxid);
      return {};
    });
  }

  /** Restore: writes saved nodes as given, all or none of them (snapshot-store.ts). */
  async restoreNodes(root: string, nodes: unknown[]): Promise<Outcome> {
    if (!this.treeFor(root).serving) return this.moved();
    return this.outcomeOf(() => this.writeRows(() => this.snapshots.restore(root, nodes, this.limits)));
  }

  /** Restore: the stub of a subtree restored as a mount, with the mount point's ACL. */
  async restoreMountStub(root: string, path: string, acl: Acl[]): Promise<void> {
    this.treeFor(root);
    const outcome = this.writeRows(() => this.snapshots.insertMountStub(path, acl, Date.now()));
    if (!outcome.ok) throw KeeperError.fromBody(outcome.error);
  }

  /**
   * Writes rows outside ZooKeeper's rules (a restore) as one logged write, so that
   * replicas get them as they get any write; a KeeperError writes nothing.
   */
  private writeRows(write: () => void): Outcome<Record<string, never>> {
    const done = this.leader.sequence((_txn, zxid, epoch) => {
      const { written } = this.store.tracking(write);
      const effects: ShardLogEntry["effects"] = [...written].map(([path, row]) => ({ table: "znode", key: path, row: row ?? null }));
      const outcome: Outcome<Record<string, never>> = { ok: true, zxid, value: {} };
      return { value: outcome, entry: sizedEntry({ zxid, epoch, kind: "write", session: 0, cxid: 0, effects, reply: outcome }) };
    });
    return done.kind === "fenced" ? this.notLeader() : done.value;
  }

  /** Restore: checks the children counts, then sets the alarm for the TTL nodes and containers restored. */
  async restoreFinish(root: string): Promise<Outcome> {
    this.treeFor(root);
    const outcome = this.outcomeOf(() => {
      this.snapshots.verifyCounts();
      return {};
    });
    if (outcome.ok) await this.scheduleReaper();
    return outcome;
  }

  /** `fn`'s value as an outcome, a KeeperError as a failed one. */
  private outcomeOf<T>(fn: () => T): Outcome<T> {
    try {
      return { ok: true, zxid: this.lastZxid(), value: fn() };
    } catch (err) {
      if (err instanceof KeeperError) return { ok: false, zxid: this.lastZxid(), error: err.toBody() };
      throw err;
    }
  }

  /**
   * Every event committed after `zxid`, in commit order, whoever may read it (for
   * resume, replicas and tests; never for a caller: see `changesFor`). `oldest` is
   * the oldest zxid the log still holds: a caller behind it missed events.
   */
  async changesSince(zxid: number): Promise<{ events: ChangeEvent[]; oldest?: number; last: number }> {
    return { events: this.log.since(zxid).map(withoutAcl), ...this.logBounds() };
  }

  /**
   * The events after `zxid` that a watch of `path` in `scope` sees and `reader` may
   * read (each by its node's ACL as of the event), for event streams. NoAuth when
   * `reader` may not read `path` itself (a path not there yet may be watched).
   */
  async changesFor(root: string, reader: Caller, path: string, scope: ChangeScope, zxid: number): Promise<Outcome<{ events: ChangeEvent[]; oldest?: number; last: number }>> {
    return this.asReader(root, reader, path, async () => ({
      events: this.log.since(zxid).filter((e) => seenBy(scope, path, reader.ids, e)).map(withoutAcl),
      ...this.logBounds(),
    }));
  }

  /** The oldest zxid whose events the change log holds (every one after it too), and the last. */
  private logBounds(): { oldest: number; last: number } {
    const { trimmedZxid, appliedZxid } = this.leader.bounds();
    return { oldest: trimmedZxid + 1, last: appliedZxid };
  }

  /**
   * Long poll: resolves `changed: true` as soon as the log holds an event after
   * `afterZxid` that a watch of `path` in `scope` sees and `reader` may read (at
   * once, if it already does, or if `afterZxid` lies outside what the log can answer
   * for), else `changed: false` after `timeoutMs`. `zxid` is the shard's last zxid
   * when it answers. NoAuth, at once, when `reader` may not read `path`.
   */
  async waitForChange(root: string, reader: Caller, path: string, scope: ChangeScope, afterZxid: number, timeoutMs: number): Promise<Outcome<{ changed: boolean; zxid: number }>> {
    return this.asReader(root, reader, path, async () => {
      const { oldest, last } = this.logBounds();
      const unanswerable = afterZxid > last || afterZxid < oldest - 1;
      const seen = this.log.since(afterZxid).some((e) => seenBy(scope, path, reader.ids, e));
      if (unanswerable || seen) return { changed: true, zxid: last };
      const changed = await this.waiters.wait(path, scope, reader.ids, Math.max(0, timeoutMs));
      return { changed, zxid: this.lastZxid() };
    });
  }

  /** Runs `read` once `reader` may follow `path` (addWatch's check: READ if the node is there). */
  private async asReader<T>(root: string, reader: Caller, path: string, read: () => Promise<T>): Promise<Outcome<T>> {
    try {
      this.treeFor(root).checkWatchable(path, reader);
    } catch (err) {
      if (err instanceof KeeperError) return { ok: false, zxid: this.lastZxid(), error: err.toBody() };
      throw err;
    }
    return { ok: true, zxid: this.lastZxid(), value: await read() };
  }

  /**
   * Where this shard's leader should be, and why (write-origins.ts); `preferred`: the
   * operator's region for it, which always wins. Null without simulated regions.
   */
  async placementAdvice(preferred?: string): Promise<PlacementAdvice | null> {
    return this.writeOrigins()?.advice(typeof preferred === "string" ? preferred : undefined) ?? null;
  }

  /** The leader's count of where its writes come from, made at first use; undefined without simulated regions. */
  private writeOrigins(): WriteOrigins | undefined {
    if (this.origins === undefined) {
      const { regions, region } = RegionLink.ofShard(this.env, this.ctx.id.name ?? "");
      this.origins = regions && region ? new WriteOrigins(this.sql, regions, region) : null;
    }
    return this.origins ?? undefined;
  }

  /**
   * The tree's counters and last zxid, for monitoring: a few meta rows, whatever the
   * tree's size (the writes keep them: schema.ts). Sets up "/" as its first request would.
   */
  async stats(root: string): Promise<Omit<ShardStats, "shard" | "prefix">> {
    this.treeFor(root);
    const counters = readCounters(this.sql, ZNODE_COUNTERS.map((c) => c.key));
    return { nodes: counters.node_count ?? 0, ephemerals: counters.ephemeral_count ?? 0, dataBytes: counters.data_bytes ?? 0, lastZxid: this.lastZxid() };
  }

  /** How many paths hosts watch here (ZooKeeper's wchs num_paths; shards' paths are disjoint). A replica never started holds none, and is not made by asking. */
  async watchedPaths(): Promise<number> {
    if (!this.hasTables()) return 0;
    return this.sql.exec<{ n: number }>("SELECT count(DISTINCT path) AS n FROM watches").one().n;
  }

  /**
   * Reads at this read replica (its name makes it one: replica-name.ts): runs
   * `requests` once it has applied `at.minZxid`, waiting at most `at.waitMs`, and,
   * with `at.maxStalenessMs`, only if it holds every write its leader had committed
   * that long ago. Otherwise answers not ready, for the caller to read at the leader.
   * The first read starts the replica. Writes among the requests are NotReadOnly.
   */
  async replicaRead(root: string, caller: Caller, requests: ShardRequest[], at: ReplicaReadAt): Promise<ReplicaReadAnswer> {
    return this.readAtReplica(root, undefined, caller, requests, at);
  }

  /**
   * `replicaRead` for a session host, as `hostExecute` is `execute` for one: reads
   * with `watch: true` leave a watch for the host in this replica's registry, which
   * fires when the replica applies the change; a ready answer carries every
   * notification the host is owed here (so an event comes before any answer showing
   * its change). `ackSeq` acknowledges those it has processed.
   */
  async replicaHostExecute(root: string, host: WatchHost, ackSeq: number, caller: Caller, requests: ShardRequest[], at: ReplicaReadAt): Promise<ReplicaHostAnswer> {
    checkWatchHost(host);
    const answer = await this.readAtReplica(root, host, caller, requests, at, ackSeq);
    return answer.ready ? { ...answer, notifications: this.pendingFor(host.name) } : answer;
  }

  /** Runs reads at this replica once ready (see replicaRead), leaving the watches of `host` if given. */
  private async readAtReplica(root: string, host: WatchHost | undefined, caller: Caller, requests: ShardRequest[], at: ReplicaReadAt, ackSeq = 0): Promise<ReplicaReadAnswer> {
    const { ready, appliedZxid, msSinceContact } = await this.readiness(at);
    if (!ready) return { ready: false, appliedZxid, msSinceContact };
    // The copy leads now (a move or failover made it leader): a geo-tier one shows nothing no sync replica holds.
    // Checked before awaiting: a regional copy's reads follow its readiness with no turn of the event loop between.
    if (this.holdsUnacknowledged() && !(await this.acknowledgedHead(Number(at.waitMs) || 0))) return { ready: false, appliedZxid: this.lastZxid(), msSinceContact };
    if (host) this.takeAck(host, ackSeq);
    // From here to the reads' end, one synchronous block: what they see is at `zxid`.
    const zxid = this.lastZxid();
    const reads = await this.executeBatch(root, host?.name, caller, requests.filter((r) => !writes(r)), true);
    const outcomes = requests.map((r) => (writes(r) ? notReadOnly(zxid, r) : reads.shift()!));
    return { ready: true, zxid, msSinceContact, outcomes };
  }

  /**
   * Whether this copy can serve reads as `at` asks: a replica once it has applied what
   * they must show (waiting as ReplicaRunner.readiness); the copy in a region that
   * leads now (a handover moved its shard's leader here), at once; one sealed or
   * fenced, never (the caller reads at the leader).
   */
  private async readiness(at: ReplicaReadAt): Promise<Readiness> {
    const replica = this.asReplica();
    if (replica) return replica.readiness(at);
    if (!Number.isSafeInteger(at?.minZxid) || at.minZxid < 0) throw new KeeperError("BadArguments", "a replica read names the zxid it must show (a whole number, 0 or more)");
    const appliedZxid = this.lastZxid();
    if (this.leader.fenced()) return { ready: false, appliedZxid, msSinceContact: null };
    return { ready: appliedZxid >= at.minZxid, appliedZxid, msSinceContact: 0 };
  }

  /** Stores how the host takes deliveries and what it has acknowledged. */
  private takeAck(host: WatchHost, ackSeq: number): void {
    this.storePushMode(host);
    if (this.hosts.mayBeOwed(host.name)) this.watches.acknowledge(host.name, ackSeq);
  }

  /**
   * Sets a host's watches again here and hands over what it is owed, at a replica or
   * the leader. Once this object has applied `minZxid` and every watch's sinceZxid (a
   * leader has; a replica waits at most `waitMs`, else answers not ready), in one
   * transaction: each watch that missed nothing since its sinceZxid is registered, and
   * the events it missed are queued for the host (watch-catch-up.ts: ZooKeeper's
   * setWatches rule, exact while the change log reaches back that far; a one-shot
   * watch that missed one is used up by it). Answers every notification the host is
   * owed here. With no watches it is the host's settle: wait, then hand over.
   * Bad input (a kind, path or zxid) is BadArguments.
   */
  async syncHost(root: string, host: WatchHost, ackSeq: number, minZxid: number, watches: HostWatch[], waitMs: number): Promise<SyncHostAnswer> {
    checkWatchHost(host);
    const wanted = parseHostWatches(watches, this.limits);
    if (!Number.isSafeInteger(minZxid) || minZxid < 0) throw new KeeperError("BadArguments", "syncHost names the zxid to wait for (a whole number, 0 or more)");
    this.treeFor(root);
    const replica = this.asReplica();
    if (replica) {
      const atLeast = wanted.reduce((zxid, watch) => Math.max(zxid, watch.sinceZxid), minZxid);
      const { ready, appliedZxid } = await replica.readiness({ minZxid: atLeast, waitMs: Number(waitMs) });
      if (!ready) return { ready: false, appliedZxid };
    }
    this.takeAck(host, ackSeq);
    const { oldest, last } = this.logBounds();
    const reach: LogReach = { trimmedZxid: oldest - 1, appliedZxid: last };
    this.ctx.storage.transactionSync(() => {
      const owed = this.catchUp.owed(wanted, reach);
      wanted.forEach((watch, i) => {
        if (owed[i]!.armed) this.watches.add(host.name, watch.path, watch.kind);
      });
      // A change the host's watch here already fired, and the host has not acknowledged,
      // is queued once: it would fire the host's watches twice (a home's move hands over
      // from the zxid the old home reached, and this copy may have held the watch meanwhile).
      this.queueOwed(host.name, owed.flatMap((o) => o.events), this.pendingFor(host.name));
      this.watches.writeAcknowledged();
    });
    return { ready: true, zxid: last, notifications: this.pendingFor(host.name) };
  }

  /**
   * This replica's progress and counters, for `GET /v1/admin/shards` (also when idle:
   * not pulling); null when it never started (no read reached it: nothing is created), or on a leader.
   */
  async replicaStatus(): Promise<(ReplicaStatus & ReplicaCounters) | null> {
    if (!this.hasTables() || this.leader.role() !== "replica") return null;
    return { ...this.asReplica()!.status(), ...this.meter.counters };
  }

  /** Whether this object's tables exist (a named replica's are made at its first statement: asking creates none). */
  private hasTables(): boolean {
    this.tablesMade ||= hasTables(this.ctx.storage.sql);
    return this.tablesMade;
  }

  /**
   * This object's replication when it is a replica now (its role made at the first
   * call of a new one its name makes a replica), else undefined: `resume` starts its
   * pulling. A replica its storage says follows another leader (a handover's) follows that one.
   */
  private asReplica(): ReplicaRunner | undefined {
    if (this.replica) return this.replica;
    if (this.notReplica) return undefined;
    const meta = this.hasTables() ? this.leader.state() : undefined;
    this.notReplica = meta ? meta.role !== "replica" : !this.named;
    if (this.notReplica) return undefined;
    const name = this.ctx.id.name ?? "";
    const link = RegionLink.ofShard(this.env, name);
    // A leader made a replica by a handover serves its own region (the leaders' region,
    // the first), and its storage names whom it follows (ReplicaCore reads it).
    const identity = this.named ?? { leader: meta?.following ?? name, region: link.region ?? LOCAL_REGION };
    this.replica = new ReplicaRunner({
      name,
      identity,
      storage: this.meter.meteredStorage(this.storagePort),
      alarms: this.ctx.storage,
      leaderOf: (name) => this.meter.meteredLeader(link.shard(name) as unknown as ReplicationLeader),
      settings: this.settings.replication,
      watchdogMs: this.settings.replicaWatchdogMs,
      idleMs: this.settings.replicaIdleMs,
      ended: () => this.subtree.read().sealed,
      watches: { installed: (previous, rowsZxid) => this.replicaInstalled(previous, rowsZxid), held: () => this.watches.held() },
    });
    return this.replica;
  }

  override async alarm(): Promise<void> {
    const replica = this.asReplica();
    if (replica) {
      // A replica's alarm is its watchdog: it reaps nothing (its leader's log does).
      await replica.watchdog();
    } else {
      const { root } = this.subtree.read();
      if (root === undefined) return;
      // Only the leader reaps (its deletes are logged; a replica gets them from its log).
      if (!this.leader.fenced()) await this.reap(root);
      // Holds a lost router left: released once decided; the alarm comes back while any is left.
      if (await this.holds.resolveStale()) await this.setAlarmBy(Date.now() + HOLD_RESOLVE_AFTER_MS);
    }
    // A geo-tier leader's events go out as a sync replica holds them (those a restart left held back among them).
    if (this.holdsUnacknowledged()) await this.pushOnceAcknowledged(this.lastZxid(), new Set(this.watches.pushHostsOwed()));
    else for (const host of this.watches.pushHostsOwed()) await this.push(host);
  }

  /** Deletes expired TTL nodes and emptied containers, then sets the alarm for the next. */
  private async reap(root: string): Promise<void> {
    const tree = this.treeFor(root);
    // Reaping one node can empty its container parent: repeat, boundedly.
    for (let round = 0; round < 64; round++) {
      const paths = tree.reapable(Date.now());
      if (paths.length === 0) break;
      for (const path of paths) {
        while (this.holds.blocks([path])) await this.holds.untilNotHeld([path]);
        // A child created since the scan (or meanwhile) makes the delete fail with NotEmpty: that node stays.
        this.write(SYSTEM_CALLER, undefined, (w) => tree.delete({ op: "delete", path }, w, { skipAcl: true }));
      }
    }
    await this.scheduleReaper();
  }

  /**
   * A replica's request for the log after its zxid (a long poll at the head, up to
   * EDGEKEEPER_REPLICATION_LONG_POLL_MS) or a page of a snapshot, each at most
   * EDGEKEEPER_REPLICATION_PAGE_BYTES. Answered by the leader (and a sealed one);
   * anything else answers `fenced`.
   */
  async replicationRequest(message: LeaderRequest, push?: (page: PullReply<ShardLogEntry>) => Promise<boolean>): Promise<PullReply<ShardLogEntry> | SnapshotReply<ShardLogEntry>> {
    const maxBytes = Math.min(this.settings.replication.pageMaxBytes, Number(message?.maxBytes) > 0 ? Number(message.maxBytes) : Infinity);
    if (typeof message?.replica !== "string" || message.replica === "") throw new KeeperError("BadArguments", "a replication request names its replica");
    if (message.type === "pull") {
      if (!Number.isSafeInteger(message.fromZxid) || message.fromZxid < 0) throw new KeeperError("BadArguments", "a pull starts from a zxid");
      // `push`: the replica's way back, over which a streaming pull sends its pages (leader.ts).
      return this.leader.pull({ ...message, maxBytes }, typeof push === "function" ? async (page) => (await push(page)) === true : undefined);
    }
    if (message.type === "snapshot") return this.leader.snapshotPage({ ...message, maxBytes });
    throw new KeeperError("BadArguments", `unknown replication request ${JSON.stringify((message as { type?: unknown })?.type)}`);
  }

  /**
   * Prepares this shard's part of a multi across shards (cross-shard-txns.ts): checks
   * it as it would apply now and, if it would, logs it, holding what it touches
   * (replication/core/txn-holds.ts), and answers once that is acknowledged (a part
   * prepared already, sent again, too). It applies when the router sends the part
   * with its transaction (every part prepared), or from the alarm once the decider
   * says the multi committed; else it is dropped. Answers the failing op as the multi
   * would (nothing prepared); OperationTimeout for a multi given up here or too old;
   * ConnectionLoss when its logged part is not acknowledged in time; at a copy that
   * does not lead, notLeader; for a path this shard does not serve, moved. The
   * decider's part of a session's retry of a multi that committed is answered the
   * reply its first try stored (naming that try's transaction).
   */
  async prepareWrites(root: string, caller: Caller, txn: CrossShardTxn, part: MultiOp & { cxid?: number }): Promise<Outcome> {
    checkTxn(txn);
    if (!Array.isArray(part?.ops) || part.ops.length === 0 || part.ops.some((op) => typeof op?.path !== "string")) throw new KeeperError("BadArguments", "a prepared part names its ops");
    const ops = part.ops;
    let tree: ShardTree;
    return this.txnParts.prepare(txn, ops, this.holds, {
      answered: () => {
        tree = this.treeFor(root);
        const elsewhere = this.servedElsewhere(tree, ops);
        if (elsewhere) return elsewhere;
        return txn.parts && caller.sessionId !== 0 && part.cxid !== undefined ? this.sessions.replyFor(caller.sessionId, part.cxid) : undefined;
      },
      now: () => Date.now(),
      // Async as logPrepared is: a resend waiting on the first try's acknowledgement is answered after it.
      preparedAgain: async () => this.preparedAnswer(this.lastZxid()),
      givenUp: () => this.givenUp(),
      wouldFail: () => this.wouldFail(tree, caller, ops),
      logPrepared: async () => {
        const outcome = this.write(caller, undefined, (w) => {
          w.txns = [[txn.id, preparedPart(txn, caller, part.cxid, ops, w.now)]];
          return {};
        });
        if (!outcome.ok) return outcome;
        await this.setAlarmBy(Date.now() + HOLD_RESOLVE_AFTER_MS);
        return this.preparedAnswer(outcome.zxid);
      },
    });
  }

  /**
   * A prepared part's answer, once acknowledged (TxnParts.preparedAnswer): unacknowledged,
   * it may yet count as prepared, so its fate is not known (ConnectionLoss), never refused.
   */
  private async preparedAnswer(zxid: number): Promise<Outcome> {
    if ((await this.txnParts.preparedAnswer()) === "prepared") return { ok: true, zxid, value: {} };
    return { ok: false, zxid, error: new KeeperError("ConnectionLoss", "no sync replica acknowledged the prepared part of a multi across shards in time: whether the multi applies is not known yet").toBody() };
  }

  /** Gives up a multi across shards here (its router releases it: a part failed): see TxnParts.release. */
  async releasePart(txnId: string): Promise<void> {
    this.txnParts.release(String(txnId));
  }

  /**
   * What became of a multi across shards whose part here lists the others (this shard
   * decides it), asked by a shard holding a part of it, or by this shard's alarm
   * (TxnParts.resolve). Answered once acknowledged.
   */
  resolveTxn(txnId: string, waiter?: string): Promise<TxnFate> {
    return this.txnParts.resolve(String(txnId), waiter === undefined ? undefined : String(waiter));
  }

  /** Where this shard's part of a multi across shards stands, asked by its decider (TxnParts.partOf). Answered once acknowledged. */
  partOfTxn(txnId: string): Promise<PartState> {
    return this.txnParts.partOf(String(txnId));
  }

  /** Whether this copy holds every row its log says (not mid-snapshot, caught up to what it may show). */
  private rowsWhole(): boolean {
    const meta = this.leader.state();
    return meta === undefined || (meta.snapshot === null && meta.appliedZxid >= meta.readableZxid);
  }

  /** A multi across shards given up here, as the part's answer. */
  private givenUp(): Outcome<never> {
    return { ok: false, zxid: this.lastZxid(), error: new KeeperError("OperationTimeout", "the multi across shards was given up: nothing was applied; send it again").toBody() };
  }

  /** notLeader at a copy that does not lead, moved when a path is not this shard's; else undefined. */
  private servedElsewhere(tree: ShardTree, ops: ReadonlyArray<{ path: string }>): Outcome<never> | undefined {
    if (this.leader.fenced()) return this.notLeader();
    try {
      for (const op of ops) tree.checkRoute(op.path);
    } catch (err) {
      if (err instanceof MovedError) return this.moved();
      throw err;
    }
    return undefined;
  }

  /** The multi's failure, were `ops` applied now (nothing is written); undefined when they would apply. */
  private wouldFail(tree: ShardTree, caller: Caller, ops: MultiWriteOp[]): Outcome<never> | undefined {
    const w: ShardWrite = { zxid: this.lastZxid() + 1, now: Date.now(), caller, events: [], touchesReapable: false };
    try {
      this.ctx.storage.transactionSync(() => {
        this.applyMulti(tree, ops, w);
        throw DRY_RUN;
      });
    } catch (err) {
      if (err === DRY_RUN) return undefined;
      return failedOutcome<never>(err, this.lastZxid());
    }
    return undefined;
  }

  /**
   * Applies the part prepared here of a committed multi across shards, as its caller
   * sent it (answered again with its outcome once applied); OperationTimeout when none
   * is prepared (it was given up). Its holds, which kept it applicable, go with it.
   * The decider's answer names the transaction, so a session's retry answered from its
   * stored reply tells which one committed.
   */
  private applyPrepared(tree: ShardTree, txn: string): { outcome: Outcome; touchesReapable: boolean } {
    const part = this.txns.get(txn);
    if (part?.kind === "applied") return { outcome: part.outcome, touchesReapable: false };
    if (part?.kind !== "prepared") return { outcome: this.givenUp(), touchesReapable: false };
    let touchesReapable = false;
    const outcome = this.write(part.caller, part.cxid, (w) => {
      const results = this.applyMulti(tree, preparedOps(part), w);
      const value = part.txn.parts ? { results, txn } : { results };
      touchesReapable = w.touchesReapable;
      w.txns = [[txn, { kind: "applied", at: w.now, outcome: { ok: true, zxid: w.zxid, value } }]];
      return value;
    });
    if (!outcome.ok && outcome.notLeader !== true) {
      // Its holds should have kept it applicable: the multi is now partly applied. Said loudly, and not tried again.
      console.error(JSON.stringify({ level: "error", msg: "a committed multi across shards failed to apply its part here", txn, error: outcome.error }));
      this.write(SYSTEM_CALLER, undefined, (w) => {
        w.txns = [[txn, { kind: "applied", at: w.now, outcome }]];
        return {};
      });
    }
    return { outcome, touchesReapable };
  }

  /** Gives up a multi across shards here by a logged row: its part prepared here drops with its holds, and none is prepared after. */
  private abortPart(txn: string): void {
    this.write(SYSTEM_CALLER, undefined, (w) => {
      w.txns = [[txn, { kind: "aborted", at: w.now }]];
      return {};
    });
  }

  /** A prepared part's decision (from its decider, via the holds, or its own when it decides): applied or dropped. */
  private async settlePrepared(txn: string, fate: "committed" | "aborted"): Promise<boolean> {
    const { root } = this.subtree.read();
    if (this.txns.prepared(txn) === undefined) {
      // Settled already; or a hold with no part (a check an earlier version held without one), released as decided.
      this.holds.release(txn);
      return true;
    }
    if (root === undefined || this.leader.fenced()) return false;
    if (fate === "aborted") this.abortPart(txn);
    else if (this.applyPrepared(this.treeFor(root), txn).touchesReapable) await this.scheduleReaper();
    return this.txns.prepared(txn) === undefined;
  }

  /**
   * A handover's view of this copy (core/handover.ts): its role, epochs, applied zxid,
   * and whether it is mid-snapshot. Asking a replica counts as a read: it starts pulling
   * (a move's target catches up).
   */
  async handoverState(): Promise<CopyState> {
    await this.asReplica()?.resume();
    const meta = this.leader.state();
    return { role: meta?.role ?? "replica", epoch: meta?.epoch ?? 0, promisedEpoch: meta?.promisedEpoch ?? 0, appliedZxid: meta?.appliedZxid ?? 0, snapshot: (meta?.snapshot ?? null) !== null };
  }

  /**
   * A handover's seal of this leader for `epoch` (LeaderLog.seal): its last zxid, after
   * which it writes nothing. "holding" while it holds a part of a multi across shards
   * (a move waits the second or so for it to settle rather than hand it over): the
   * handover tries again.
   */
  async seal(epoch: number): Promise<number | Fenced | "holding"> {
    if (this.holds.any()) return "holding";
    return this.leader.seal(checkedEpoch(epoch));
  }

  /**
   * A handover's last step here, its target: once this replica has applied `sealedZxid`
   * (waiting at most `waitMs`), it leads `epoch` (LeaderLog.takeOver), acknowledging
   * through `syncReplicas` (a geo-tier shard's; none: regional), and stops pulling.
   */
  async takeOver(epoch: number, sealedZxid: number, waitMs: number, syncReplicas: string[] = []): Promise<"led" | "behind" | Fenced> {
    const replica = this.asReplica();
    if (replica) await replica.readiness({ minZxid: Math.max(0, Number(sealedZxid) || 0), waitMs: Math.min(Math.max(0, Number(waitMs) || 0), MAX_TAKE_OVER_WAIT_MS) });
    const led = this.leader.takeOver(checkedEpoch(epoch), Number(sealedZxid), checkedCopies(syncReplicas));
    if (led === "behind" || "kind" in led) return led;
    await this.leadsNow();
    return "led";
  }

  /** This copy, a replica until now, leads: it stops pulling, counts its writes' origins, and reaps its TTL nodes and containers. */
  private async leadsNow(): Promise<void> {
    this.replica?.retire();
    this.replica = undefined;
    this.writeOrigins()?.movedHere();
    await this.scheduleReaper();
  }

  /** Makes this leader's shard geo-tier, acknowledging a write once one of `syncReplicas` holds it, or regional (none): LeaderLog.setSyncReplicas. */
  async setSyncReplicas(syncReplicas: string[]): Promise<true | Fenced> {
    return this.leader.setSyncReplicas(checkedCopies(syncReplicas));
  }

  /** A failover's first step at a sync replica (LeaderLog.promise): from now on it applies nothing from a leader of an earlier epoch. */
  async promise(epoch: number): Promise<CopyState | Fenced> {
    return this.leader.promise(checkedEpoch(epoch));
  }

  /** A failover's promotion of this sync replica (LeaderLog.promote): it leads `epoch`, acknowledging through `syncReplicas`. */
  async promote(epoch: number, syncReplicas: string[]): Promise<"led" | Fenced> {
    const led = this.leader.promote(checkedEpoch(epoch), checkedCopies(syncReplicas));
    if ("kind" in led) return led;
    await this.leadsNow();
    return "led";
  }

  /**
   * A failover done, told to this copy (LeaderLog.stepDown): it follows `leader`, and
   * what its rows show past `keepThrough` is dropped for a snapshot, with the watch
   * events of those writes held back here (no client was told of them). Answers the
   * zxid it had applied.
   */
  async stepDown(leader: string, epoch: number, keepThrough: number): Promise<{ appliedZxid: number } | Fenced> {
    if (typeof leader !== "string" || leader === "") throw new KeeperError("BadArguments", "stepDown names the leader to follow");
    if (!Number.isSafeInteger(keepThrough) || keepThrough < 0) throw new KeeperError("BadArguments", "stepDown names the zxid kept (a whole number, 0 or more)");
    const told = this.ctx.storage.transactionSync(() => {
      const answer = this.leader.stepDown(leader, checkedEpoch(epoch), keepThrough);
      if (!("kind" in answer)) this.watches.dropQueuedAfter(keepThrough);
      return answer;
    });
    if ("kind" in told) return told;
    // A replica's pull loop follows the leader it began with: a new one follows the leader named now.
    this.replica?.retire();
    this.replica = undefined;
    this.notReplica = false;
    await this.asReplica()?.resume();
    return told;
  }

  /** Whether this sync replica vouches that no copy leads after `epoch` (LeaderLog.vouches): a geo-tier leader's read waits for one. */
  async vouch(epoch: number): Promise<boolean> {
    return this.leader.vouches(Number(epoch));
  }

  /**
   * A failover's second opinion, asked of a sync replica: how long since it last heard
   * from its leader (null: not since this instance started), or null when it is no
   * replica. Asking counts as a read: it keeps pulling.
   */
  async leaderContact(): Promise<{ msSinceContact: number | null } | null> {
    const replica = this.asReplica();
    if (!replica) return null;
    await replica.resume();
    return { msSinceContact: replica.msSinceContact() };
  }

  /** A handover abandoned: this leader, sealed for `epoch`, leads it itself (LeaderLog.reopen). */
  async reopen(epoch: number): Promise<"led" | Fenced> {
    const led = this.leader.reopen(checkedEpoch(epoch));
    return "kind" in led ? led : "led";
  }

  /** A handover done: this sealed leader follows `leader`, which leads `epoch`, as its region's replica (LeaderLog.follow). */
  async follow(leader: string, epoch: number): Promise<true | Fenced> {
    if (typeof leader !== "string" || leader === "") throw new KeeperError("BadArguments", "follow names the leader to follow");
    const told = this.leader.follow(leader, checkedEpoch(epoch));
    if (told !== true) return told;
    this.notReplica = false;
    // It pulls from its new leader at once: the watches hosts left here fire as it applies.
    await this.asReplica()?.resume();
    // A geo-tier leader's events held back go out now: its successor led only once it held them.
    this.pushTo(this.watches.pushHostsOwed());
    return told;
  }

  private notLeader<T>(): Outcome<T> {
    const error = new KeeperError("SystemError", "this object is not its shard's leader: send the request to the leader");
    return { ok: false, zxid: this.lastZxid(), notLeader: true, error: error.toBody() };
  }

  private moved<T>(): Outcome<T> {
    return { ok: false, zxid: this.lastZxid(), moved: true, error: new KeeperError("SystemError", "path is served by another shard").toBody() };
  }

  private deferred<T>(): Outcome<T> {
    const error = new KeeperError("Throttled", "not run: the batch's answer reached EDGEKEEPER_MAX_ANSWER_BYTES; send it again");
    return { ok: false, zxid: this.lastZxid(), deferred: true, error: error.toBody() };
  }

  /**
   * Pushes a host what it is owed, one push at a time per host. A failed push is
   * retried by the alarm; until then the notifications also ride on the host's
   * next hostExecute answer.
   */
  private async push(host: string): Promise<void> {
    if (this.pushing.has(host)) {
      this.pushing.set(host, true);
      return;
    }
    this.pushing.set(host, false);
    try {
      do {
        this.pushing.set(host, false);
        const pending = this.pendingFor(host);
        if (pending.length === 0) break;
        const acked = await this.hostStub(host).deliver(this.ctx.id.toString(), pending);
        this.watches.acknowledge(host, acked);
      } while (this.pushing.get(host));
    } catch (err) {
      console.warn(`watch push to ${host} failed; retrying from the alarm`, err);
      await this.setAlarmBy(Date.now() + PUSH_RETRY_MS);
    } finally {
      this.pushing.delete(host);
    }
  }

  private hostStub(host: string): WatchDeliveryTarget {
    if (!this.env.SESSION_HOST) throw new KeeperError("SystemError", "no SESSION_HOST binding to deliver watch events to");
    return RegionLink.ofShard(this.env, this.ctx.id.name ?? "").hostByName(host) as unknown as WatchDeliveryTarget;
  }

  /** Sets the alarm to `at` unless one is set sooner. */
  private async setAlarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /** Sets the alarm for the next TTL expiry or container reap, if sooner than the one set. */
  private async scheduleReaper(): Promise<void> {
    const now = Date.now();
    const candidates: number[] = [];
    const ttl = this.store.nextTtlExpiry();
    if (ttl !== undefined) candidates.push(ttl);
    if (this.store.emptiedContainers().length > 0) candidates.push(now + this.containerReapMs);
    if (candidates.length === 0) return;
    await this.setAlarmBy(Math.max(Math.min(...candidates), now));
  }

  /** Runs one request; a read charges `budget` as it reads (and throws AnswerOverBudget past it). */
  private executeOne(tree: ShardTree, caller: Caller, request: ShardRequest, budget: AnswerBudget): { outcome: Outcome; touchesReapable: boolean } {
    try {
      for (const path of pathsOf(request)) tree.checkRoute(path);
    } catch (err) {
      if (err instanceof MovedError) return { outcome: this.moved(), touchesReapable: false };
      throw err;
    }
    try {
      switch (request.op) {
        case "create":
        case "delete":
        case "setData":
        case "setACL":
        case "multi": {
          if (caller.sessionId !== 0 && request.cxid !== undefined) {
            const earlier = this.sessions.replyFor(caller.sessionId, request.cxid);
            if (earlier) return { outcome: earlier, touchesReapable: false };
          }
          // A shard's part of a multi across shards, every part prepared: it applies.
          if (request.op === "multi" && request.txn) return this.applyPrepared(tree, String(request.txn.id));
          let touchesReapable = false;
          const outcome = this.write(caller, request.cxid, (w) => {
            const value = this.applyWrite(tree, request, w);
            touchesReapable = w.touchesReapable;
            return value;
          }, request.op === "multi" && request.ops.length === 0);
          // A write's answer is Stats and paths, one per op: small, and already committed.
          budget.add(RESULT_OVERHEAD_BYTES * (request.op === "multi" && Array.isArray(request.ops) ? Math.max(1, request.ops.length) : 1));
          return { outcome, touchesReapable };
        }
        default:
          return { outcome: { ok: true, zxid: this.lastZxid(), value: this.read(tree, caller, request, budget) }, touchesReapable: false };
      }
    } catch (err) {
      if (err instanceof KeeperError) return { outcome: { ok: false, zxid: this.lastZxid(), error: err.toBody() }, touchesReapable: false };
      throw err;
    }
  }

  /**
   * Runs one write in a transaction with the next zxid, logged as the replication
   * log's entry (the rows it wrote, whole, and the session's commit record) with its
   * events for watches. A KeeperError rolls it back; it is then logged as its commit
   * record only when a session may retry its cxid (else it takes no zxid). With
   * `readOnly`, nothing is written and no zxid taken. `closing`: the session's closure
   * is its commit record. An object that is not the leader writes nothing.
   */
  private write<T>(caller: Caller, cxid: number | undefined, apply: (w: ShardWrite) => T, readOnly = false, closing = false): Outcome<T> {
    if (readOnly) {
      const w: ShardWrite = { zxid: this.lastZxid(), now: Date.now(), caller, events: [], touchesReapable: false };
      return { ok: true, zxid: w.zxid, value: apply(w) };
    }
    let committed: GuardedChange[] = [];
    const owed = new Set<string>();
    let done;
    try {
      done = this.leader.sequence((txn, zxid, epoch) => {
        const w: ShardWrite = { zxid, now: Date.now(), caller, events: [], touchesReapable: false };
        const { value, written } = this.store.tracking(() => apply(w));
        if (w.subtree) txn.put("subtree", SUBTREE_KEY, w.subtree);
        committed = w.events.map(({ event, path, acl }) => ({ zxid, event, path, acl }));
        for (const change of committed) this.fireWatches(change, owed);
        this.watches.writeAcknowledged();
        const effects: ShardLogEntry["effects"] = [...written].map(([path, row]) => ({ table: "znode", key: path, row: row ?? null }));
        if (w.subtree) effects.push({ table: "subtree", key: SUBTREE_KEY, row: w.subtree });
        for (const [key, row] of w.txns ?? []) {
          if (row) txn.put("txn", key, row);
          else txn.delete("txn", key);
          effects.push({ table: "txn", key, row });
        }
        return this.logged(txn, { ok: true, zxid, value }, effects, w.events, caller.sessionId, cxid, epoch, closing ? w.now : undefined);
      });
    } catch (err) {
      const failed = failedOutcome<T>(err, this.lastZxid());
      if (caller.sessionId === 0 || cxid === undefined) return failed;
      // Its rows rolled back; its reply is logged at its own zxid, so a retry (here or at a later leader) gets it.
      done = this.leader.sequence((txn, zxid, epoch) => this.logged(txn, { ...failed, zxid }, [], [], caller.sessionId, cxid, epoch, undefined));
    }
    if (done.kind === "fenced") return this.notLeader();
    this.writeOrigins()?.noteWrite(caller.region);
    this.waiters.notify(committed);
    if (this.leader.geo) void this.pushOnceAcknowledged(done.value.zxid, owed);
    else this.pushTo(owed);
    return done.value;
  }

  /** Fires the watches a committed change concerns (watch-registry.ts), adding their hosts to `owed`. Call inside its transaction. */
  private fireWatches(change: GuardedChange, owed: Set<string>): void {
    for (const host of this.watches.fire(change)) {
      owed.add(host);
      this.hosts.owes(host);
    }
  }

  /** A geo-tier leader's pushes of a write's events, once a sync replica holds it (if it does in time: else later pushes carry them). */
  private async pushOnceAcknowledged(zxid: number, hosts: Set<string>): Promise<void> {
    if (hosts.size === 0) return;
    if (await this.leader.whenAcked(zxid, GEO_ACK_WAIT_MS)) this.pushTo(hosts);
    else await this.setAlarmBy(Date.now() + PUSH_RETRY_MS);
  }

  /** Pushes each host that takes pushes what it is owed. */
  private pushTo(hosts: Iterable<string>): void {
    for (const host of hosts) if (this.hosts.mode(host) ?? this.watches.takesPush(host)) void this.push(host);
  }

  /**
   * An entry put in the log (called in its transaction). A replica's, applied from its
   * leader: fires its watches from the entry's events, as the leader fired its own in
   * the write's; none while it replays a snapshot's range (replicaInstalled fires those
   * by the rows). A leader's own: nothing more.
   */
  private replicaApplied(entry: ShardLogEntry): void {
    // A leader's own entries fired their watches in the write; a replica's runner applies its leader's.
    if (!this.replica || this.replica.replayingSnapshot) return;
    for (const { event, path, acl } of entry.events ?? []) this.fireWatches({ zxid: entry.zxid, event, path, acl }, this.owedByApply);
    this.watches.writeAcknowledged();
    this.pushAfterCommit();
  }

  /**
   * A replica installed a snapshot and its replay reached the zxid every page's rows
   * show (called in that transaction): each watch it holds fires by what the rows show
   * changed since `previousZxid`, the zxid it had applied before (watch-catch-up.ts;
   * its change log starts again empty).
   */
  private replicaInstalled(previousZxid: number, rowsZxid: number): void {
    // Its first snapshot: there was no state to compare with (a watch set before it is armed from the snapshot's state on).
    if (previousZxid === 0) return;
    const owedPerHost = new Map<string, GuardedChange[]>();
    const held = this.watches.every();
    const owed = this.catchUp.owed(held.map(({ path, kind }) => ({ path, kind, sinceZxid: previousZxid })), { trimmedZxid: Number.POSITIVE_INFINITY, appliedZxid: rowsZxid });
    held.forEach(({ host, path, kind }, i) => {
      const { events, armed } = owed[i]!;
      if (!armed) this.watches.remove(host, path, kind);
      if (!owedPerHost.has(host)) owedPerHost.set(host, []);
      owedPerHost.get(host)!.push(...events);
    });
    for (const [host, changes] of owedPerHost) {
      this.queueOwed(host, changes);
      if (changes.length > 0) this.owedByApply.add(host);
    }
    this.pushAfterCommit();
  }

  /** Queues `changes` for the host, in zxid order, each change once (two watches of the host may owe the same), none of `alreadyQueued` again. */
  private queueOwed(host: string, changes: GuardedChange[], alreadyQueued: readonly WatchNotification[] = []): void {
    const queued = new Set(alreadyQueued.map((n) => `${n.zxid} ${n.event} ${n.path}`));
    for (const change of [...changes].sort((a, b) => a.zxid - b.zxid)) {
      const key = `${change.zxid} ${change.event} ${change.path}`;
      if (queued.has(key)) continue;
      queued.add(key);
      this.watches.enqueue(host, change);
      this.hosts.owes(host);
    }
  }

  /** Pushes the hosts a replica's transaction made owed once it commits (a microtask runs after the synchronous transaction). */
  private pushAfterCommit(): void {
    if (this.owedByApply.size === 0) return;
    queueMicrotask(() => {
      const owed = [...this.owedByApply];
      this.owedByApply.clear();
      this.pushTo(owed);
    });
  }

  /**
   * A write's log entry: its effects plus the session's commit record (its reply, or
   * its closure when `closedAt` is given), stored here as it is logged, and its events
   * (which a replica applies to its own change log).
   */
  private logged<T>(txn: StorageTxn, outcome: Outcome<T>, effects: ShardLogEntry["effects"], events: LoggedEvent[], session: number, cxid: number | undefined, epoch: number, closedAt: number | undefined): { value: Outcome<T>; entry: ShardLogEntry } {
    const record: SessionRecord | undefined =
      closedAt !== undefined ? { session, closedAt } : session !== 0 && cxid !== undefined ? { session, cxid, reply: outcome } : undefined;
    if (record) {
      txn.put("session", sessionKey(record), record);
      effects.push({ table: "session", key: sessionKey(record), row: record });
    }
    const kind = closedAt !== undefined ? "close-session" : "write";
    return { value: outcome, entry: sizedEntry({ zxid: outcome.zxid, epoch, kind, session, cxid: cxid ?? 0, effects, reply: outcome, events }) };
  }

  private applyWrite(tree: ShardTree, request: ShardRequest, w: WriteContext): unknown {
    switch (request.op) {
      case "create":
        return tree.create(request, w);
      case "delete":
        tree.delete(request, w);
        return {};
      case "setData":
        return { stat: tree.setData(request, w) };
      case "setACL":
        return { stat: tree.setAcl(request, w) };
      case "multi":
        return { results: this.applyMulti(tree, request.ops, w) };
      default:
        throw new KeeperError("Unimplemented", `unknown write operation ${JSON.stringify((request as { op: unknown }).op)}`);
    }
  }

  private applyMulti(tree: ShardTree, ops: MultiWriteOp[], w: WriteContext): MultiItemResult[] {
    if (ops.length > this.limits.maxMultiOps) throw new KeeperError("BadArguments", `a multi may hold at most ${this.limits.maxMultiOps} operations`);
    const results: MultiItemResult[] = [];
    ops.forEach((op, index) => {
      try {
        results.push(this.applyMultiItem(tree, op, w));
      } catch (err) {
        if (!(err instanceof KeeperError)) throw err;
        const perOp = ops.map((_, i): MultiItemResult => ({
          op: "error",
          error: i === index ? err.toBody() : errorBody(i < index ? "Ok" : "RuntimeInconsistency"),
        }));
        throw new MultiFailure(err, perOp);
      }
    });
    return results;
  }

  private applyMultiItem(tree: ShardTree, op: MultiWriteOp, w: WriteContext): MultiItemResult {
    switch (op.op) {
      case "create":
        return { op: "create", ...tree.create(op, w) };
      case "delete":
        tree.delete(op, w);
        return { op: "delete" };
      case "setData":
        return { op: "setData", stat: tree.setData(op, w) };
      case "check":
        tree.check(op, w.caller);
        return { op: "check" };
      default:
        throw new KeeperError("Unimplemented", `${JSON.stringify((op as { op: unknown }).op)} cannot be part of a multi`);
    }
  }

  private read(tree: ShardTree, caller: Caller, request: ShardRequest, budget: AnswerBudget): unknown {
    switch (request.op) {
      case "getData":
        return tree.getData(request.path, caller, budget);
      case "exists":
        return { stat: tree.exists(request.path) };
      case "getChildren":
        return tree.getChildren(request.path, caller, budget);
      case "getAllChildrenNumber":
        return { count: tree.getAllChildrenNumber(request.path, caller) };
      case "getEphemerals":
        return { paths: tree.getEphemerals(request.prefix, caller, budget) };
      case "getACL":
        return tree.getAcl(request, caller);
      case "check":
        tree.check(request, caller);
        return {};
      case "multiRead":
        if (request.ops.length > this.limits.maxMultiOps) throw new KeeperError("BadArguments", `a multiRead may hold at most ${this.limits.maxMultiOps} operations`);
        return {
          results: request.ops.map((op): MultiItemResult => {
            try {
              // Past the budget the whole multiRead is over (AnswerOverBudget is not caught here).
              if (op.op === "getData") return { op: "getData", ...tree.getData(op.path, caller, budget) };
              if (op.op === "getChildren") return { op: "getChildren", ...tree.getChildren(op.path, caller, budget) };
              throw new KeeperError("Unimplemented", `${JSON.stringify((op as { op: unknown }).op)} cannot be part of a multiRead`);
            } catch (err) {
              if (err instanceof KeeperError) return { op: "error", error: err.toBody() };
              throw err;
            }
          }),
        };
      default:
        throw new KeeperError("Unimplemented", `unknown operation ${JSON.stringify((request as { op: unknown }).op)}`);
    }
  }
}

/** An event as callers see it: its ACL stays inside the service. */
function withoutAcl({ zxid, event, path }: GuardedChange): ChangeEvent {
  return { zxid, event, path };
}

/** Thrown to roll back a dry run (wouldFail). */
const DRY_RUN = new Error("dry run");

/** BadArguments unless `txn` names a transaction (an id, its start, its decider). */
function checkTxn(txn: CrossShardTxn): void {
  const partsNamed = txn?.parts === undefined || (Array.isArray(txn.parts) && txn.parts.every((part) => typeof part === "string"));
  if (typeof txn?.id !== "string" || typeof txn.decider !== "string" || !Number.isFinite(txn.startedAt) || !partsNamed) throw new KeeperError("BadArguments", "a multi across shards names its transaction");
}

/** A write's KeeperError (a multi's with its per-op results) as its outcome at `zxid`; anything else is rethrown. */
function failedOutcome<T>(err: unknown, zxid: number): Outcome<T> {
  if (err instanceof MultiFailure) return { ok: false, zxid, error: err.error.toBody(), results: err.results };
  if (err instanceof KeeperError) return { ok: false, zxid, error: err.toBody() };
  throw err;
}

/**
 * A replica's log table that tells `applied` of each entry put there (the replica
 * applying its leader's entry: snapshots put no log rows), in that transaction.
 */
function firingOnApply(table: SqlLogTable, applied: (entry: ShardLogEntry) => void): SqlLogTable {
  return {
    sizes: (after, limit) => table.sizes(after, limit),
    span: (after) => table.span(after),
    get: (key) => table.get(key),
    put: (key, row) => {
      table.put(key, row);
      applied(row as ShardLogEntry);
    },
    delete: (key) => table.delete(key),
    scan: (after, limit) => table.scan(after, limit),
    deleteAll: () => table.deleteAll(),
  };
}

/** How long a takeOver may wait for its replica to apply the sealed zxid. */
const MAX_TAKE_OVER_WAIT_MS = 30_000;

/** An epoch a handover names: a whole number above 0; BadArguments otherwise. */
function checkedEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new KeeperError("BadArguments", "a handover names an epoch (a whole number, 1 or more)");
  return epoch;
}

/** A list of copies a directory names (sync replicas): object names; BadArguments otherwise. */
function checkedCopies(copies: unknown): string[] {
  if (!Array.isArray(copies) || copies.some((copy) => typeof copy !== "string" || copy === "")) throw new KeeperError("BadArguments", "sync replicas are named by their objects' names");
  return copies as string[];
}

/** A session host as a caller names it: BadArguments otherwise. */
function checkWatchHost(host: WatchHost): void {
  if (typeof host?.name !== "string" || host.name === "" || typeof host.push !== "boolean") throw new KeeperError("BadArguments", "a watch host is { name, push }");
}

/** Whether a request writes (a read replica refuses it); `check` alone is a read. */
function writes(request: ShardRequest): boolean {
  return WRITE_OPS.has(request.op) && request.op !== "check";
}

function notReadOnly(zxid: number, request: ShardRequest): Outcome {
  return { ok: false, zxid, error: new KeeperError("NotReadOnly", "a read replica takes reads only: write at the shard's leader", pathOf(request)).toBody() };
}

function errorBody(name: "Ok" | "RuntimeInconsistency"): KeeperErrorBody {
  const { code, message } = KEEPER_ERRORS[name];
  return { name, code, message };
}

/** The path a request names, for its error (none for multi, multiRead and getEphemerals). */
function pathOf(request: ShardRequest): string | undefined {
  return "path" in request && typeof request.path === "string" ? request.path : undefined;
}

/** The paths that decide whether this shard serves a request (routingPath of each op). */
function pathsOf(request: ShardRequest): string[] {
  if (request.op === "multi" || request.op === "multiRead") return request.ops.map(routingPath);
  if (request.op === "getEphemerals") return [];
  return [routingPath(request)];
}
