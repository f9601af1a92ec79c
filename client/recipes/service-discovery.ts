/**
 * ServiceDiscovery: services register instances (an ephemeral node each, with a JSON
 * payload: address, port, metadata, health) under `<basePath>/<service>/<id>`;
 * clients list them, watch them, and pick one by a strategy (random, round robin,
 * sticky), as Curator's ServiceDiscovery, ServiceCache and ServiceProvider do.
 *
 * An instance vanishes when its session dies. A live registration (a PersistentNode)
 * re-creates itself in the client's new session after an expiry, so an outage of the
 * registering process's connection never leaves the service unlisted for longer than
 * the reconnect takes.
 *
 * Status: beta. Tested with 8 registering sessions (appearing, vanishing with their
 * sessions, re-created after an expiry), watchers converging, and each strategy
 * (test/client/recipes-discovery.test.ts). See docs/recipes/service-discovery.md.
 */
import { type KeeperClient, isKeeperError } from "../index.ts";
import { child, guid, retryConnectionLoss } from "./internal.ts";
import { Listeners } from "./listeners.ts";
import { PersistentNode } from "./persistent-node.ts";
import { TreeCache } from "./tree-cache.ts";

/** What an instance says about itself; stored as the node's JSON. */
export interface ServiceInstance<M = Record<string, unknown>> {
  /** The service's name. */
  name: string;
  /** Unique within the service (default: a random id). */
  id: string;
  address: string;
  port?: number;
  metadata?: M;
  /** `healthy` (default), `unhealthy` (never picked by default), `draining`, or your own word. */
  health?: string;
  /** When it was registered, ms since 1970. */
  registeredAt: number;
}

export type InstanceInput<M> = Omit<ServiceInstance<M>, "id" | "registeredAt"> & { id?: string };

export interface ServiceDiscoveryOptions {
  /** Where services live (default `/services`). */
  basePath?: string;
}

/** A registration kept alive; see {@link ServiceDiscovery.register}. */
export class Registration<M = Record<string, unknown>> {
  private instanceNow: ServiceInstance<M>;
  private readonly node: PersistentNode;

  constructor(node: PersistentNode, instance: ServiceInstance<M>) {
    this.node = node;
    this.instanceNow = instance;
  }

  get instance(): ServiceInstance<M> {
    return this.instanceNow;
  }

  /** Called after each re-creation (say, in a new session after an expiry). */
  onRecreated(listener: (path: string) => void): () => void {
    return this.node.on("created", listener);
  }

  /** Changes what the instance says (health, metadata, ...); kept in re-creations too. */
  async update(changes: Partial<Omit<ServiceInstance<M>, "name" | "id">>): Promise<void> {
    this.instanceNow = { ...this.instanceNow, ...changes };
    await this.node.setData(JSON.stringify(this.instanceNow));
  }

  /** Removes the instance for good. */
  unregister(): Promise<void> {
    return this.node.close();
  }
}

type CacheEvents<M> = { change: [ServiceInstance<M>[]]; error: [unknown] };

/** A service's instances kept current by a TreeCache of depth 1. */
export class ServiceCache<M = Record<string, unknown>> {
  readonly name: string;
  private readonly tree: TreeCache;
  private readonly listeners = new Listeners<CacheEvents<M>>();

  constructor(zk: KeeperClient, servicePath: string, name: string) {
    this.name = name;
    this.tree = new TreeCache(zk, servicePath, { maxDepth: 1 });
    this.tree.on("change", () => this.listeners.emit("change", this.instances));
    this.tree.on("error", (error) => this.listeners.emit("error", error));
  }

  /** The instances now, by id. */
  get instances(): ServiceInstance<M>[] {
    const out: ServiceInstance<M>[] = [];
    for (const name of this.tree.children(this.tree.root)) {
      const node = this.tree.get(child(this.tree.root, name));
      const instance = node && parseInstance<M>(node.data);
      if (instance) out.push(instance);
    }
    return out;
  }

