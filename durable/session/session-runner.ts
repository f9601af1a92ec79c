/**
 * How a host runs a session's requests: one after another in the order it received
 * them (FIFO, also across shards), each numbered (cxid) so a retried write applies
 * once, the shard recorded before an ephemeral create is sent there, watches left by
 * reads recorded for the session, and the host's own operations (sync, addWatch,
 * removeWatches, addAuth). Notifications riding on a shard's answer are fanned out
 * (ShardRouter.hostExecute's `receive`) before the answer is returned, so a session
 * gets a watch event before any reply that shows the change.
 */
import {
  type Caller,
  type Id,
  KeeperError,
  type Outcome,
  type ShardRequest,
  type WatchKind,
  authenticate,
  parseCreateMode,
} from "../../protocol/index.ts";
import type { Mount } from "../directory/mount-table.ts";
import type { HostCall, ShardCopy, ShardRouter } from "../directory/shard-router.ts";
import { retryingTransient } from "../directory/shard-retry.ts";
import { RequestStats } from "./host-stats.ts";
import type { HostOp } from "./host-op.ts";
import type { SocketLimits } from "../base/settings.ts";
import type { SessionHomes } from "./session-homes.ts";
import type { SessionStore } from "./session-store.ts";
import type { OrphanWatch, SessionWatches } from "./session-watches.ts";
import { type WatchGate, watchKey } from "./watch-gate.ts";

/** What the runner needs of its host (given as parts, not the host object). */
export interface RunnerHost {
  readonly store: SessionStore;
  readonly watches: SessionWatches;
  readonly socketLimits: SocketLimits;
  readonly gate: WatchGate;
  readonly homes: SessionHomes;
  readonly superDigest: string | undefined;
  router(): ShardRouter;
  /** The host's part in a shard call for this session (see ShardRouter.hostExecute). */
  /** `ownSend` answers the request's watching send under way, if any: its own answer's notifications do not wait for it. */
  call(sessionId: number, beforeSend?: (mount: Mount) => void, ownSend?: () => (() => void) | undefined): HostCall;
  /** The open, live session, or SessionExpired. */
  requireOpen(sessionId: number): void;
  /** The host's object name, as shards know it. */
  hostName(sessionId: number): string;
  /** A session's watch was just recorded, answered at `zxid`: its events past that wait until the request that set it is answered (SessionHost.answered). */
  holdEvents(sessionId: number, path: string, kind: WatchKind, zxid: number): void;
  /** A request that sets a watch is sent to the shard of `mount`: pushes from there wait until the function returned is called (watches-in-flight.ts). */
  sendingWatch(mount: Mount): () => void;
}

/** The kind of watch a read with `watch: true` sets. */
function watchKindOf(request: ShardRequest): "data" | "child" {
  return request.op === "getChildren" ? "child" : "data";
}

/** Whether a request may create an ephemeral node (so its shard must be recorded first). */
function mayCreateEphemeral(request: ShardRequest): boolean {
  const creates = request.op === "create" ? [request] : request.op === "multi" && Array.isArray(request.ops) ? request.ops.filter((op) => op.op === "create") : [];
  return creates.some((op) => {
    try {
      return parseCreateMode(op.mode).startsWith("EPHEMERAL");
    } catch {
      return false; // the shard refuses the mode itself
    }
  });
}

/**
 * Whether a session op can share an RPC with its neighbours: a plain shard request
 * that sets no watch (those go through the WatchGate) and lists no ephemerals
 * (which asks every shard of the session).
 */
export function batchable(op: HostOp): op is { op: "shard"; request: ShardRequest } {
  return op.op === "shard" && op.request.op !== "getEphemerals" && !("watch" in op.request && op.request.watch === true);
}

/** A KeeperError as the outcome of a request that reached no shard (zxid 0). */
export function failed(err: unknown): Outcome {
  if (err instanceof KeeperError) return { ok: false, zxid: 0, error: err.toBody() };
  throw err;
}

/** A queued call of enqueueJoining: its items, whose they are, and the pipeline's tail it made. */
interface Joinable {
  readonly owner: unknown;
  readonly items: unknown[];
  tail: Promise<unknown>;
}

