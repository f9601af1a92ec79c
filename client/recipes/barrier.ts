/**
 * Barrier: holds clients at a gate until someone removes it, as ZooKeeper's documented
 * barrier and kazoo's Barrier. `create()` sets the barrier (a node), `remove()` lifts it,
 * `wait()` resolves once it is gone. Every waiter is released by the same deletion.
 *
 * Status: beta. Tested with 8 waiting sessions released together, and a waiter
 * through a dropped connection (test/client/recipes-coordination.test.ts). See
 * docs/recipes/barrier.md.
 */
import { type KeeperClient, isKeeperError } from "../index.ts";
import { Waiter, aborted, isClosed, ensureContainers, retryConnectionLoss, sessionExpired } from "./internal.ts";

/**
 * @example
 * const gate = new Barrier(zk, "/barriers/deploy");
 * await gate.create();            // the coordinator
 * await gate.wait();              // workers: resolves once removed
 * await gate.remove();            // the coordinator lifts it
 */
export class Barrier {
  readonly path: string;
  private readonly zk: KeeperClient;

  constructor(zk: KeeperClient, path: string) {
    this.zk = zk;
    this.path = path;
  }

  /** Sets the barrier (a persistent node); false if it was set already. */
  async create(): Promise<boolean> {
    const parent = this.path.slice(0, this.path.lastIndexOf("/"));
    if (parent) await ensureContainers(this.zk, parent);
    try {
      await retryConnectionLoss(() => this.zk.create(this.path));
      return true;
    } catch (error) {
      if (isKeeperError(error, "NodeExists")) return false;
      throw error;
    }
  }

  /** Lifts the barrier; false if it was not set. */
  async remove(): Promise<boolean> {
    try {
      await retryConnectionLoss(() => this.zk.delete(this.path));
      return true;
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return false;
      throw error;
    }
  }

  /**
   * Resolves true once the barrier is gone (at once if it is not set), false on timeout.
   * Survives `suspended`/`reconnected` and a new session (it only reads).
   */
  async wait(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (options.signal?.aborted) throw aborted(options.signal);
      const wait = new Waiter(this.zk, deadline, options.signal);
      let stat;
      try {
        stat = await this.zk.exists(this.path, { watch: wait.fire });
      } catch (error) {
        wait.cancel();
        if (isClosed(this.zk)) throw sessionExpired("the client was closed");
        if (isKeeperError(error, "ConnectionLoss")) continue;
        if (isKeeperError(error, "SessionExpired")) {
          await new Promise((r) => setTimeout(r, 50)); // the client is opening its next session
          continue;
        }
        throw error;
      }
      if (stat === null) {
        wait.cancel();
        return true;
      }
      const reason = await wait.wait();
      if (reason === "timeout") return false;
      if (reason === "abort") throw aborted(options.signal);
      if (isClosed(this.zk)) throw sessionExpired("the client was closed");
      // event or a state change: look again
    }
  }
}
