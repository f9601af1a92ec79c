/**
 * Party (group membership): members join a group as ephemeral nodes under one path
 * and anyone can list or follow who is in it, as kazoo's Party is. A member stays in
 * the party while its client lives: after an expiry it re-joins in the new session
 * (a PersistentNode), and it goes when its session dies.
 *
 * Status: beta. Tested with 8 members joining, leaving, vanishing with their sessions
 * and a watcher following them (test/client/recipes-discovery.test.ts). See
 * docs/recipes/party.md.
 *
 * Nodes: `<path>/<guid>__member__` holding the member's identifier.
 */
import { type KeeperClient, isKeeperError } from "../index.ts";
import { child, guid, retryConnectionLoss } from "./internal.ts";
import { Listeners } from "./listeners.ts";
import { PersistentNode } from "./persistent-node.ts";
import { TreeCache } from "./tree-cache.ts";

const MEMBER = "__member__";

type PartyEvents = { change: [string[]]; error: [unknown] };

/**
 * @example
 * const party = new Party(zk, "/parties/workers", { identifier: "pod-3" });
 * await party.join();
 * await party.members(); // ["pod-1", "pod-3", ...]
 * const live = await party.watch();
 * live.on("change", (members) => rebalance(members));
 * await party.leave();
 */
export class Party {
  readonly path: string;
  private readonly zk: KeeperClient;
  private readonly node: PersistentNode;

  constructor(zk: KeeperClient, path: string, options: { identifier?: string } = {}) {
    this.zk = zk;
    this.path = path;
    this.node = new PersistentNode(zk, child(path, `${guid()}${MEMBER}`), options.identifier ?? "");
  }

  /** Joins; resolves once listed. Stays a member (across expiries) until `leave()`. */
  join(): Promise<void> {
    return this.node.start();
  }

  /** Leaves the party for good. */
  leave(): Promise<void> {
    return this.node.close();
  }

  /** The members' identifiers now, sorted (one listing). */
  async members(): Promise<string[]> {
    let names: string[];
    try {
      names = (await retryConnectionLoss(() => this.zk.getChildren(this.path))).children.filter((n) => n.endsWith(MEMBER));
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return [];
      throw error;
    }
    if (names.length === 0) return [];
    const reads = await retryConnectionLoss(() => this.zk.multiRead(names.map((n) => ({ op: "getData" as const, path: child(this.path, n) }))));
    const decoder = new TextDecoder();
    return reads.flatMap((r) => (r.op === "getData" ? [decoder.decode(r.data)] : [])).sort();
  }

  /** The members kept current, with a `change` event. */
  watch(): Promise<PartyWatch> {
    return new PartyWatch(this.zk, this.path).start();
  }
}

/** Who is in a party now; see {@link Party.watch}. */
export class PartyWatch {
  private readonly tree: TreeCache;
  private readonly listeners = new Listeners<PartyEvents>();

  constructor(zk: KeeperClient, path: string) {
    this.tree = new TreeCache(zk, path, { maxDepth: 1 });
    this.tree.on("change", () => this.listeners.emit("change", this.members));
    this.tree.on("error", (error) => this.listeners.emit("error", error));
  }

  /** The members' identifiers now, sorted. */
  get members(): string[] {
    const decoder = new TextDecoder();
    return this.tree
      .children(this.tree.root)
      .filter((n) => n.endsWith(MEMBER))
      .map((n) => decoder.decode(this.tree.get(child(this.tree.root, n))!.data))
      .sort();
  }

  on<K extends keyof PartyEvents>(name: K, listener: (...args: PartyEvents[K]) => void): () => void {
    return this.listeners.on(name, listener);
  }

  async start(): Promise<this> {
    await this.tree.start();
    return this;
  }

  close(): Promise<void> {
    return this.tree.close();
  }
}
