/**
 * Routes requests of one namespace to the shards that serve their paths, by the
 * longest mounted prefix (used by the Worker and by session hosts). The mount
 * table is cached briefly per isolate; a shard that no longer serves a path answers
 * `moved`, and the request is retried with a fresh table, so a stale cache costs a
 * round trip, never a wrong answer.
 */
import {
  type Acl,
  type Caller,
  type CrossShardTxn,
  type MultiOp,
  type ChangeEvent,
  type ChangeScope,
  KeeperError,
  type Outcome,
  type ResultOf,
  type ShardRequest,
  type WatchKind,
  type WatchNotification,
  limitsFromEnv,
  routingPath,
} from "../../protocol/index.ts";
import { RegionLink } from "../base/region-link.ts";
import { type EdgekeeperEnv, shardObjectName } from "../env.ts";
import { Logger, errorField, logLevelOf } from "../log.ts";
import type { ReplicaReadAt } from "../replication/replica-runner.ts";
import { copyObjectName } from "../replication/replica-name.ts";
import type { HostWatch, ReplicaHostAnswer, ReplicaReadAnswer, SyncHostAnswer, WatchHost } from "../shard/shard-do.ts";
import { type Mount, type MountTable, leaderObjectName, mountFor, mountsBelow } from "./mount-table.ts";
import { MountTableCache, type TableRequest } from "./mount-table-cache.ts";
import { type ReadContext, type ReadPlacement, highestZxidShown, sameReadMode } from "./read-routing.ts";
import { lostCall, untilServed } from "./shard-retry.ts";
import { type CrossShardCalls, ELSEWHERE, planCrossShardMulti, runCrossShardMulti } from "./cross-shard-multi.ts";
import { type KeepAlive, SharedRpcs } from "./shared-rpc.ts";

/**
 * An answer saying to ask elsewhere, again with a fresh table: the shard does not
 * serve the path (`moved`), or the copy asked does not lead it (`notLeader`: a move
 * of its leader sealed it, and the table will name the new leader once it leads).
 * Neither ran the request.
 */
const isElsewhere = (outcome: Outcome | undefined): boolean => outcome !== undefined && !outcome.ok && (outcome.moved === true || outcome.notLeader === true);

/** The shard's RPC surface as the router uses it (Outcome's `unknown` value defeats Rpc's inference). */
interface ShardStub {
  execute(root: string, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]>;
  closeSession(root: string, sessionId: number): Promise<Outcome>;
  waitForChange(root: string, reader: Caller, path: string, scope: ChangeScope, afterZxid: number, timeoutMs: number): Promise<Outcome<{ changed: boolean; zxid: number }>>;
  changesFor(root: string, reader: Caller, path: string, scope: ChangeScope, zxid: number): Promise<Outcome<ChangesAnswer>>;
  hostExecute(root: string, host: WatchHost, ackSeq: number, caller: Caller, requests: ShardRequest[]): Promise<{ outcomes: Outcome[]; notifications: WatchNotification[] }>;
  addWatch(root: string, host: WatchHost, caller: Caller, path: string, mode: "persistent" | "recursive"): Promise<Outcome>;
  removeWatches(root: string, host: string, path: string, kind?: WatchKind): Promise<Outcome>;
  replicaRead(root: string, caller: Caller, requests: ShardRequest[], at: ReplicaReadAt): Promise<ReplicaReadAnswer>;
  replicaHostExecute(root: string, host: WatchHost, ackSeq: number, caller: Caller, requests: ShardRequest[], at: ReplicaReadAt): Promise<ReplicaHostAnswer>;
  syncHost(root: string, host: WatchHost, ackSeq: number, minZxid: number, watches: HostWatch[], waitMs: number): Promise<SyncHostAnswer>;
  prepareWrites(root: string, caller: Caller, txn: CrossShardTxn, part: MultiOp): Promise<Outcome>;
  releasePart(txnId: string): Promise<void>;
}

/** A replica placement (read-routing.ts). */
type AtReplica = Extract<ReadPlacement, { at: "replica" }>;

/** Which copy of a shard: its leader, or its replica in a region. */
export type ShardCopy = { at: "leader" } | { at: "replica"; region: string };

