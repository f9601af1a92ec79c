/**
 * PersistentNode: an ephemeral node that stays there while it is wanted, as Curator's
 * PersistentNode does. It is created on `start()`, and again whenever it goes missing
 * while started: deleted by someone else, or gone with an expired session (the client
 * reports `lost`, then opens a new session and reports `connected`: the node is
 * re-created in that session). `close()` deletes it for good.
 *
 * Status: beta. Tested through an expiry (re-created in the new session) and by the
 * recipes built on it (Party, ServiceDiscovery) in test/client/recipes-discovery.test.ts.
 * See docs/recipes/persistent-node.md.
 */
import { type CreateMode, type Data, type KeeperClient, KeeperError, type Stat, isKeeperError } from "../index.ts";
import { Waiter, ensureContainers, isClosed, retryConnectionLoss } from "./internal.ts";
import { Listeners, deferred } from "./listeners.ts";

export interface PersistentNodeOptions {
  /** `EPHEMERAL` (default) or `EPHEMERAL_SEQUENTIAL` (the path is then a prefix, and `path` gives the created name). */
  mode?: Extract<CreateMode, "EPHEMERAL" | "EPHEMERAL_SEQUENTIAL">;
}

type NodeEvents = { created: [string]; error: [unknown] };

/**
 * @example
 * const node = new PersistentNode(zk, "/workers/pod-3", JSON.stringify({ pid: 42 }));
 * await node.start(); // resolves once the node exists
 * node.on("created", (path) => console.log("(re-)created", path));
 * await node.setData("busy");
 * await node.close();
 */
export class PersistentNode {
  private readonly zk: KeeperClient;
  private readonly requested: string;
  private readonly mode: "EPHEMERAL" | "EPHEMERAL_SEQUENTIAL";
  private readonly listeners = new Listeners<NodeEvents>();
  private data: Data;
  private actual: string | undefined;
  private started = false;
  private closed = false;
  private running: Promise<void> | undefined;
  private again = false;
  private offStates: (() => void)[] = [];

  constructor(zk: KeeperClient, path: string, data: Data = "", options: PersistentNodeOptions = {}) {
    this.zk = zk;
    this.requested = path;
    this.data = data;
    this.mode = options.mode ?? "EPHEMERAL";
  }

  /** The node's path as created (with its sequence suffix), once created. */
  get path(): string | undefined {
    return this.actual;
  }

  /** `created` after each (re-)creation, with the path; `error` when a (re-)creation failed for good. */
  on<K extends keyof NodeEvents>(name: K, listener: (...args: NodeEvents[K]) => void): () => void {
    return this.listeners.on(name, listener);
  }

  /**
   * Creates the node (and its parents, as containers) and keeps it: resolves once it
   * exists in the current session.
   */
  async start(): Promise<void> {
    if (this.closed) throw new Error("PersistentNode was closed");
    if (!this.started) {
      this.started = true;
      // A new session (after lost) has none of our node; a resumed one may have missed its deletion.
      this.offStates.push(this.zk.on("connected", () => this.ensure()));
      this.offStates.push(this.zk.on("reconnected", () => this.ensure()));
    }
    await this.ensure();
  }

  /** Replaces the node's data, now and in every re-creation. */
  async setData(data: Data): Promise<Stat | undefined> {
    this.data = data;
    if (!this.actual) return undefined;
    try {
      return await retryConnectionLoss(() => this.zk.setData(this.actual!, data));
    } catch (error) {
      if (!isKeeperError(error, "NoNode") && !isKeeperError(error, "SessionExpired")) throw error;
      await this.ensure();
      return undefined;
    }
  }

  /** Stops keeping the node and deletes it. */
  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.offStates.splice(0)) off();
    await this.running?.catch(() => undefined);
    const path = this.actual;
    this.actual = undefined;
    if (!path || isClosed(this.zk)) return;
    try {
      await retryConnectionLoss(() => this.zk.delete(path));
    } catch (error) {
      if (!isKeeperError(error, "NoNode") && !isKeeperError(error, "SessionExpired")) throw error;
    }
  }

  /** Runs one check-and-create at a time; a request during a run runs once more after it. */
  private ensure(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      try {
        do {
          this.again = false;
          await this.createIfMissing();
        } while (this.again && !this.closed);
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    run.catch((error: unknown) => this.listeners.emit("error", error));
    return run;
  }

  private async createIfMissing(): Promise<void> {
    for (let attempt = 0; !this.closed && !isClosed(this.zk); attempt++) {
      const session = this.zk.sessionId;
      try {
        if (this.actual) {
          const stat = await this.zk.exists(this.actual, { watch: (ev) => ev.type === "NodeDeleted" && this.ensure() });
          if (stat && stat.ephemeralOwner === session) return;
          if (stat) {
            // The previous session's node, not yet reaped: wait for it to go. Another
            // live session's node of the same name is an error the caller must resolve.
            if (attempt >= 3) throw new KeeperError("NodeExists", "another session holds the node", this.actual);
            const wait = new Waiter(this.zk, Date.now() + this.zk.sessionTimeoutMs);
            if ((await this.zk.exists(this.actual, { watch: wait.fire })) !== null) await wait.wait();
            continue;
          }
        }
        const target = this.requested;
        let created: string;
        try {
          created = await this.zk.create(target, this.data, { mode: this.mode });
        } catch (error) {
          if (isKeeperError(error, "NoNode")) {
            await ensureContainers(this.zk, target.slice(0, target.lastIndexOf("/")) || "/");
            continue;
          }
          if (isKeeperError(error, "NodeExists")) {
            this.actual = target; // ours (a create whose answer was lost) or an old session's: checked above
            continue;
          }
          throw error;
        }
        this.actual = created;
        await this.zk.exists(created, { watch: (ev) => ev.type === "NodeDeleted" && this.ensure() });
        this.listeners.emit("created", created);
        return;
      } catch (error) {
        if (isKeeperError(error, "ConnectionLoss") || isKeeperError(error, "SessionExpired")) {
          // Wait for the session to come back (requests wait while suspended) and try again.
          if (isKeeperError(error, "SessionExpired")) await this.nextSession(session);
          continue;
        }
        throw error;
      }
    }
  }

  /** Resolves once the client has a session other than `old` (or is closed). */
  private async nextSession(old: number | undefined): Promise<void> {
    if (this.zk.sessionId !== old && this.zk.sessionId !== undefined) return;
    const next = deferred();
    const offs = [this.zk.on("connected", () => next.resolve()), this.zk.on("closed", () => next.resolve())];
    try {
      await next.promise;
    } finally {
      for (const off of offs) off();
    }
  }
}
