/**
 * Semaphore: at most `maxLeases` leases held at once across sessions, Curator's
 * InterProcessSemaphoreV2 (and kazoo's Semaphore) over our Lock.
 *
 * Status: beta. Tested with 8+ sessions on 3 leases (never more than 3 held; a
 * killed holder's lease comes back after its session expires). See
 * docs/recipes/semaphore.md.
 *
 * Nodes: `<path>/lock` (a Lock that serializes acquirers: only its holder watches the
 * leases, so waiting is herd-free) and `<path>/leases/<guid>-lease-<seq>`
 * (EPHEMERAL_SEQUENTIAL, one per lease, the data is the identifier). The lease is
 * created in a `multi` behind the lock's fence, so an acquirer whose session expired
 * between counting and creating cannot add one. Every participant must use the same
 * `maxLeases` (as in Curator); nothing checks it.
 */
import { type Data, type KeeperClient, KeeperError, type TransactionOp, isKeeperError } from "../index.ts";
import { type AcquireOptions, Lock } from "./lock.ts";
import { Waiter, aborted, child, deleteOwned, ensureContainers, guid, retryConnectionLoss, syncAfterLostAnswer } from "./internal.ts";

/**
 * One lease. Release it when done; it also goes when its session expires.
 *
 * @example
 * const lease = await sem.acquire();
 * try { await work(); } finally { await lease?.release(); }
 */
export class Lease {
  readonly path: string;
  private readonly zk: KeeperClient;
  private released = false;

  constructor(zk: KeeperClient, path: string) {
    this.zk = zk;
    this.path = path;
  }

  /** A `check` of the lease node for a `multi`: fails (NoNode) once the lease is gone. */
  fence(): Extract<TransactionOp, { op: "check" }> {
    return { op: "check", path: this.path, version: 0 };
  }

  /** Gives the lease back (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await deleteOwned(this.zk, this.path);
  }
}

/**
 * @example
 * const sem = new Semaphore(zk, "/semaphores/db-connections", 3);
 * const lease = await sem.acquire({ timeoutMs: 10_000 });
 * if (lease) {
 *   try { await query(); } finally { await lease.release(); }
 * }
 */
export class Semaphore {
  readonly path: string;
  readonly maxLeases: number;
  private readonly zk: KeeperClient;
  private readonly identifier: Data;
  private readonly lock: Lock;
  private readonly leasesPath: string;

  constructor(zk: KeeperClient, path: string, maxLeases: number, options: { identifier?: Data } = {}) {
    if (!Number.isInteger(maxLeases) || maxLeases < 1) throw new KeeperError("BadArguments", `maxLeases must be a positive integer: ${maxLeases}`);
    this.zk = zk;
    this.path = path;
    this.maxLeases = maxLeases;
    this.identifier = options.identifier ?? "";
    this.lock = new Lock(zk, child(path, "lock"), options);
    this.leasesPath = child(path, "leases");
  }

  /**
   * Waits for a lease; resolves with it, or null on timeout. Rejects as Lock.acquire does.
   *
   * @example
   * const lease = await sem.acquire({ timeoutMs: 0 }); // null if all are taken
   */
  async acquire(options: AcquireOptions = {}): Promise<Lease | null> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    if (!(await this.lock.acquire(options))) return null;
    try {
      for (;;) {
        const wait = new Waiter(this.zk, deadline, options.signal);
        let count: number;
        try {
          count = (await this.zk.getChildren(this.leasesPath, { watch: wait.fire })).children.length;
        } catch (error) {
          wait.cancel();
          if (isKeeperError(error, "NoNode")) count = 0;
          else if (isKeeperError(error, "ConnectionLoss")) continue;
          else throw error;
        }
        if (!this.lock.isAcquired) throw new KeeperError("SessionExpired", "the session expired while acquiring a lease");
        if (count < this.maxLeases) {
          wait.cancel();
          return new Lease(this.zk, await this.createLease());
        }
        const reason = await wait.wait();
        if (reason === "timeout") return null;
        if (reason === "abort") throw aborted(options.signal);
      }
    } finally {
      await this.lock.release().catch(() => undefined);
    }
  }

  /** Identifiers of the current lease holders. */
  async holders(): Promise<string[]> {
    let names: string[];
    try {
      names = (await retryConnectionLoss(() => this.zk.getChildren(this.leasesPath))).children;
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return [];
      throw error;
    }
    const decoder = new TextDecoder();
    const ids: string[] = [];
    for (const name of names) {
      try {
        ids.push(decoder.decode((await this.zk.getData(child(this.leasesPath, name))).data));
      } catch (error) {
        if (!isKeeperError(error, "NoNode")) throw error;
      }
    }
    return ids;
  }

  /**
   * Creates the lease node behind the lock's fence (so it cannot appear once the lock
   * is lost); finds it by its guid after an answer lost to a dropped connection.
   */
  private async createLease(): Promise<string> {
    const prefix = `${guid()}-lease-`;
    for (;;) {
      try {
        const results = await this.zk.multi([
          this.lock.fence(),
          { op: "create", path: child(this.leasesPath, prefix), data: this.identifier, mode: "EPHEMERAL_SEQUENTIAL" },
        ]);
        const created = results[1];
        if (created?.op !== "create") throw new KeeperError("SystemError", "multi answered without the created lease");
        return created.path;
      } catch (error) {
        if (isKeeperError(error, "NoNode") && (await this.zk.exists(this.lock.nodePath!)) !== null) {
          await ensureContainers(this.zk, this.leasesPath); // the leases container was reaped
          continue;
        }
        if (!isKeeperError(error, "ConnectionLoss")) throw error;
        // The multi may have applied: look for our guid before trying again.
        await syncAfterLostAnswer(this.zk, this.leasesPath).catch(() => undefined);
        const names = await retryConnectionLoss(() => this.zk.getChildren(this.leasesPath)).then((r) => r.children, () => []);
        const mine = names.find((n) => n.startsWith(prefix));
        if (mine) return child(this.leasesPath, mine);
      }
    }
  }
}
