/**
 * Snapshots of one namespace, as the admin routes drive them: a save copies every
 * shard (each at one zxid) and reads the copies in pages; a restore goes through the
 * DirectoryDO (mounts, emptiness, undo) and writes pages of nodes to their shards.
 * See docs/architecture.md, "Backup and restore".
 */
import { type Caller, KeeperError, type Outcome, type SnapshotShard } from "../../protocol/index.ts";
import { RegionLink } from "../base/region-link.ts";
import type { EdgekeeperEnv } from "../env.ts";
import type { SnapshotPage } from "../shard/snapshot-store.ts";
import type { RestoreOutcome, RestoreShard } from "./directory-do.ts";
import { type Mount, leaderObjectName, mountFor } from "./mount-table.ts";
import { ShardRouter } from "./shard-router.ts";

/** The shard's snapshot RPCs (Outcome's `unknown` value defeats Rpc's inference). */
interface SnapshotShardStub {
  snapshotBegin(root: string, id: string): Promise<Outcome<{ zxid: number }>>;
  snapshotPage(root: string, reader: Caller, id: string, after: string, maxBytes: number): Promise<Outcome<SnapshotPage>>;
  restoreNodes(root: string, nodes: unknown[]): Promise<Outcome>;
}

/** A save under way: its id (naming each shard's copy) and the shards with their zxids. */
export interface SaveStarted {
  id: string;
  namespace: string;
  created: string;
  shards: SnapshotShard[];
}

export class SnapshotRouter {
  private readonly env: EdgekeeperEnv;
  private readonly namespace: string;
  private readonly router: ShardRouter;

  constructor(env: EdgekeeperEnv, namespace: string) {
    this.env = env;
    this.namespace = namespace;
    this.router = new ShardRouter(env, namespace);
  }

  private shard(mount: Mount): SnapshotShardStub {
    const link = RegionLink.at(this.env);
    return link.shard(leaderObjectName(this.namespace, mount, link.regions)) as unknown as SnapshotShardStub;
  }

  private directory() {
    return RegionLink.at(this.env).directory(this.namespace);
  }

  /** Copies every shard, in prefix order, each at its last zxid. */
  async beginSave(): Promise<SaveStarted> {
    const id = crypto.randomUUID();
    const created = new Date().toISOString();
    const shards: SnapshotShard[] = [];
    for (const mount of (await this.router.table(true)).mounts) {
      const begun = await this.shard(mount).snapshotBegin(mount.prefix, id);
      if (!begun.ok) throw new KeeperError("SystemError", `the shard of ${mount.prefix} is being unmounted: start the save again`);
      shards.push({ prefix: mount.prefix, zxid: begun.value.zxid });
    }
    return { id, namespace: this.namespace, created, shards };
  }

  /** A page of a save's copy of the shard of `prefix`, after the path `after`; every node in it readable by `reader`. */
  async savePage(reader: Caller, id: string, prefix: string, after: string, maxBytes: number): Promise<SnapshotPage> {
    const mount = (await this.router.table(true)).mounts.find((m) => m.prefix === prefix);
    if (!mount) throw new KeeperError("NoNode", `no shard serves ${prefix} any more (unmounted during the save?)`, prefix);
    const page = await this.shard(mount).snapshotPage(mount.prefix, reader, id, after, maxBytes);
    if (!page.ok) throw KeeperError.fromBody(page.error);
    return page.value;
  }

  async beginRestore(shards: RestoreShard[]): Promise<RestoreOutcome> {
    return this.directory().beginRestore(this.namespace, shards);
  }

  /**
   * Writes nodes to the shards serving them, each run of one shard in one
   * transaction. A refused one undoes the whole restore (the namespace is left
   * empty) and answers its error.
   */
  async restoreNodes(nodes: readonly { path?: unknown }[]): Promise<RestoreOutcome> {
    if (!(await this.directory().isRestoring())) throw new KeeperError("BadArguments", "no restore is in progress in this namespace: begin one first");
    const table = await this.router.table(true);
    let start = 0;
    while (start < nodes.length) {
      const mount = mountFor(table, pathOf(nodes[start]!));
      let end = start + 1;
      while (end < nodes.length && mountFor(table, pathOf(nodes[end]!)) === mount) end++;
      const written = await this.shard(mount).restoreNodes(mount.prefix, nodes.slice(start, end));
      if (!written.ok) {
        await this.directory().abortRestore();
        return { ok: false, error: written.error };
      }
      start = end;
    }
    return { ok: true, table };
  }

  async finishRestore(): Promise<RestoreOutcome> {
    return this.directory().finishRestore();
  }

  async abortRestore(): Promise<RestoreOutcome> {
    return this.directory().abortRestore();
  }
}

/** A node's path for routing; a malformed one goes to "/", whose shard refuses it. */
function pathOf(node: { path?: unknown }): string {
  return typeof node.path === "string" && node.path.startsWith("/") ? node.path : "/";
}
