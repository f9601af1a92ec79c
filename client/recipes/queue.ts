/**
 * Queue: a distributed FIFO queue with exactly-once consumption, ZooKeeper's
 * documented queue recipe. `put()` adds an item as a PERSISTENT_SEQUENTIAL node;
 * `take()` claims the head by deleting it at the version it read: the server applies
 * exactly one delete of a node, so two consumers never get the same item.
 *
 * A take whose answer is lost (ConnectionLoss) is resolved, not guessed: the delete
 * goes in one multi with the creation of a claim node (`<path>/claim-<consumer>-<item>`,
 * EPHEMERAL), so after the session resumes the consumer finds its claim and knows the
 * item is its own. Only if the session expires in that window is the outcome unknown
 * to the consumer (the item is then consumed at most once, never twice).
 *
 * Status: beta. Tested with 8 consumers and 8 producers over 200 items (each consumed
 * exactly once) and through dropped connections (test/client/recipes-coordination.test.ts).
 * See docs/recipes/queue.md.
 */
import { type Data, type KeeperClient, isKeeperError } from "../index.ts";
import { Waiter, aborted, child, ensureContainers, guid, isClosed, retryConnectionLoss, syncAfterLostAnswer } from "./internal.ts";

const ENTRY = "entry-";
const CLAIM = "claim-";

export interface TakeOptions {
  /** Give up after this long (resolves undefined). Default: wait as long as it takes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * @example
 * const jobs = new Queue(zk, "/queues/jobs");
 * await jobs.put(JSON.stringify({ id: 7 }));
 * const item = await jobs.take(); // Uint8Array; this consumer alone got it
 * const maybe = await jobs.poll(); // undefined when empty
 */
export class Queue {
  readonly path: string;
  protected readonly zk: KeeperClient;
  private readonly consumer = guid();

  constructor(zk: KeeperClient, path: string) {
    this.zk = zk;
    this.path = path;
  }

  /** Adds an item at the tail; resolves with its node's path. */
  async put(data: Data): Promise<string> {
    return this.putNamed(ENTRY, data);
  }

  /** How many items are queued now. */
  async size(): Promise<number> {
    return (await this.entries()).length;
  }

  /** Takes the head item if there is one; undefined when the queue is empty. */
  async poll(): Promise<Uint8Array | undefined> {
    for (;;) {
      const entries = await this.entries();
      if (entries.length === 0) return undefined;
      const item = await this.takeFirstOf(entries);
      if (item) return item;
    }
  }

  /** Takes the head item, waiting for one; undefined on timeout. */
  async take(options: TakeOptions = {}): Promise<Uint8Array | undefined> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (options.signal?.aborted) throw aborted(options.signal);
      const wait = new Waiter(this.zk, deadline, options.signal);
      let entries: string[];
      try {
        entries = await this.entries(wait.fire);
      } catch (error) {
        wait.cancel();
        throw error;
      }
      if (entries.length > 0) {
        wait.cancel();
        const item = await this.takeFirstOf(entries);
        if (item) return item;
        continue;
      }
      const reason = await wait.wait();
      if (reason === "timeout") return undefined;
      if (reason === "abort") throw aborted(options.signal);
    }
  }

  /** Item node names in queue order. */
  protected order(names: string[]): string[] {
    return names.filter((n) => n.startsWith(ENTRY)).sort();
  }

  protected async putNamed(prefix: string, data: Data): Promise<string> {
    for (;;) {
      try {
        // A retried put after ConnectionLoss may add the item twice: puts are at least once.
        return await retryConnectionLoss(() => this.zk.create(child(this.path, prefix), data, { mode: "PERSISTENT_SEQUENTIAL" }));
      } catch (error) {
        if (!isKeeperError(error, "NoNode")) throw error;
        await ensureContainers(this.zk, this.path);
      }
    }
  }

  private async entries(watch?: () => void): Promise<string[]> {
    try {
      const { children } = await retryConnectionLoss(() => this.zk.getChildren(this.path, watch ? { watch } : {}));
      return this.order(children);
    } catch (error) {
      if (isKeeperError(error, "NoNode")) {
        if (watch) await this.zk.exists(this.path, { watch }); // wake on the queue's creation
        return [];
      }
      throw error;
    }
  }

  /** Tries the entries in order; the first one this consumer deletes is its item. */
  private async takeFirstOf(entries: string[]): Promise<Uint8Array | undefined> {
    for (const name of entries) {
      if (isClosed(this.zk)) throw new Error("the client was closed");
      const path = child(this.path, name);
      let read;
      try {
        read = await retryConnectionLoss(() => this.zk.getData(path));
      } catch (error) {
        if (isKeeperError(error, "NoNode")) continue; // taken by another consumer
        throw error;
      }
      const claim = child(this.path, `${CLAIM}${this.consumer}-${name}`);
      try {
        await this.zk.multi([
          { op: "delete", path, version: read.stat.version },
          { op: "create", path: claim, mode: "EPHEMERAL" },
        ]);
      } catch (error) {
        if (isKeeperError(error, "NoNode") || isKeeperError(error, "BadVersion")) continue;
        if (!isKeeperError(error, "ConnectionLoss")) throw error;
        // Did our multi apply? Our claim says so (it lives as long as this session).
        await syncAfterLostAnswer(this.zk, claim);
        if ((await retryConnectionLoss(() => this.zk.exists(claim))) === null) {
          if ((await retryConnectionLoss(() => this.zk.exists(path))) !== null) return this.takeFirstOf([name]);
          continue;
        }
      }
      await retryConnectionLoss(() => this.zk.delete(claim)).catch(() => undefined);
      return read.data;
    }
    return undefined;
  }
}