export class SessionRunner {
  private readonly host: RunnerHost;
  /** The tail of each session's request pipeline: its requests run one after another. */
  private readonly pipelines = new Map<number, Promise<unknown>>();
  /** Each session's queued call that has not started yet and may take more items (see enqueueJoining). */
  private readonly joinable = new Map<number, Joinable>();
  /** The requests in the pipelines, and how long they took from receipt to answer. */
  readonly requests = new RequestStats();

  constructor(host: RunnerHost) {
    this.host = host;
  }

  /** Runs `fn`, which answers `requests` requests, after the session's earlier requests (and its close). */
  enqueue<T>(sessionId: number, fn: () => Promise<T>, requests = 1): Promise<T> {
    return this.append(sessionId, fn, requests).run;
  }

  /**
   * Runs `items` with `fn` after the session's earlier requests, together with any
   * that join them: items offered (with the same `owner`) before their turn comes,
   * while nothing else was queued behind them, are run in the same call, after them.
   * So requests that arrive while the session's pipeline is busy go together once it
   * frees, as if they had come at once.
   */
  enqueueJoining<T>(sessionId: number, owner: unknown, items: T[], fn: (items: T[]) => Promise<void>): void {
    const waiting = this.joinable.get(sessionId);
    if (waiting && waiting.owner === owner && this.pipelines.get(sessionId) === waiting.tail) {
      (waiting.items as T[]).push(...items);
      void waiting.tail.then(this.requests.begin(items.length));
      return;
    }
    const batch: Joinable = { owner, items: [...items], tail: Promise.resolve() };
    const start = (): Promise<void> => {
      if (this.joinable.get(sessionId) === batch) this.joinable.delete(sessionId);
      return fn(batch.items as T[]);
    };
    batch.tail = this.append(sessionId, start, items.length).tail;
    this.joinable.set(sessionId, batch);
  }

  private append<T>(sessionId: number, fn: () => Promise<T>, requests: number): { run: Promise<T>; tail: Promise<unknown> } {
    const previous = this.pipelines.get(sessionId) ?? Promise.resolve();
    const answered = this.requests.begin(requests);
    const run = previous.then(fn);
    const tail = run.catch(() => undefined);
    void tail.then(answered);
    this.pipelines.set(sessionId, tail);
    void tail.then(() => {
      if (this.pipelines.get(sessionId) === tail) this.pipelines.delete(sessionId);
    });
    return { run, tail };
  }

  /** The identities a session's request acts with: the connection's, and those it added. */
  idsOf(sessionId: number, connection: Id[]): Id[] {
    return [...connection, ...this.host.store.authIds(sessionId)];
  }

  /** Runs one host operation of a session (in its pipeline); KeeperErrors become outcomes. */
  async run(sessionId: number, connectionIds: Id[], op: HostOp): Promise<Outcome> {
    try {
      const caller: Caller = { sessionId, ids: this.idsOf(sessionId, connectionIds) };
      switch (op.op) {
        case "shard":
          return await this.executeOne(caller, op.request);
        case "sync": {
          // Answered once the path's shard has applied everything before it: a read there, in order.
          // At the leader, so the session's bookmark becomes the leader's commit point.
          const outcome = await this.executeOne(caller, { op: "exists", path: op.path, consistency: { kind: "linearizable" } });
          // The same outcome, so that which shard answered it stays known (shardThatAnswered).
          if (outcome.ok) outcome.value = { path: op.path };
          return outcome;
        }
        case "addWatch":
          return await this.addWatch(caller, op.path, op.mode);
        case "removeWatches":
          return await this.removeWatches(sessionId, op.path, op.kind);
        case "addAuth": {
          this.host.requireOpen(sessionId);
          const ids = await authenticate(op.scheme, op.credentials, this.host.superDigest);
          this.host.store.addAuthIds(sessionId, ids);
          return { ok: true, zxid: 0, value: {} };
        }
        case "close":
          throw new KeeperError("SystemError", "close is the host's to run");
      }
    } catch (err) {
      return failed(err);
    }
  }