/** A watch a request set, as an answer of its shard shows it. */
export interface WatchSet {
  path: string;
  kind: WatchKind;
}

/**
 * A session host's home per shard (session-homes.ts): the copy its sequential reads
 * and its watches go to, and the order in which the shard's answers reach its
 * sessions (no answer before the events of its change).
 */
export interface HostHomeRouting {
  /** The replica placement to serve these reads at (its home), or undefined: the leader. */
  readAt(mount: Mount, placement: AtReplica): Promise<AtReplica | undefined>;
  /** Home did not answer a read in time: the shard's home becomes the leader if the host's watches need it to. */
  leave(mount: Mount): Promise<void>;
  /** How many times the shard's home has moved: taken when a request is sent, given back to `release`. */
  generation(mount: Mount): number;
  /**
   * Resolves once an answer of the shard showing `zxid`, from `from`, may reach the
   * session; `watches`: those its requests set, left at `from` if `leftAtFrom`, sent
   * when home's generation was `generation`.
   */
  release(mount: Mount, from: ShardCopy["at"], zxid: number, watches: readonly WatchSet[], leftAtFrom: boolean, generation: number): Promise<void>;
  /** The copy that holds the host's watches on the shard now. */
  watchesAt(mount: Mount): ShardCopy;
}

/**
 * How a session host takes part in a request: `ackSeqFor` says what it has processed
 * of each shard's notifications (keyed by shardKey), `receive` takes what a shard
 * answered it is still owed (called on every answer, also one that said `moved`, before
 * `recordWatches`; the answer waits for it), `beforeSend` as for `execute`, `reads`
 * the session's read mode and bookmark.
 */
export interface HostCall {
  host: WatchHost;
  ackSeqFor(shardKey: string): number;
  receive(shardKey: string, notifications: WatchNotification[]): void | Promise<void>;
  beforeSend?: (mount: Mount) => void;
  /** The session's read mode and bookmark, advanced by every answer (read-routing.ts). */
  reads?: ReadContext;
  /** The host's homes (session-homes.ts); without, every request goes to the leader. */
  homes?: HostHomeRouting;
  /**
   * Records for the session the watches its requests set, as their answers show, as
   * soon as the answers arrive: before `homes` may move the shard's home, which takes
   * the watches the host's sessions hold.
   */
  recordWatches?: (mount: Mount, outcomes: readonly Outcome[]) => void;
}

/** Events after a zxid, as a shard's change log answers: `oldest` is the oldest it still holds. */
export interface ChangesAnswer {
  events: ChangeEvent[];
  oldest?: number;
  last: number;
}

/** The isolate's mount tables, per namespace. */
const tables = new MountTableCache();
/** The replica placement that served an answer (a leader's answers have none). */
const servedPlacements = new WeakMap<Outcome, ReadPlacement>();

/** The isolate's shared RPCs of `execute`, keyed by namespace, shard and caller (shared-rpc.ts). */
let sharedRpcs: SharedRpcs | undefined;

export class ShardRouter {
  private readonly env: EdgekeeperEnv;
  private readonly namespace: string;
  private readonly log: Logger;
  /** Set when `execute` shares RPCs (shared-rpc.ts): the Worker's ctx.waitUntil. */
  private readonly sharedRpcsKeepAlive: KeepAlive | undefined;
  /** How calls reach the directory and the shards, from the caller's region. */
  private readonly link: RegionLink;
  /** The caller's read mode and bookmark, when it has them (a request of the HTTP API). */
  protected readonly reads: ReadContext | undefined;
  /** How this router's requests take the mount table. */
  private readonly tableRequest: TableRequest;

  /**
   * `reads`: the caller's read mode and bookmark (read-routing.ts). `keepAlive` (the
   * Worker's ctx.waitUntil): the mount table is refreshed in the background once old
   * (mount-table-cache.ts), and, unless EDGEKEEPER_SHARED_RPCS=0, `execute` shares
   * RPCs with the isolate's concurrent requests to the same shard (shared-rpc.ts).
   * Without it, the table is fetched in the request's way, and one RPC each.
   */
  constructor(env: EdgekeeperEnv, namespace: string, link = RegionLink.at(env), reads?: ReadContext, keepAlive?: KeepAlive) {
    this.env = env;
    this.namespace = namespace;
    this.log = new Logger(logLevelOf(env));
    this.link = link;
    this.reads = reads;
    this.sharedRpcsKeepAlive = env.EDGEKEEPER_SHARED_RPCS === "0" ? undefined : keepAlive;
    this.tableRequest = {
      fetch: () => this.directory().table(),
      keepAlive,
      onBackgroundError: (err) => this.log.warn("mount table refresh failed", { namespace, error: errorField(err) }),
    };
  }

