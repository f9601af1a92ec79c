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
      this.sql.exec("CREATE TABLE IF NOT EXISTS mounts (prefix TEXT PRIMARY KEY, shard TEXT NOT NULL) WITHOUT ROWID");
      this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID");
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 1)");
      this.sql.exec("INSERT OR IGNORE INTO mounts (prefix, shard) VALUES (?, ?)", ROOT_MOUNT.prefix, ROOT_MOUNT.shard);
    });
  }

  /** The current mount table. */
  async table(): Promise<MountTable> {
    const version = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'version'").one().value;
    const mounts = this.sql.exec<{ prefix: string; shard: string }>("SELECT prefix, shard FROM mounts ORDER BY prefix").toArray();
    return { version, mounts: mounts.map((m) => ({ prefix: m.prefix, shard: m.shard })) };
  }

  /**
   * Mounts a new, empty subtree at `prefix` on a shard of its own. The prefix must
   * not exist yet; its parent must. The parent's shard keeps a stub so that listing
   * the parent shows the mounted child.
   */
  async mount(namespace: string, prefix: string): Promise<MountOutcome> {
    const run = this.mounting.then(() => this.mountNow(namespace, prefix));
    this.mounting = run.catch(() => undefined);
    return run;
  }

  private async mountNow(namespace: string, prefix: string): Promise<MountOutcome> {
    try {
      validatePath(prefix, limitsFromEnv(this.env));
      if (prefix === "/" || isReserved(prefix)) throw new KeeperError("BadArguments", `cannot mount ${prefix}`, prefix);
      const before = await this.table();
      if (before.mounts.some((m) => m.prefix === prefix)) throw new KeeperError("NodeExists", `${prefix} is already mounted`, prefix);

      const parentMount = mountFor(before, parentOf(prefix));
      const shard = `m${before.version}-${crypto.randomUUID().slice(0, 8)}`;
      const parentShard = this.env.SHARD.get(this.env.SHARD.idFromName(shardObjectName(namespace, parentMount.shard)));
      const stub = await parentShard.createMountStub(parentMount.prefix, prefix);
      if (!stub.ok) throw KeeperError.fromBody(stub.error);
      const child = this.env.SHARD.get(this.env.SHARD.idFromName(shardObjectName(namespace, shard)));
      await child.initMount(prefix);

      this.ctx.storage.transactionSync(() => {
        this.sql.exec("INSERT INTO mounts (prefix, shard) VALUES (?, ?)", prefix, shard);
        this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
      });
      return { ok: true, mount: { prefix, shard }, table: await this.table() };
    } catch (err) {
      if (err instanceof KeeperError) return { ok: false, error: err.toBody() };
      throw err;
    }
  }
}