  /** Runs one shard request as the session. */
  async executeOne(caller: Caller, request: ShardRequest): Promise<Outcome> {
    const { sessionId } = caller;
    try {
      const stamped = { ...request, cxid: this.nextCxid(sessionId, request) };
      if (request.op === "getEphemerals") return await this.ephemerals(caller, request.prefix);
      const watching = "watch" in request && request.watch === true;
      if (watching) this.checkWatchRoom(sessionId);
      const ephemeral = mayCreateEphemeral(request);
      // Synchronously before each send (there is no await in between): the session must
      // still be open, and a shard that may get an ephemeral is recorded, so the close
      // that marks the session closing and then reads the shards cannot miss it. A create
      // still in flight when that close reaches the shard is refused there.
      // A watching request's send, until its answer is recorded: the shard's pushes wait for it.
      let sent: (() => void) | undefined;
      const beforeSend = (mount: Mount): void => {
        this.host.requireOpen(sessionId);
        if (ephemeral) this.host.store.recordShard(sessionId, mount);
        if (watching) {
          sent?.();
          sent = this.host.sendingWatch(mount);
        }
      };
      const router = this.host.router();
      // The watch is recorded as soon as its answer arrives, before the host's home may
      // move (session-homes.ts): a move takes the watches the rows hold.
      const recordWatches = (mount: Mount, [outcome]: readonly Outcome[]): void => {
        if (watching && outcome?.ok) {
          const missing = request.op === "exists" && (outcome.value as { stat: unknown }).stat === null;
          this.host.holdEvents(sessionId, request.path, watchKindOf(request), outcome.zxid);
          this.host.watches.add(sessionId, request.path, watchKindOf(request), outcome.zxid, mount, missing);
        }
        // Answered: what waited for this send may go on.
        sent?.();
      };
      const send = async (): Promise<Outcome> => {
        // The same cxid again on a retry: if the write was applied, the shard answers with its stored reply.
        const call = { ...this.host.call(sessionId, beforeSend, () => sent), recordWatches };
        try {
          return (await retryingTransient(() => router.hostExecute(call, caller, stamped))).outcome;
        } finally {
          sent?.();
        }
      };
      return watching ? await this.host.gate.whileSetting(watchKey(request.path, watchKindOf(request)), send) : await send();
    } catch (err) {
      return failed(err);
    }
  }

  /**
   * Runs consecutive shard requests of a session as few RPCs as their shards allow
   * (see `batchable`), in order, each with its own cxid; yields the outcomes of each
   * RPC, in order, as it answers (one each in all), so that its caller sends them on
   * before the next. Once a shard's answer reaches the byte cap (Limits.maxAnswerBytes)
   * the rest are not run but answered Throttled, for the client to send again: so
   * one frame of a session costs the host at most about that much, and a client
   * reading much gets it at the pace it asks for it.
   */
  async *executeMany(caller: Caller, requests: ShardRequest[]): AsyncGenerator<Outcome[]> {
    const { sessionId } = caller;
    let answered = 0;
    try {
      const stamped = requests.map((request) => ({ ...request, cxid: this.nextCxid(sessionId, request) }));
      const ephemeral = requests.some(mayCreateEphemeral);
      const beforeSend = (mount: Mount): void => {
        this.host.requireOpen(sessionId);
        if (ephemeral) this.host.store.recordShard(sessionId, mount);
      };
      const router = this.host.router();
      while (answered < stamped.length) {
        // The same cxids again on a retry: writes already applied answer with their stored replies.
        const outcomes = await retryingTransient(() => router.hostExecuteBatch(this.host.call(sessionId, beforeSend), caller, stamped.slice(answered)));
        const last = outcomes[outcomes.length - 1];
        if (last && !last.ok && last.deferred) {
          yield [...outcomes, ...stamped.slice(answered + outcomes.length).map(() => last)];
          return;
        }
        answered += outcomes.length;
        yield outcomes;
      }
    } catch (err) {
      const outcome = failed(err);
      yield requests.slice(answered).map(() => outcome);
    }
  }

  private checkWatchRoom(sessionId: number): void {
    const max = this.host.socketLimits.maxWatchesPerSession;
    if (this.host.watches.count(sessionId) >= max) throw new KeeperError("BadArguments", `a session may hold at most ${max} watches`);
  }