  /**
   * One RPC to a shard's leader, logged: at debug its ops, shard, latency and the
   * errors its ops were answered with; at error a failure of the call itself (then
   * rethrown). Its answers advance the caller's bookmark (read-routing.ts).
   */
  private async logged<T>(mount: Mount, requests: readonly ShardRequest[], rpc: (shard: ShardStub) => Promise<T>, outcomes: (answer: T) => Outcome[], reads: ReadContext | undefined): Promise<T> {
    const started = Date.now();
    const fields = () => ({ namespace: this.namespace, shard: mount.shard, ops: requests.map((r) => r.op), ms: Date.now() - started });
    let answer: T;
    try {
      answer = await rpc(this.shard(mount));
      if (this.log.enabled("debug")) {
        const errors = outcomes(answer).flatMap((o) => (o.ok || o.moved ? [] : [o.error.name]));
        this.log.debug("shard call", { ...fields(), ...(errors.length > 0 ? { errors } : {}) });
      }
    } catch (err) {
      this.log.error("shard call failed", { ...fields(), error: errorField(err) });
      throw lostCall(err);
    }
    reads?.answeredByLeader(mount, requests, outcomes(answer));
    return answer;
  }

  private directory() {
    return this.link.directory(this.namespace);
  }

  /** The namespace's mount table: the isolate's copy, refreshed in the background once old (mount-table-cache.ts); `fresh`: the directory's. */
  async table(fresh = false): Promise<MountTable> {
    return tables.get(this.namespace, this.tableRequest, fresh);
  }

  /** Mounts a new subtree on a shard of its own, as `caller` (admin; see DirectoryDO.mount). */
  async mount(caller: Caller, prefix: string, acl?: Acl[]) {
    const outcome = await this.directory().mount(this.namespace, prefix, caller, acl);
    if (outcome.ok) tables.set(this.namespace, outcome.table);
    return outcome;
  }

  /** Unmounts an empty mounted subtree, as `caller` (admin; see DirectoryDO.unmount). */
  async unmount(caller: Caller, prefix: string) {
    const outcome = await this.directory().unmount(prefix, caller);
    if (outcome.ok) tables.set(this.namespace, outcome.table);
    return outcome;
  }

  private shard(mount: Mount): ShardStub {
    return this.copy(mount, { at: "leader" });
  }

  /**
   * Reads at the replica a placement names, through its read API: the outcomes if it
   * was ready, else undefined (also when the call failed: the leader serves instead).
   */
  private async atReplica(mount: Mount, placement: Extract<ReadPlacement, { at: "replica" }>, caller: Caller, requests: ShardRequest[]): Promise<Outcome[] | undefined> {
    try {
      const answer = await this.copy(mount, placement).replicaRead(mount.prefix, caller, requests, readAtOf(placement));
      return answer.ready ? answer.outcomes : undefined;
    } catch (err) {
      this.log.warn("replica read failed; reading at the leader", { namespace: this.namespace, shard: mount.shard, region: placement.region, error: errorField(err) });
      return undefined;
    }
  }

