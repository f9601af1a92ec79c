/**
 * ReadWriteLock: readers share, a writer is alone; fair (in arrival order) and
 * herd-free. Two Locks on one path, as kazoo's ReadLock and WriteLock are: a reader's
 * node (`__rlock__`) waits only for the last writer's node before it, a writer's
 * (`__lock__`) for the node just before it. A plain `Lock` on the same path is a writer.
 *
 * Status: beta. Tested with 8+ sessions mixing readers and writers (never a writer
 * beside anyone, readers overlapping); fault behaviour is Lock's (the same code).
 * See docs/recipes/read-write-lock.md.
 */
import type { Data, KeeperClient } from "../index.ts";
import { Lock } from "./lock.ts";

/**
 * @example
 * const rw = new ReadWriteLock(zk, "/locks/catalog");
 * await rw.readLock.acquire();
 * try { await readCatalog(); } finally { await rw.readLock.release(); }
 *
 * if (await rw.writeLock.acquire({ timeoutMs: 5_000 })) {
 *   try { await zk.multi([rw.writeLock.fence(), { op: "setData", path: "/catalog", data }]); }
 *   finally { await rw.writeLock.release(); }
 * }
 */
export class ReadWriteLock {
  /** Shared with other readers; waits for writers queued before it. */
  readonly readLock: Lock;
  /** Exclusive; waits for every reader and writer queued before it. */
  readonly writeLock: Lock;

  constructor(zk: KeeperClient, path: string, options: { identifier?: Data } = {}) {
    this.readLock = new Lock(zk, path, { ...options, kind: "shared" });
    this.writeLock = new Lock(zk, path, { ...options, kind: "exclusive" });
  }
}
