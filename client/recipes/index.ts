/**
 * Recipes on the client's public API (client/index.ts), as kazoo's and Curator's:
 * locks, leases, elections. Each documents its guarantees and what to do on
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
