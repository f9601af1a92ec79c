/**
 * Lock: an exclusive, re-entrant lock with a fencing token; ZooKeeper's documented
 * lock recipe, herd-free (each waiter watches only the node just before its own).
 *
 * Status: beta. Tested under contention (8+ sessions), a dropped connection, a
 * killed client, a server restart and fencing after expiry (test/client/recipes.test.ts);
 * no seeded fault runs yet. See docs/recipes/lock.md for guarantees and what a holder
 * must do on `suspended` and `lost`.
 *
 * Nodes: `<path>/<guid>__lock__<seq>` (EPHEMERAL_SEQUENTIAL; the data is the
 * holder's identifier), under `<path>`, a CONTAINER created with its ancestors when
 * missing and reaped by the server once empty. The guid finds our own node again
 * after a create whose answer was lost (Curator's protected mode), and keeps node
 * names unique when a reaped container is created again with a fresh sequence.
 * The same layout as kazoo's Lock, so `ReadWriteLock`'s read side (`__rlock__`)
 * shares the path with writers.
 */
import { type Data, type KeeperClient, KeeperError, type TransactionOp, isKeeperError } from "../index.ts";
import { Waiter, aborted, bySequence, child, deleteOwned, ensureContainers, guid, retryConnectionLoss, sessionExpired, syncAfterLostAnswer } from "./internal.ts";

export interface LockOptions {
  /** Stored in the lock node: who holds or waits, as `contenders()` shows it. Default "". */
  identifier?: Data;
  /**
   * `exclusive` (default) waits for every earlier node; `shared` waits only for earlier
   * exclusive nodes (the read side of ReadWriteLock).
   */
  kind?: "exclusive" | "shared";
}

export interface AcquireOptions {
  /** Give up after this long (0: try once). Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Aborting cancels the attempt (the waiting node is deleted) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

const EXCLUSIVE = "__lock__";
const SHARED = "__rlock__";
const LOCK_NAMES = [EXCLUSIVE, SHARED];

/**
 * An exclusive lock on `path`. Re-entrant per Lock object: `acquire()` while held
 * counts, and the lock goes on the last `release()`.
 *
 * @example
 * const lock = new Lock(zk, "/locks/invoices", { identifier: "worker-7" });
 * if (await lock.acquire({ timeoutMs: 5_000 })) {
 *   try {
 *     // Writes that must not happen after the lock is lost carry the fence:
 *     await zk.multi([lock.fence(), { op: "setData", path: "/invoices/next", data: "42" }]);
 *   } finally {
 *     await lock.release();
 *   }
 * }
 */
export class Lock {
  readonly path: string;
  private readonly zk: KeeperClient;
  private readonly identifier: Data;
  private readonly kind: "exclusive" | "shared";
  /** Our node while held. */
  private node: string | undefined;
  /** The session that created it. */
  private ownerSession: number | undefined;
  private holds = 0;
  private attempt: Promise<boolean> | undefined;

  constructor(zk: KeeperClient, path: string, options: LockOptions = {}) {
    this.zk = zk;
    this.path = path;
    this.identifier = options.identifier ?? "";
    this.kind = options.kind ?? "exclusive";
  }

  /**
   * Whether this object holds the lock now, as far as the client knows: false once the
   * session is reported `lost`. While `suspended` it stays true, but the lock may be
   * lost already: see docs/recipes/lock.md.
   */
  get isAcquired(): boolean {
    return this.holds > 0 && this.node !== undefined && this.zk.sessionId === this.ownerSession;
  }

  /** The holder's node, while held. */
  get nodePath(): string | undefined {
    return this.holds > 0 ? this.node : undefined;
  }

