/**
 * The mount tables an isolate has fetched from the directory, per namespace. A
 * table younger than TABLE_TTL_MS is used as it is. An older one is still used while
 * one fetch in the background replaces it, so that a request does not wait for the
 * directory (in the leader's region: from another, a round trip across the world)
 * each time the table ages out. A stale table costs a `moved` answer and a retry with
 * a fresh one, never a wrong answer (shard-router.ts). A table older than
 * TABLE_MAX_STALE_MS, or one that nothing would keep a background fetch alive for,
 * is fetched before the request goes on, as is a fresh one when asked.
 */
import type { MountTable } from "./mount-table.ts";
import type { KeepAlive } from "./shared-rpc.ts";

/** How long a fetched table is used without asking the directory again. */
export const TABLE_TTL_MS = 5_000;
/** How old a table may be and still be used while a newer one is fetched. */
export const TABLE_MAX_STALE_MS = 60_000;

/** How a router takes a table: `fetch` asks the directory; `keepAlive` keeps a background fetch alive (the Worker's ctx.waitUntil). */
export interface TableRequest {
  fetch: () => Promise<MountTable>;
  keepAlive?: KeepAlive | undefined;
  /** Told when a background fetch failed (the next request past the TTL tries again); logged if not given. */
  onBackgroundError?: (err: unknown) => void;
}

/**
 * @example
 * const tables = new MountTableCache();
 * const table = await tables.get("default", { fetch: () => directory.table(), keepAlive: (work) => ctx.waitUntil(work) });
 */
export class MountTableCache {
  private readonly tables = new Map<string, { table: MountTable; fetchedAt: number }>();
  /**
   * When each namespace's background fetch began: one at a time each. One that has
   * not settled within TABLE_TTL_MS (its request cancelled with its work) is given up on.
   */
  private readonly refreshing = new Map<string, number>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** The table of `namespace`, as the module says; `fresh`: fetched now, whatever is held. */
  async get(namespace: string, request: TableRequest, fresh = false): Promise<MountTable> {
    const cached = fresh ? undefined : this.tables.get(namespace);
    const age = cached === undefined ? Infinity : this.now() - cached.fetchedAt;
    if (cached && age < TABLE_TTL_MS) return cached.table;
    if (cached && age < TABLE_MAX_STALE_MS && request.keepAlive) {
      this.refreshInBackground(namespace, request, request.keepAlive);
      return cached.table;
    }
    const fetchedAt = this.now();
    const table = await request.fetch();
    this.set(namespace, table, fetchedAt);
    return table;
  }

  /**
   * Takes a table the directory answered (a fetch, a mount or an unmount), unless a
   * later version is held already: fetches overlap, and may answer out of order.
   */
  set(namespace: string, table: MountTable, fetchedAt = this.now()): void {
    const held = this.tables.get(namespace);
    if (held && held.table.version > table.version) return;
    this.tables.set(namespace, { table, fetchedAt });
  }

  private refreshInBackground(namespace: string, request: TableRequest, keepAlive: KeepAlive): void {
    const fetchedAt = this.now();
    const running = this.refreshing.get(namespace);
    if (running !== undefined && fetchedAt - running < TABLE_TTL_MS) return;
    this.refreshing.set(namespace, fetchedAt);
    const refresh = request
      .fetch()
      .then((table) => this.set(namespace, table, fetchedAt))
      .catch((err: unknown) => (request.onBackgroundError ?? logBackgroundError)(err))
      .finally(() => {
        if (this.refreshing.get(namespace) === fetchedAt) this.refreshing.delete(namespace);
      });
    keepAlive(refresh);
  }
}

function logBackgroundError(err: unknown): void {
  console.warn("mount table refresh failed", err);
}