  private async addWatch(caller: Caller, path: string, mode: "persistent" | "recursive"): Promise<Outcome> {
    const { sessionId } = caller;
    this.host.requireOpen(sessionId);
    this.checkWatchRoom(sessionId);
    return this.host.gate.whileSetting(watchKey(path, mode), async () => {
      // At the host's home for the shard, past what the session has seen there.
      const seen = this.host.call(sessionId).reads?.bookmark.shards;
      let setAt: ShardCopy = { at: "leader" };
      let generation = 0;
      // Its send, until its answer is recorded: the shard's pushes wait for it.
      let sent: (() => void) | undefined;
      const where = async (m: Mount): Promise<ShardCopy> => {
        // A try before this one was answered (moved): ended first, as home's hand-over here waits for the sends on their way.
        sent?.();
        setAt = await this.host.homes.addWatchAt(m, seen?.get(m.shard) ?? 0);
        generation = this.host.homes.generation(m);
        sent = this.host.sendingWatch(m);
        return setAt;
      };
      try {
        const { outcome, mount } = await this.host.router().addWatch({ name: this.host.hostName(sessionId), push: true }, caller, path, mode, where);
        if (outcome.ok) {
          this.host.requireOpen(sessionId);
          // Recorded first: a move of the host's home from here on takes it along.
          this.host.holdEvents(sessionId, path, mode, outcome.zxid);
          this.host.watches.add(sessionId, path, mode, outcome.zxid, mount);
          sent?.();
          await this.host.homes.watchSetAt(mount, setAt, generation, { path, kind: mode }, outcome.zxid);
        }
        return outcome;
      } finally {
        sent?.();
      }
    });
  }

  private async removeWatches(sessionId: number, path: string, kind: Parameters<SessionWatches["remove"]>[2]): Promise<Outcome> {
    this.host.requireOpen(sessionId);
    const { removed, orphans } = this.host.watches.remove(sessionId, path, kind);
    if (removed === 0) throw new KeeperError("NoWatcher", undefined, path);
    await this.removeOrphans(sessionId, orphans);
    return { ok: true, zxid: 0, value: {} };
  }

  /** Removes at their shards the host's watches no session holds anymore. Failures leave a watch that fires for nobody. */
  async removeOrphans(sessionId: number, orphans: OrphanWatch[]): Promise<void> {
    if (orphans.length === 0) return;
    const router = this.host.router();
    const host = this.host.hostName(sessionId);
    for (const { path, kind, mount } of orphans) {
      try {
        // Another session may be setting the same watch right now: see WatchGate.
        await this.host.gate.remove(watchKey(path, kind), () => !this.host.watches.held(path, kind), async () => {
          await router.removeWatchesOn(mount, host, path, kind, this.host.homes.watchesAt(mount));
        });
      } catch (err) {
        console.warn(`removing a watch on ${path} at its shard failed`, err);
      }
    }
  }

  /** The cxid of a session's next request: the client's own (a retry, or ahead), or the next one. */
  private nextCxid(sessionId: number, request: ShardRequest): number {
    this.host.requireOpen(sessionId);
    return this.host.store.nextCxid(sessionId, request.op, request.cxid);
  }

  /** The session's ephemerals under `prefix`, from every shard that may hold one. */
  private async ephemerals(caller: Caller, prefix: string): Promise<Outcome<{ paths: string[] }>> {
    const shards = this.host.store.shardsOf(caller.sessionId);
    const router = this.host.router();
    const paths: string[] = [];
    let zxid = 0;
    for (const mount of shards) {
      const [outcome] = await router.executeOn(mount, caller, [{ op: "getEphemerals", prefix }]);
      if (!outcome) throw new KeeperError("SystemError", "shard returned no outcome");
      // A leader's answer: shown once the host's home has handed over the events before it.
      await this.host.homes.release(mount, "leader", outcome.zxid, [], true, 0);
      if (!outcome.ok) return outcome;
      paths.push(...(outcome.value as { paths: string[] }).paths);
      // zxids of different shards are not comparable: one is reported only when one shard answered.
      zxid = shards.length === 1 ? outcome.zxid : 0;
    }
    return { ok: true, zxid, value: { paths: paths.sort() } };
  }
}