  /**
   * A multi whose paths lie on several shards, every shard's part prepared, then
   * sent to apply: the deciding shard's by `write`, each other's by `write` to its
   * shard's leader now (cross-shard-multi.ts); undefined when one shard serves it all. Run again
   * from a fresh table while a shard answers that it does not serve (moved, or not
   * the leader) before anything committed, as `execute`. `beforeSend` runs before a
   * part is prepared, as before each write: a prepared part may apply from its shard's
   * alarm, its ephemerals then made with no write of the router's.
   */
  private async acrossShards(caller: Caller, multi: MultiOp, write: (mount: Mount, part: MultiOp) => Promise<Outcome>, beforeSend?: (mount: Mount) => void): Promise<Outcome | undefined> {
    try {
      if (!planCrossShardMulti(await this.table(), multi)) return undefined;
      const calls: CrossShardCalls = {
        begin: () => ({ id: crypto.randomUUID(), startedAt: Date.now() }),
        prepare: (mount, txn, part) => {
          beforeSend?.(mount);
          return this.leaderStub(mount).prepareWrites(mount.prefix, this.fromHere(caller), txn, part);
        },
        release: (mount, txnId) => this.leaderStub(mount).releasePart(txnId),
        commit: (part) => untilServed(async (fresh) => write(this.route(await this.table(fresh), part), part), isElsewhere),
        // The Worker's waitUntil; a session host's object outlives the answer on its own.
        inBackground: (work) => (this.tableRequest.keepAlive ? this.tableRequest.keepAlive(work) : void work),
        write,
        deciderOf: (mount) => this.copyName(mount, { at: "leader" }),
      };
      const outcome = await untilServed(async (fresh) => {
        const table = await this.table(fresh);
        const plan = planCrossShardMulti(table, multi);
        // One shard serves it all now (the table changed): its multi as any other.
        return plan ? runCrossShardMulti(plan, multi, calls) : write(this.route(table, multi), multi);
      }, (answer) => answer === ELSEWHERE || isElsewhere(answer));
      return outcome as Outcome;
    } catch (err) {
      if (err instanceof KeeperError) return { ok: false, zxid: 0, error: err.toBody() };
      throw lostCall(err);
    }
  }

  /** `acrossShards` for a session host: the writing parts go as its other requests do (hostSend); the mount answered is the deciding shard's. */
  private async hostAcrossShards(call: HostCall, caller: Caller, multi: MultiOp): Promise<{ outcome: Outcome; mount: Mount } | undefined> {
    let writer: Mount | undefined;
    const outcome = await this.acrossShards(caller, multi, async (mount, part) => {
      // The deciding part is sent to apply first, the others at once after it.
      writer ??= mount;
      call.beforeSend?.(mount);
      return (await this.hostSend(call, mount, caller, [part]))[0]!;
    }, call.beforeSend);
    return outcome && { outcome, mount: writer ?? mountFor(await this.table(), "/") };
  }

  private leaderStub(mount: Mount): ShardStub {
    return this.copy(mount, { at: "leader" });
  }

  /** `route`, with a request no one shard can serve as its error. */
  private routeOrError(table: MountTable, request: ShardRequest): Mount | KeeperError {
    try {
      return this.route(table, request);
    } catch (err) {
      if (err instanceof KeeperError) return err;
      throw err;
    }
  }

  /** The one mount serving every path of a request; a multi across shards is refused. */
  private route(table: MountTable, request: ShardRequest): Mount {
    const paths =
      request.op === "multi" || request.op === "multiRead"
        ? request.ops.map(routingPath)
        : request.op === "getEphemerals"
          ? ["/"]
          : [routingPath(request)];
    const mounts = new Set(paths.map((p) => mountFor(table, p)));
    if (mounts.size > 1) {
      const prefixes = [...mounts].map((m) => m.prefix).join(", ");
      throw new KeeperError("Unimplemented", `a ${request.op} across shards is not supported yet (its paths lie under mounts ${prefixes})`);
    }
    return mounts.values().next().value ?? mountFor(table, "/");
  }

  /**
   * Executes one request on its shard, retrying with a fresh table if the cached one
   * was stale. `beforeSend` runs synchronously right before each send to a shard (a
   * session host records there where its ephemerals may live, or refuses by throwing).
   */
  async execute<K extends ShardRequest["op"]>(
    caller: Caller,
    request: ShardRequest & { op: K },
    beforeSend?: (mount: Mount) => void,
  ): Promise<Outcome<ResultOf[K]>> {
    if (request.op === "multi") {
      const across = await this.acrossShards(caller, request as MultiOp, async (mount, part) => {
        beforeSend?.(mount);
        return (await this.executeOn(mount, caller, [part]))[0]!;
      }, beforeSend);
      if (across) return across as Outcome<ResultOf[K]>;
    }
    const outcome = await untilServed(async (fresh) => {
      const mount = this.route(await this.table(fresh), request);
      beforeSend?.(mount);
      if (this.sharedRpcsKeepAlive) return this.executeShared(mount, caller, request, this.sharedRpcsKeepAlive);
      const [answer] = await this.executeOn(mount, caller, [request]);
      return answer;
    }, isElsewhere);
    if (!outcome) throw new KeeperError("SystemError", "shard returned no outcome");
    return outcome as Outcome<ResultOf[K]>;
  }