  /**
   * Waits for the lock; resolves true once held, false on timeout. Rejects with
   * SessionExpired if the session expired while waiting, with the signal's reason on
   * abort, or with the first error that is not ConnectionLoss.
   *
   * @example
   * const held = await lock.acquire({ timeoutMs: 2_000 });
   */
  async acquire(options: AcquireOptions = {}): Promise<boolean> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (this.isAcquired) {
        this.holds++;
        return true;
      }
      if (!this.attempt) break;
      // Another acquire() of this object is under way: share its outcome.
      const wait = new Waiter(this.zk, deadline, options.signal, []);
      const outcome = await Promise.race([this.attempt.then(() => "done" as const, () => "done" as const), wait.wait()]);
      wait.cancel();
      if (outcome === "timeout") return false;
      if (outcome === "abort") throw aborted(options.signal);
    }
    this.holds = 0;
    this.node = undefined;
    const attempt = this.lockOnce(deadline, options.signal);
    this.attempt = attempt;
    try {
      const held = await attempt;
      if (held) this.holds = 1;
      return held;
    } finally {
      this.attempt = undefined;
    }
  }

  /**
   * Releases one hold; the last one deletes the lock node, and the next waiter goes.
   * After `lost` it only forgets the lock (its node is gone already).
   *
   * @example
   * await lock.release();
   */
  async release(): Promise<void> {
    if (this.holds === 0) throw new KeeperError("BadArguments", `release of a lock not held: ${this.path}`);
    if (--this.holds > 0 && this.isAcquired) return;
    const node = this.node;
    const owned = this.zk.sessionId === this.ownerSession;
    this.holds = 0;
    this.node = undefined;
    if (node && owned) await deleteOwned(this.zk, node);
  }

  /**
   * The fencing token: a `check` of the holder's node to put first in any `multi`
   * that must apply only while this lock is held. Once the session has expired, the
   * node is gone and the multi fails with NoNode (BadVersion if it was changed). The
   * guarded data may be mounted on another shard than the lock: the check is held
   * there until the multi's writes commit.
   *
   * @example
   * await zk.multi([lock.fence(), { op: "setData", path: "/ledger", data }]);
   */
  fence(): Extract<TransactionOp, { op: "check" }> {
    if (this.holds === 0 || !this.node) throw new KeeperError("BadArguments", `fence of a lock not held: ${this.path}`);
    // A lock node is created at version 0 and never written by the recipe.
    return { op: "check", path: this.node, version: 0 };
  }

  /**
   * Identifiers of the holder (first) and the waiters, in queue order.
   *
   * @example
   * const [holder, ...waiting] = await lock.contenders();
   */
  async contenders(): Promise<string[]> {
    const names = await this.queue();
    const decoder = new TextDecoder();
    const ids: string[] = [];
    for (const name of names) {
      try {
        ids.push(decoder.decode((await retryConnectionLoss(() => this.zk.getData(child(this.path, name)))).data));
      } catch (error) {
        if (!isKeeperError(error, "NoNode")) throw error; // it left meanwhile
      }
    }
    return ids;
  }

  /** The lock's nodes (names), in sequence order; [] when the path does not exist. */
  async queue(options: { watch?: () => void } = {}): Promise<string[]> {
    try {
      const { children } = await this.zk.getChildren(this.path, options.watch ? { watch: options.watch } : {});
      return bySequence(children.filter((n) => LOCK_NAMES.some((kind) => n.includes(kind))));
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return [];
      throw error;
    }
  }

  /** One attempt: create our node, then wait until nothing we must wait for precedes it. */
  private async lockOnce(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) throw aborted(signal);
    const { node, sessionId } = await this.createNode();
    const name = node.slice(node.lastIndexOf("/") + 1);
    try {
      for (;;) {
        if (this.zk.sessionId !== sessionId) throw sessionExpired(`waiting for ${this.path}`);
        let queue: string[];
        try {
          queue = await this.queue();
        } catch (error) {
          if (isKeeperError(error, "ConnectionLoss")) continue;
          throw error;
        }
        const index = queue.indexOf(name);
        if (index < 0) {
          if (this.zk.sessionId !== sessionId) throw sessionExpired(`waiting for ${this.path}`);
          throw new KeeperError("NoNode", "the lock node was deleted while waiting", node);
        }
        const blocker = this.blockerOf(queue, index);
        if (blocker === undefined) {
          this.node = node;
          this.ownerSession = sessionId;
          return true;
        }
        if (Date.now() >= deadline) {
          await deleteOwned(this.zk, node);
          return false;
        }
        const wait = new Waiter(this.zk, deadline, signal);
        try {
          if ((await this.zk.exists(child(this.path, blocker), { watch: wait.fire })) === null) {
            wait.cancel();
            continue; // gone already: look again
          }
        } catch (error) {
          wait.cancel();
          if (isKeeperError(error, "ConnectionLoss")) continue;
          throw error;
        }
        const reason = await wait.wait();
        if (reason === "timeout") {
          await deleteOwned(this.zk, node);
          return false;
        }
        if (reason === "abort") throw aborted(signal);
        // event or state (reconnected: an event may have been missed; lost: checked above)
      }
    } catch (error) {
      await deleteOwned(this.zk, node).catch(() => undefined);
      throw error;
    }
  }

  /** The node to wait for: the one just before ours (exclusive), or the last exclusive one before ours (shared). */
  private blockerOf(queue: readonly string[], index: number): string | undefined {
    if (this.kind === "exclusive") return index > 0 ? queue[index - 1] : undefined;
    for (let i = index - 1; i >= 0; i--) if (queue[i]!.includes(EXCLUSIVE)) return queue[i];
    return undefined;
  }

  /** Creates our sequential node, finding it again by its guid if the answer was lost. */
  private async createNode(): Promise<{ node: string; sessionId: number | undefined }> {
    const prefix = `${guid()}${this.kind === "shared" ? SHARED : EXCLUSIVE}`;
    for (;;) {
      const sessionId = this.zk.sessionId;
      try {
        const node = await this.zk.create(child(this.path, prefix), this.identifier, { mode: "EPHEMERAL_SEQUENTIAL" });
        // An answer comes only in the session that made it (a lost one fails its requests).
        return { node, sessionId: this.zk.sessionId };
      } catch (error) {
        if (isKeeperError(error, "NoNode")) {
          await ensureContainers(this.zk, this.path);
          continue;
        }
        if (!isKeeperError(error, "ConnectionLoss")) throw error;
        // The create may have applied: look for our guid before trying again.
        await syncAfterLostAnswer(this.zk, this.path).catch(() => undefined);
        const mine = (await retryConnectionLoss(() => this.queue()).catch(() => [])).find((n) => n.startsWith(prefix));
        if (mine && this.zk.sessionId === sessionId) return { node: child(this.path, mine), sessionId };
      }
    }
  }
}
