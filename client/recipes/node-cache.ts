/**
 * NodeCache: a live local copy of one znode (data and Stat, or its absence), kept
 * current by a persistent watch (`addWatch(path, "persistent")`), as Curator's
 * NodeCache is. Reports each change.
 *
 * Status: beta. Tested converging to the last written value, through a dropped
 * connection and a session expiry (test/client/recipes-discovery.test.ts). See
 * docs/recipes/node-cache.md.
 *
 * The watch is set before the first read, so no change after `start()` is missed;
 * each event re-reads the node, and answers arrive in the session's order, so the
 * last answer is the newest state. After `reconnected` it re-reads (an event may have
 * been missed while the socket was down); after a new session (`connected`) it sets
 * the watch again and re-reads.
 */
import { type KeeperClient, type Stat, type WatchEvent, isKeeperError } from "../index.ts";
import { isClosed, retryConnectionLoss } from "./internal.ts";
import { Listeners, deferred } from "./listeners.ts";

/** The node as the cache holds it; undefined while it does not exist. */
export type NodeSnapshot = { data: Uint8Array; stat: Stat } | undefined;

type NodeCacheEvents = { change: [NodeSnapshot, NodeSnapshot]; error: [unknown] };

/**
 * @example
 * const cache = new NodeCache(zk, "/config/feature-flags");
 * cache.on("change", (now) => console.log(now ? new TextDecoder().decode(now.data) : "(deleted)"));
 * await cache.start();
 * cache.current?.stat.version;
 * await cache.close();
 */
export class NodeCache {
  readonly path: string;
  private readonly zk: KeeperClient;
  private readonly listeners = new Listeners<NodeCacheEvents>();
  private readonly listener = (event: WatchEvent) => {
    if (event.type !== "NodeChildrenChanged") this.read();
  };
  private snapshot: NodeSnapshot;
  private offStates: (() => void)[] = [];
  private started = false;
  private closed = false;
  private readonly ready = deferred();

  constructor(zk: KeeperClient, path: string) {
    this.zk = zk;
    this.path = path;
  }

  /** The node now, as far as this cache knows; undefined if it does not exist. */
  get current(): NodeSnapshot {
    return this.snapshot;
  }

  /** `change` with (now, before) after each change; `error` when a re-read failed for good. */
  on<K extends keyof NodeCacheEvents>(name: K, listener: (...args: NodeCacheEvents[K]) => void): () => void {
    return this.listeners.on(name, listener);
  }

  /** Sets the watch and reads the node; resolves once `current` holds it. */
  async start(): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.offStates.push(this.zk.on("reconnected", () => this.read()));
      this.offStates.push(this.zk.on("connected", () => {
        void retryConnectionLoss(() => this.zk.addWatch(this.path, "persistent", this.listener)).then(
          () => this.read(),
          (error: unknown) => this.listeners.emit("error", error),
        );
      }));
      await retryConnectionLoss(() => this.zk.addWatch(this.path, "persistent", this.listener));
      await this.apply();
      this.ready.resolve();
    }
    await this.ready.promise;
  }

  /** Stops watching; `current` keeps the last value. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.offStates.splice(0)) off();
    this.listeners.clear();
    if (this.zk.state === "connected") await this.zk.removeWatches(this.path, "persistent").catch(() => undefined);
  }

  private read(): void {
    if (this.closed) return;
    void this.apply().catch((error: unknown) => this.listeners.emit("error", error));
  }

  private async apply(): Promise<void> {
    if (isClosed(this.zk)) return;
    let next: NodeSnapshot;
    try {
      next = await retryConnectionLoss(() => this.zk.getData(this.path));
    } catch (error) {
      if (!isKeeperError(error, "NoNode")) throw error;
      next = undefined;
    }
    if (this.closed) return;
    const before = this.snapshot;
    if (before?.stat.mzxid === next?.stat.mzxid && before?.stat.czxid === next?.stat.czxid) return;
    this.snapshot = next;
    this.listeners.emit("change", next, before);
  }
}