  /** One request in the next RPC shared with others to its shard as the same caller; sent again, first, while its batch defers it. */
  private async executeShared(mount: Mount, caller: Caller, request: ShardRequest, keepAlive: KeepAlive): Promise<Outcome> {
    sharedRpcs ??= new SharedRpcs(limitsFromEnv(this.env).maxRequestBytes);
    // The caller's region too: a shared RPC is delayed as from one region; and where
    // its reads are placed, so that every request of a lane asks the same copy.
    const placement = this.reads?.place(mount, [request]);
    const key = JSON.stringify([this.link.region, this.namespace, mount.shard, mount.prefix, caller.sessionId, caller.ids, placement ?? null]);
    const send = (batch: ShardRequest[]) => this.sendBatch(mount, caller, batch, placement);
    let outcome = await sharedRpcs.run(key, request, send, keepAlive);
    while (!outcome.ok && outcome.deferred) outcome = await sharedRpcs.run(key, request, send, keepAlive, true);
    const answers = [outcome];
    this.take(mount, [request], answers);
    return answers[0]!;
  }

  /**
   * The key a shard's pushed deliveries carry (its object id), so a host can tell
   * which shard a notification's seq belongs to whichever way it arrived.
   */
  shardKey(mount: Mount): string {
    return this.copyKey(mount, { at: "leader" });
  }

  /**
   * `execute` for a session host (ShardDO.hostExecute): a read with `watch: true`
   * leaves a watch for the host, and every answer carries the notifications the host
   * is still owed, handed to `call.receive` before this resolves, so the host can send
   * an event before the reply that shows its change. Retries on `moved` as `execute`.
   */
  async hostExecute<K extends ShardRequest["op"]>(call: HostCall, caller: Caller, request: ShardRequest & { op: K }): Promise<{ outcome: Outcome<ResultOf[K]>; mount: Mount }> {
    if (request.op === "multi") {
      const across = await this.hostAcrossShards(call, caller, request as MultiOp);
      if (across) return across as { outcome: Outcome<ResultOf[K]>; mount: Mount };
    }
    const { outcome, mount } = await untilServed(async (fresh) => {
      const mount = this.route(await this.table(fresh), request);
      call.beforeSend?.(mount);
      const [outcome] = await this.hostSend(call, mount, caller, [request]);
      return { outcome, mount };
    }, (answer) => isElsewhere(answer.outcome));
    if (!outcome) throw new KeeperError("SystemError", "shard returned no outcome");
    return { outcome: outcome as Outcome<ResultOf[K]>, mount };
  }


  /**
   * `hostExecute` for many requests of one caller, in order: the run of consecutive
   * requests served by the first one's shard, in its read mode, goes in one RPC (STACK.md: batching per
   * RPC gave 13-25x). `call.beforeSend` runs before the RPC. Answers a prefix of the
   * requests, at least one, so that the caller passes each RPC's answer on before
   * asking for more: the run ends at the next shard, or where that shard's answer
   * reached the byte cap (Limits.maxAnswerBytes), and then the prefix ends with the
   * first request not run, `deferred`. A shard stops a batch at its first request it
   * does not serve; that one then goes alone, with a fresh table and retries.
   */
  async hostExecuteBatch(call: HostCall, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]> {
    const first = requests[0]!;
    if (first.op === "multi") {
      const across = await this.hostAcrossShards(call, caller, first);
      if (across) return [across.outcome];
    }
    const table = await this.table();
    const mount = this.routeOrError(table, requests[0]!);
    if (mount instanceof KeeperError) return [{ ok: false, zxid: 0, error: mount.toBody() }];
    let end = 1;
    while (end < requests.length && this.routeOrError(table, requests[end]!) === mount && sameReadMode(requests[end]!, requests[0]!)) end++;
    call.beforeSend?.(mount);
    const answered = await this.hostSend(call, mount, caller, requests.slice(0, end));
    const outcomes: Outcome[] = [];
    for (const outcome of answered) {
      if (!outcome.ok && outcome.deferred) return [...outcomes, outcome];
      if (isElsewhere(outcome)) break;
      outcomes.push(outcome);
    }
    if (outcomes.length < end) {
      // The table was stale: this one alone, with a fresh table and retries.
      outcomes.push((await this.hostExecute(call, caller, requests[outcomes.length]!)).outcome);
    }
    return outcomes;
  }

