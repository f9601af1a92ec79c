/**
 * Counter: a shared integer changed by compare-and-set, as kazoo's Counter. `add()`
 * reads the value and its version and writes the sum at that version; a BadVersion
 * (someone else wrote first) reads again and retries, so no increment is lost.
 *
 * Status: beta. Tested with 8 writers x 25 increments (no lost update) and through a
 * dropped connection (test/client/recipes-coordination.test.ts). See docs/recipes/counter.md.
 *
 * The node holds the value as decimal text (kazoo's format), so other clients can read it.
 */
import { type KeeperClient, KeeperError, isKeeperError } from "../index.ts";
import { ensureContainers, retryConnectionLoss } from "./internal.ts";

/**
 * @example
 * const hits = new Counter(zk, "/counters/hits");
 * await hits.add(1);     // the new value
 * await hits.add(-5);
 * await hits.get();
 */
export class Counter {
  readonly path: string;
  private readonly zk: KeeperClient;
  private readonly initial: number;

  constructor(zk: KeeperClient, path: string, options: { initial?: number } = {}) {
    this.zk = zk;
    this.path = path;
    this.initial = options.initial ?? 0;
  }

  /** The value now (`initial` if the node does not exist yet). */
  async get(): Promise<number> {
    return (await this.read()).value;
  }

  /**
   * Adds `delta` (may be negative) and resolves with the new value. Retries BadVersion
   * as long as it takes. A ConnectionLoss on the write itself is rethrown: the write
   * may or may not have applied (as in ZooKeeper), and retrying could count it twice.
   */
  async add(delta: number): Promise<number> {
    if (!Number.isSafeInteger(delta)) throw new RangeError(`not a safe integer: ${delta}`);
    for (;;) {
      const { value, version } = await this.read();
      const next = value + delta;
      try {
        if (version < 0) await this.zk.create(this.path, String(next));
        else await this.zk.setData(this.path, String(next), version);
        return next;
      } catch (error) {
        if (isKeeperError(error, "BadVersion") || isKeeperError(error, "NodeExists")) continue;
        if (isKeeperError(error, "NoNode")) {
          if (version < 0) await ensureContainers(this.zk, this.path.slice(0, this.path.lastIndexOf("/")) || "/");
          continue; // deleted meanwhile, or its parent was missing
        }
        throw error;
      }
    }
  }

  /** Subtracts; resolves with the new value. */
  subtract(delta: number): Promise<number> {
    return this.add(-delta);
  }

  private async read(): Promise<{ value: number; version: number }> {
    try {
      const { data, stat } = await retryConnectionLoss(() => this.zk.getData(this.path));
      const text = new TextDecoder().decode(data);
      const value = text === "" ? this.initial : Number(text);
      if (!Number.isSafeInteger(value)) throw new KeeperError("BadArguments", `not a counter: ${text}`, this.path);
      return { value, version: stat.version };
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return { value: this.initial, version: -1 };
      throw error;
    }
  }
}
