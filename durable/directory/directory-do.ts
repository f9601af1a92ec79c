/**
 * DirectoryDO: one per namespace. Holds the mount table (which shard serves which
 * subtree) and mounts new subtrees. By default the whole tree is one shard, so
 * every ZooKeeper guarantee holds across it.
 */
import { DurableObject } from "cloudflare:workers";
import { KeeperError, type KeeperErrorBody, isReserved, limitsFromEnv, parentOf, validatePath } from "../../protocol/index.ts";
import { type EdgekeeperEnv, shardObjectName } from "../env.ts";
import { type Mount, type MountTable, ROOT_MOUNT, mountFor } from "./mount-table.ts";

export type MountOutcome = { ok: true; mount: Mount; table: MountTable } | { ok: false; error: KeeperErrorBody };

export class DirectoryDO extends DurableObject<EdgekeeperEnv> {
  private readonly sql: SqlStorage;
  /** Mounts talk to two shards between storage calls: one at a time. */
  private mounting: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: EdgekeeperEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      // state: pending (being set up; not routed to) or active
      this.sql.exec("CREATE TABLE IF NOT EXISTS mounts (prefix TEXT PRIMARY KEY, shard TEXT NOT NULL, state TEXT NOT NULL) WITHOUT ROWID");
      this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID");
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 1)");
      this.sql.exec("INSERT OR IGNORE INTO mounts (prefix, shard, state) VALUES (?, ?, 'active')", ROOT_MOUNT.prefix, ROOT_MOUNT.shard);
    });
  }

  /** The current mount table (finishing first any mount an earlier instance left half done). */
  async table(): Promise<MountTable> {
    if (this.sql.exec("SELECT 1 FROM mounts WHERE state = 'pending' LIMIT 1").toArray().length > 0) {
      await this.serialized(() => this.finishPending());
    }
    return this.activeTable();
  }

  private activeTable(): MountTable {
    const version = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'version'").one().value;
    const mounts = this.sql.exec<{ prefix: string; shard: string }>("SELECT prefix, shard FROM mounts WHERE state = 'active' ORDER BY prefix").toArray();
    return { version, mounts: mounts.map((m) => ({ prefix: m.prefix, shard: m.shard })) };
  }

  /**
   * Mounts a new, empty subtree at `prefix` on a shard of its own. The prefix must
   * not exist yet; its parent must. The parent's shard keeps a stub so that listing
   * the parent shows the mounted child.
   */
  async mount(namespace: string, prefix: string): Promise<MountOutcome> {
    return this.serialized(async () => {
      try {
        validatePath(prefix, limitsFromEnv(this.env));
        if (prefix === "/" || isReserved(prefix)) throw new KeeperError("BadArguments", `cannot mount ${prefix}`, prefix);
        await this.finishPending();
        const before = this.activeTable();
        if (before.mounts.some((m) => m.prefix === prefix)) throw new KeeperError("NodeExists", `${prefix} is already mounted`, prefix);
        const shard = `m${before.version}-${crypto.randomUUID().slice(0, 8)}`;
        this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('namespace', ?)", namespace);
        this.sql.exec("INSERT INTO mounts (prefix, shard, state) VALUES (?, ?, 'pending')", prefix, shard);
        await this.setUp({ prefix, shard });
        return { ok: true, mount: { prefix, shard }, table: this.activeTable() };
      } catch (err) {
        if (err instanceof KeeperError) return { ok: false, error: err.toBody() };
        throw err;
      }
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mounting.then(fn);
    this.mounting = run.catch(() => undefined);
    return run;
  }

  /**
   * Sets up a pending mount: the new shard's root, then the stub in the parent's
   * shard (the step that can fail: the prefix exists, or its parent does not), then
   * the table. Every step is idempotent, so a mount interrupted by a restart is
   * finished by the next call; one that fails is forgotten.
   */
  private async setUp(mount: Mount): Promise<void> {
    const namespace = String(this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'namespace'").one().value);
    const shardOf = (name: string) => this.env.SHARD.get(this.env.SHARD.idFromName(shardObjectName(namespace, name)));
    await shardOf(mount.shard).initMount(mount.prefix);
    const parentMount = mountFor(this.activeTable(), parentOf(mount.prefix));
    const stub = await shardOf(parentMount.shard).createMountStub(parentMount.prefix, mount.prefix);
    if (!stub.ok) {
      this.sql.exec("DELETE FROM mounts WHERE prefix = ?", mount.prefix);
      throw KeeperError.fromBody(stub.error);
    }
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE mounts SET state = 'active' WHERE prefix = ?", mount.prefix);
      this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
    });
  }

  private async finishPending(): Promise<void> {
    const pending = this.sql.exec<{ prefix: string; shard: string }>("SELECT prefix, shard FROM mounts WHERE state = 'pending'").toArray();
    for (const mount of pending) {
      try {
        await this.setUp(mount);
      } catch (err) {
        if (!(err instanceof KeeperError)) throw err;
      }
    }
  }
}