  /**
   * Sends a host's requests to their shard: sequential reads to the host's home
   * replica when it has one (ShardDO.replicaHostExecute), the rest to the leader
   * (ShardDO.hostExecute); and if that replica is not ready, to the leader, with the
   * shard's home moved there. The notifications riding on the answer go to
   * `call.receive` first; the answers are returned once the host's home lets them
   * reach the session (HostHomeRouting.release).
   */
  private async hostSend(call: HostCall, mount: Mount, caller: Caller, batch: ShardRequest[]): Promise<Outcome[]> {
    const reads = call.reads ?? this.reads;
    const placement = call.homes && reads?.place(mount, batch);
    const home = placement?.at === "replica" ? await call.homes!.readAt(mount, placement) : undefined;
    if (home) {
      const generation = call.homes!.generation(mount);
      const answer = await this.atHomeReplica(call, mount, home, caller, batch);
      if (answer) {
        reads?.answered(mount.shard, home, batch, answer.outcomes);
        // Its notifications first (all at or below its zxid): one may be for the watch it sets again.
        await call.receive(answer.key, answer.notifications);
        call.recordWatches?.(mount, answer.outcomes);
        await call.homes!.release(mount, "replica", answer.zxid, watchesSet(batch, answer.outcomes), true, generation);
        return answer.outcomes;
      }
      // Home is behind what the session has seen (or unreachable): the leader may become home
      // (HostHomeRouting.leave). A bounded read it was too stale for goes to the leader alone.
      if (home.maxStalenessMs === undefined) await call.homes!.leave(mount);
    }
    const key = this.shardKey(mount);
    // The leader leaves a read's watch only where the host's watches are: else home sets it (release).
    const leftAtLeader = !call.homes || call.homes.watchesAt(mount).at === "leader";
    const generation = call.homes?.generation(mount) ?? 0;
    const sent = leftAtLeader ? batch : batch.map((r) => ("watch" in r && r.watch === true ? { ...r, watch: false } : r));
    const answer = await this.logged(mount, sent, (shard) => shard.hostExecute(mount.prefix, call.host, call.ackSeqFor(key), this.fromHere(caller), sent), (a) => a.outcomes, reads);
    // Its notifications first (all at or below its zxid): one may be for an earlier watch its
    // request sets again, whose row then takes the answer's zxid (SessionWatches.add).
    await call.receive(key, answer.notifications);
    call.recordWatches?.(mount, answer.outcomes);
    await call.homes?.release(mount, "leader", Math.max(0, highestZxidShown(answer.outcomes)), watchesSet(batch, answer.outcomes), leftAtLeader, generation);
    return answer.outcomes;
  }

  /** A host's reads at its home replica, with the notifications riding on them and the replica's delivery key; undefined when it was not ready (or not reachable). */
  private async atHomeReplica(call: HostCall, mount: Mount, placement: AtReplica, caller: Caller, batch: ShardRequest[]): Promise<{ zxid: number; outcomes: Outcome[]; notifications: WatchNotification[]; key: string } | undefined> {
    const key = this.copyKey(mount, placement);
    try {
      const answer = await this.copy(mount, placement).replicaHostExecute(mount.prefix, call.host, call.ackSeqFor(key), caller, batch, readAtOf(placement));
      if (!answer.ready) return undefined;
      for (const outcome of answer.outcomes) servedPlacements.set(outcome, placement);
      return { ...answer, key };
    } catch (err) {
      this.log.warn("home replica failed; reading at the leader", { namespace: this.namespace, shard: mount.shard, region: placement.region, error: errorField(err) });
      return undefined;
    }
  }