  /** `change` with the full list after every change. */
  on<K extends keyof CacheEvents<M>>(name: K, listener: (...args: CacheEvents<M>[K]) => void): () => void {
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

export type Strategy = "random" | "round-robin" | "sticky";

export interface ProviderOptions<M> {
  /** Default `round-robin`. `sticky` keeps the instance it picked while it is listed (and passes the filter), then picks at random. */
  strategy?: Strategy;
  /** Which instances may be picked; default: every one whose health is not `unhealthy`. */
  filter?: (instance: ServiceInstance<M>) => boolean;
}

/** Picks an instance of a service from a live ServiceCache. */
export class ServiceProvider<M = Record<string, unknown>> {
  readonly cache: ServiceCache<M>;
  private readonly strategy: Strategy;
  private readonly filter: (instance: ServiceInstance<M>) => boolean;
  private next = 0;
  private stuck: string | undefined;

  constructor(cache: ServiceCache<M>, options: ProviderOptions<M> = {}) {
    this.cache = cache;
    this.strategy = options.strategy ?? "round-robin";
    this.filter = options.filter ?? ((i) => i.health !== "unhealthy");
  }

  /** An instance by the strategy; undefined when none is listed (and passes the filter). */
  pick(): ServiceInstance<M> | undefined {
    const candidates = this.cache.instances.filter(this.filter);
    if (candidates.length === 0) return undefined;
    if (this.strategy === "round-robin") return candidates[this.next++ % candidates.length];
    if (this.strategy === "sticky") {
      const kept = candidates.find((i) => i.id === this.stuck);
      if (kept) return kept;
    }
    const chosen = candidates[Math.floor(Math.random() * candidates.length)]!;
    this.stuck = chosen.id;
    return chosen;
  }

  close(): Promise<void> {
    return this.cache.close();
  }
}

/**
 * @example
 * const discovery = new ServiceDiscovery(zk);
 * const reg = await discovery.register({ name: "api", address: "10.0.0.7", port: 8080, metadata: { zone: "eu" } });
 * const api = await discovery.provider("api", { strategy: "round-robin" });
 * const target = api.pick(); // { address, port, ... } or undefined
 * await reg.update({ health: "draining" });
 * await reg.unregister();
 */
export class ServiceDiscovery {
  readonly basePath: string;
  private readonly zk: KeeperClient;

  constructor(zk: KeeperClient, options: ServiceDiscoveryOptions = {}) {
    this.zk = zk;
    this.basePath = options.basePath ?? "/services";
  }

  /** Registers an instance; resolves once it is listed. It stays listed (re-created after an expiry) until `unregister()`. */
  async register<M = Record<string, unknown>>(input: InstanceInput<M>): Promise<Registration<M>> {
    if (!input.name || input.name.includes("/")) throw new TypeError(`bad service name: ${input.name}`);
    const instance: ServiceInstance<M> = { health: "healthy", ...input, id: input.id ?? guid(), registeredAt: Date.now() };
    const node = new PersistentNode(this.zk, child(this.servicePath(instance.name), instance.id), JSON.stringify(instance));
    await node.start();
    return new Registration(node, instance);
  }

  /** The instances of a service now (one read; use `watch` to follow them). */
  async instances<M = Record<string, unknown>>(name: string): Promise<ServiceInstance<M>[]> {
    const path = this.servicePath(name);
    let ids: string[];
    try {
      ids = (await retryConnectionLoss(() => this.zk.getChildren(path))).children;
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return [];
      throw error;
    }
    if (ids.length === 0) return [];
    const reads = await retryConnectionLoss(() => this.zk.multiRead(ids.map((id) => ({ op: "getData" as const, path: child(path, id) }))));
    return reads.flatMap((r) => (r.op === "getData" ? [parseInstance<M>(r.data)].filter((i): i is ServiceInstance<M> => !!i) : []));
  }

  /** The names of the registered services. */
  async services(): Promise<string[]> {
    try {
      return (await retryConnectionLoss(() => this.zk.getChildren(this.basePath))).children;
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return [];
      throw error;
    }
  }

  /** A live list of a service's instances, with `change` events. */
  watch<M = Record<string, unknown>>(name: string): Promise<ServiceCache<M>> {
    return new ServiceCache<M>(this.zk, this.servicePath(name), name).start();
  }

  /** A live list and a strategy to pick from it. */
  async provider<M = Record<string, unknown>>(name: string, options: ProviderOptions<M> = {}): Promise<ServiceProvider<M>> {
    return new ServiceProvider<M>(await this.watch<M>(name), options);
  }

  private servicePath(name: string): string {
    return child(this.basePath, name);
  }
}

function parseInstance<M>(data: Uint8Array): ServiceInstance<M> | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as ServiceInstance<M>;
    return typeof value === "object" && value !== null && typeof value.id === "string" ? value : undefined;
  } catch {
    return undefined; // not an instance (say, a node someone else put there)
  }
}
