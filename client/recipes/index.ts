/**
 * Recipes on the client's public API (client/index.ts), as kazoo's and Curator's:
 * locks, leases, elections, barriers, queues, counters, groups, service discovery,
 * caches, and fetch-only locks and config for Workers. Each documents its guarantees and what to do on
 * `suspended` and `lost` in docs/recipes/<recipe>.md.
 *
 * @example
 * import { connect } from "edgekeeper/client";
 * import { Lock } from "edgekeeper/client/recipes"; // in this repo: client/recipes/index.ts
 *
 * const zk = await connect({ servers: ["http://127.0.0.1:8787"], sessionTimeoutMs: 10_000 });
 * const lock = new Lock(zk, "/locks/report");
 * if (await lock.acquire({ timeoutMs: 5_000 })) {
 *   try { await zk.multi([lock.fence(), { op: "setData", path: "/report", data: "done" }]); }
 *   finally { await lock.release(); }
 * }
 */
export { type AcquireOptions, Lock, type LockOptions } from "./lock.ts";
export { ReadWriteLock } from "./read-write-lock.ts";
export { Lease, Semaphore } from "./semaphore.ts";
export { LeaderElection } from "./leader-election.ts";
export { LeaderLatch } from "./leader-latch.ts";
export { Barrier } from "./barrier.ts";
export { type BarrierWaitOptions, DoubleBarrier } from "./double-barrier.ts";
export { Queue, type TakeOptions } from "./queue.ts";
export { PriorityQueue } from "./priority-queue.ts";
export { Counter } from "./counter.ts";
export { Party, PartyWatch } from "./party.ts";
export { PersistentNode, type PersistentNodeOptions } from "./persistent-node.ts";
export {
  type InstanceInput,
  type ProviderOptions,
  Registration,
  ServiceCache,
  ServiceDiscovery,
  type ServiceDiscoveryOptions,
  type ServiceInstance,
  ServiceProvider,
  type Strategy,
} from "./service-discovery.ts";
export { type CachedNode, type TreeCacheOptions, type TreeChange, TreeCache } from "./tree-cache.ts";
export { NodeCache, type NodeSnapshot } from "./node-cache.ts";
export { ConfigValue, type ConfigValueOptions, configValue } from "./config-value.ts";
// For one-request code (Workers): fetch only. Import these two files directly to keep a
// Worker's bundle free of the socket client.
export { type HeldLock, type WithLockOptions, withLock } from "./http-lock.ts";
export { type GetConfigOptions, clearConfigCache, getConfig } from "./http-config.ts";
export type { FetchLike, HttpOptions, HttpTarget } from "./http-endpoint.ts";