  /**
   * ShardDO.syncHost at one copy of the shard of `mount`: once it has applied
   * `minZxid` (a replica waits at most `waitMs`), the host's `watches` are set there,
   * and the answer holds what the host is owed there.
   */
  async syncHost(mount: Mount, copy: ShardCopy, host: WatchHost, ackSeq: number, minZxid: number, watches: HostWatch[], waitMs: number): Promise<SyncHostAnswer> {
    return this.copy(mount, copy).syncHost(mount.prefix, host, ackSeq, minZxid, watches, waitMs);
  }

  /** The key a copy's pushed deliveries carry (its object id; see `shardKey`). */
  copyKey(mount: Mount, copy: ShardCopy): string {
    return this.env.SHARD.idFromName(this.copyName(mount, copy)).toString();
  }

  /** The object of `copy`: each region's copy of a shard keeps its name; the mount says in which region the leader is. */
  private copyName(mount: Mount, copy: ShardCopy): string {
    return copy.at === "leader" ? leaderObjectName(this.namespace, mount, this.link.regions) : copyObjectName(shardObjectName(this.namespace, mount.shard), copy.region, this.link.regions);
  }

  private copy(mount: Mount, copy: ShardCopy): ShardStub {
    return this.link.shard(this.copyName(mount, copy)) as unknown as ShardStub;
  }

  /**
   * addWatch at the shard serving `path`, for a host, at the copy `where` names (its
   * home; default the leader); retries on `moved`.
   */
  async addWatch(host: WatchHost, caller: Caller, path: string, mode: "persistent" | "recursive", where: (mount: Mount) => Promise<ShardCopy> = async () => ({ at: "leader" })): Promise<{ outcome: Outcome; mount: Mount }> {
    return untilServed(async (fresh) => {
      const mount = mountFor(await this.table(fresh), path);
      return { outcome: await this.copy(mount, await where(mount)).addWatch(mount.prefix, host, caller, path, mode), mount };
    }, (answer) => isElsewhere(answer.outcome));
  }

  /** Removes a host's watches of `kind` (or all) on a path at one copy of the shard of `mount` (default its leader); none there is fine. */
  async removeWatchesOn(mount: Mount, host: string, path: string, kind?: WatchKind, copy: ShardCopy = { at: "leader" }): Promise<void> {
    const outcome = await this.copy(mount, copy).removeWatches(mount.prefix, host, path, kind);
    if (!outcome.ok && outcome.error.name !== "NoWatcher") throw KeeperError.fromBody(outcome.error);
  }

  /**
   * Long poll on the shard that serves `path`: resolves when a change after
   * `afterZxid` concerns the path in `scope` and `reader` may read it, or after
   * `timeoutMs` (shard.waitForChange); NoAuth at once without READ on `path`.
   * zxids are per shard: pass back the zxid this shard reported.
   */
  async waitForChange(reader: Caller, path: string, scope: ChangeScope, afterZxid: number, timeoutMs: number): Promise<Outcome<{ changed: boolean; zxid: number }>> {
    const mount = mountFor(await this.table(), path);
    return this.fromLeader(mount, await this.shard(mount).waitForChange(mount.prefix, reader, path, scope, afterZxid, timeoutMs));
  }

  /**
   * The events after `afterZxid` that concern `path` in `scope` and that `reader`
   * may read, from its shard's change log (shard.changesFor); NoAuth without READ on `path`.
   */
  async changesFor(reader: Caller, path: string, scope: ChangeScope, afterZxid: number): Promise<Outcome<ChangesAnswer>> {
    const mount = mountFor(await this.table(), path);
    return this.fromLeader(mount, await this.shard(mount).changesFor(mount.prefix, reader, path, scope, afterZxid));
  }

  /** A leader's answer outside read routing (long polls and change streams, which leaders serve), as the caller's reads take it. */
  private fromLeader<T>(mount: Mount, outcome: Outcome<T>): Outcome<T> {
    if (!this.reads) return outcome;
    const answers: Outcome[] = [outcome];
    this.reads.answeredByLeader(mount, [], answers);
    return answers[0] as Outcome<T>;
  }

  /**
   * Takes an answer that a session host got from a shard's leader (a host reads at
   * leaders) on this caller's behalf: it advances the caller's bookmark as if this
   * router had made the call. The shard is the one this router's table routes the
   * request to.
   */
  protected async relayed(request: ShardRequest, outcome: Outcome): Promise<void> {
    if (!this.reads) return;
    const mount = this.routeOrError(await this.table(), request);
    if (mount instanceof KeeperError) return;
    this.reads.answeredByLeader(mount, [request], [outcome]);
  }

