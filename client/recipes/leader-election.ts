/**
 * LeaderElection: campaign, lead, resign, and watch who leads; a Lock on the
 * election path, as kazoo's Election is. The leader is the holder; its identifier
 * is the lock node's data, so observers see who leads, not just that someone does.
 *
 * Status: beta. Tested with 8+ candidates (exactly one leader at a time; a new one
 * after the leader's session expires; observers follow every change). See
 * docs/recipes/leader-election.md.
 */
import { type KeeperClient, type TransactionOp, isKeeperError } from "../index.ts";
import { Waiter, isClosed, child, retryConnectionLoss } from "./internal.ts";
import { type AcquireOptions, Lock } from "./lock.ts";

/**
 * @example
 * const election = new LeaderElection(zk, "/elections/scheduler", { identifier: "host-a:8080" });
 * if (await election.campaign()) {
 *   zk.on("lost", () => stopLeading());      // leadership ends with the session
 *   await leadUntilDone();
 *   await election.resign();
 * }
 *
 * for await (const leader of election.observe()) console.log("leader is", leader);
 */
export class LeaderElection {
  readonly path: string;
  readonly identifier: string;
  private readonly zk: KeeperClient;
  private readonly lock: Lock;
  private campaigning: AbortController | undefined;

  constructor(zk: KeeperClient, path: string, options: { identifier?: string } = {}) {
    this.zk = zk;
    this.path = path;
    this.identifier = options.identifier ?? "";
    this.lock = new Lock(zk, path, { identifier: this.identifier });
  }

  /** Leading now, as far as the client knows (false after `lost`; see Lock.isAcquired about `suspended`). */
  get isLeader(): boolean {
    return this.lock.isAcquired;
  }

  /**
   * Joins the election and resolves true once this candidate leads, false on
   * timeout (it then leaves the queue). `resign()` while waiting resolves false.
   *
   * @example
   * await election.campaign({ timeoutMs: 30_000 });
   */
  async campaign(options: AcquireOptions = {}): Promise<boolean> {
    if (this.lock.isAcquired) return true;
    const controller = new AbortController();
    this.campaigning = controller;
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.lock.acquire({ timeoutMs: options.timeoutMs, signal: controller.signal });
    } catch (error) {
      if (controller.signal.aborted && !options.signal?.aborted) return false; // resigned
      throw error;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      if (this.campaigning === controller) this.campaigning = undefined;
    }
  }

  /**
   * Leads, runs `fn`, then resigns (kazoo's `run`). `fn` gets a signal that aborts
   * when leadership is lost (the session expired).
   *
   * @example
   * await election.run(async (lost) => { while (!lost.aborted) await tick(); });
   */
  async run<T>(fn: (lost: AbortSignal) => Promise<T>, options: AcquireOptions = {}): Promise<T | undefined> {
    if (!(await this.campaign(options))) return undefined;
    const lost = new AbortController();
    const off = this.zk.on("lost", () => lost.abort(new Error("leadership lost: the session expired")));
    try {
      return await fn(lost.signal);
    } finally {
      off();
      await this.resign();
    }
  }

  /** Stops leading or waiting to lead; another candidate takes over. */
  async resign(): Promise<void> {
    this.campaigning?.abort();
    if (this.lock.nodePath) await this.lock.release();
  }

  /** A `check` op that fails once this candidate no longer leads (see Lock.fence). */
  fence(): Extract<TransactionOp, { op: "check" }> {
    return this.lock.fence();
  }

  /** Candidates' identifiers, the leader first. */
  contenders(): Promise<string[]> {
    return this.lock.contenders();
  }

  /** The leader's identifier now, or undefined if nobody leads. */
  async leader(options: { watch?: () => void } = {}): Promise<string | undefined> {
    for (;;) {
      const queue = await retryConnectionLoss(() => this.lock.queue(options));
      const first = queue[0];
      if (first === undefined) {
        // No election node yet, or an empty one: watch for it to appear.
        if (options.watch) await retryConnectionLoss(() => this.zk.exists(this.path, { watch: options.watch }));
        return undefined;
      }
      try {
        const { data } = await retryConnectionLoss(() => this.zk.getData(child(this.path, first)));
        return new TextDecoder().decode(data);
      } catch (error) {
        if (!isKeeperError(error, "NoNode")) throw error; // it left between the two reads: look again
      }
    }
  }

  /**
   * The leader's identifier (undefined: nobody), now and on every change, until the
   * loop is left or `signal` aborts. Only the election's children are watched;
   * after a reconnect or a new session it reads again, so it never stays stale.
   *
   * @example
   * for await (const leader of election.observe()) render(leader ?? "no leader");
   */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<string | undefined> {
    let last: string | undefined | null = null;
    while (!options.signal?.aborted && !isClosed(this.zk)) {
      const wait = new Waiter(this.zk, Infinity, options.signal);
      let current: string | undefined;
      try {
        current = await this.leader({ watch: wait.fire });
      } catch (error) {
        if (!isKeeperError(error, "SessionExpired") && !isKeeperError(error, "ConnectionLoss")) {
          wait.cancel();
          throw error;
        }
        if (isClosed(this.zk)) return;
        await wait.wait(); // the next state change
        continue;
      }
      if (current !== last) {
        last = current;
        yield current;
      }
      const reason = await wait.wait();
      if (reason === "abort") return;
    }
  }
}