  /**
   * Executes requests on the shard of `mount`, whatever their paths (getEphemerals
   * of a session's shards): reads where read routing places them (a replica ready
   * for them, else the leader), writes at the leader.
   */
  async executeOn(mount: Mount, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]> {
    const outcomes = await this.sendBatch(mount, caller, requests, this.reads?.place(mount, requests));
    this.take(mount, requests, outcomes);
    return outcomes;
  }

  /**
   * Sends requests to the copy `placement` names (a replica ready for them, else the
   * leader), recording which placement served each answer: one RPC may carry several
   * callers' requests (executeShared), and each caller takes its own (`take`).
   */
  private async sendBatch(mount: Mount, caller: Caller, requests: ShardRequest[], placement: ReadPlacement | undefined): Promise<Outcome[]> {
    if (placement?.at === "replica") {
      const outcomes = await this.atReplica(mount, placement, caller, requests);
      if (outcomes) {
        for (const outcome of outcomes) servedPlacements.set(outcome, placement);
        return outcomes;
      }
    }
    return this.logged(mount, requests, (shard) => shard.execute(mount.prefix, this.fromHere(caller), requests), (outcomes) => outcomes, undefined);
  }

  /** The caller as its leader sees it: from this router's region, with simulated regions (Caller.region). */
  private fromHere(caller: Caller): Caller {
    return this.link.region === undefined ? caller : { ...caller, region: this.link.region };
  }

  /** The caller's reads take its answers (in place: a refused read's outcome is replaced). */
  private take(mount: Mount, requests: readonly ShardRequest[], outcomes: Outcome[]): void {
    if (!this.reads) return;
    const placement = outcomes[0] && servedPlacements.get(outcomes[0]);
    if (placement) this.reads.answered(mount.shard, placement, requests, outcomes);
    else this.reads.answeredByLeader(mount, requests, outcomes);
  }

  /** Deletes a session's ephemerals on one shard (idempotent), at its leader wherever a move put it. */
  async closeSession(mount: Mount, sessionId: number): Promise<void> {
    const outcome = await untilServed(async (fresh) => {
      const now = fresh ? ((await this.table(true)).mounts.find((m) => m.shard === mount.shard) ?? mount) : mount;
      return this.shard(now).closeSession(now.prefix, sessionId);
    }, isElsewhere);
    if (!outcome.ok) throw KeeperError.fromBody(outcome.error);
  }

  /**
   * getAllChildrenNumber across mounts: the shard's own count plus, for each subtree
   * mounted below the path, that subtree's count. The mounts below come from a fresh
   * table: the own shard answers from a stale one without `moved`, and would miss them.
   */
  async countDescendants(caller: Caller, path: string): Promise<Outcome<{ count: number }>> {
    const own = await this.execute(caller, { op: "getAllChildrenNumber", path });
    if (!own.ok) return own;
    let count = own.value.count;
    for (const mount of mountsBelow(await this.table(true), path)) {
      const below = await this.execute(caller, { op: "getAllChildrenNumber", path: mount.prefix });
      if (below.ok) count += below.value.count;
    }
    return { ...own, value: { count } };
  }
}

/** The watches a host's requests set, as their answers show (a read sets one where it succeeded). */
function watchesSet(requests: readonly ShardRequest[], outcomes: readonly Outcome[]): WatchSet[] {
  const set: WatchSet[] = [];
  requests.forEach((request, i) => {
    if (!outcomes[i]?.ok || !("watch" in request) || request.watch !== true) return;
    // As the shard registers them (ShardDO.registerWatch).
    if (request.op === "getData" || request.op === "exists") set.push({ path: request.path, kind: "data" });
    else if (request.op === "getChildren") set.push({ path: request.path, kind: "child" });
  });
  return set;
}

/** What a replica placement asks of the replica. */
function readAtOf({ minZxid, waitMs, maxStalenessMs }: AtReplica): ReplicaReadAt {
  return maxStalenessMs === undefined ? { minZxid, waitMs } : { minZxid, waitMs, maxStalenessMs };
}
