/**
 * Routes requests of one namespace to the shards that serve their paths, by the
 * longest mounted prefix. The mount table is cached briefly per isolate; a shard
 * that no longer serves a path answers `moved`, and the request is retried once
 * with a fresh table, so a stale cache costs a round trip, never a wrong answer.
 */
import type { EdgekeeperEnv } from "../durable/env.ts";
import { shardObjectName } from "../durable/env.ts";
import { type Mount, type MountTable, mountFor, mountsBelow } from "../durable/directory/mount-table.ts";
import { type Caller, KeeperError, type Outcome, type ResultOf, type ShardRequest, isSequential, parseCreateMode } from "../protocol/index.ts";

/** The shard's RPC surface as the router uses it (Outcome's `unknown` value defeats Rpc's inference). */
interface ShardStub {
  execute(root: string, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]>;
}

const TABLE_TTL_MS = 5_000;
const cachedTables = new Map<string, { table: MountTable; fetchedAt: number }>();

export class ShardRouter {
  private readonly env: EdgekeeperEnv;
  private readonly namespace: string;

  constructor(env: EdgekeeperEnv, namespace: string) {
    this.env = env;
    this.namespace = namespace;
  }

  private directory() {
    return this.env.DIRECTORY.get(this.env.DIRECTORY.idFromName(this.namespace));
  }

  async table(fresh = false): Promise<MountTable> {
    const cached = cachedTables.get(this.namespace);
    if (!fresh && cached && Date.now() - cached.fetchedAt < TABLE_TTL_MS) return cached.table;
    const table = await this.directory().table();
    cachedTables.set(this.namespace, { table, fetchedAt: Date.now() });
    return table;
  }

  /** Mounts a new subtree on a shard of its own (admin). */
  async mount(prefix: string) {
    const outcome = await this.directory().mount(this.namespace, prefix);
    if (outcome.ok) cachedTables.set(this.namespace, { table: outcome.table, fetchedAt: Date.now() });
    return outcome;
  }

  private shard(mount: Mount): ShardStub {
    return this.env.SHARD.get(this.env.SHARD.idFromName(shardObjectName(this.namespace, mount.shard))) as unknown as ShardStub;
  }

  /** The one mount serving every path of a request; a multi across shards is refused. */
  private route(table: MountTable, request: ShardRequest): Mount {
    const paths =
      request.op === "multi" || request.op === "multiRead"
        ? request.ops.map((op) => op.path)
        : request.op === "getEphemerals"
          ? ["/"]
          : [request.path];
    const mounts = new Set(paths.map((p) => mountFor(table, p)));
    if (mounts.size > 1) {
      const prefixes = [...mounts].map((m) => m.prefix).join(", ");
      throw new KeeperError("Unimplemented", `a ${request.op} across shards is not supported yet (its paths lie under mounts ${prefixes})`);
    }
    return mounts.values().next().value ?? mountFor(table, "/");
  }

  /**
   * A plain create of a mount point: the node exists, but it is the root of one
   * shard and a stub in another, and neither could answer NodeExists itself.
   */
  private mountPointCreate(table: MountTable, request: ShardRequest): KeeperError | undefined {
    if (request.op !== "create" || request.path === "/" || !table.mounts.some((m) => m.prefix === request.path)) return undefined;
    let sequential: boolean;
    try {
      sequential = isSequential(parseCreateMode(request.mode));
    } catch {
      return undefined; // the shard reports the bad mode
    }
    return sequential ? undefined : new KeeperError("NodeExists", undefined, request.path);
  }

  /** Executes one request on its shard, retrying once if the mount table was stale. */
  async execute<K extends ShardRequest["op"]>(caller: Caller, request: ShardRequest & { op: K }): Promise<Outcome<ResultOf[K]>> {
    for (const fresh of [false, true]) {
      const table = await this.table(fresh);
      const existing = this.mountPointCreate(table, request);
      if (existing) return { ok: false, zxid: 0, error: existing.toBody() };
      const mount = this.route(table, request);
      const [outcome] = await this.shard(mount).execute(mount.prefix, caller, [request]);
      if (!outcome) throw new KeeperError("SystemError", "shard returned no outcome");
      if (!(!outcome.ok && outcome.moved)) return outcome as Outcome<ResultOf[K]>;
    }
    throw new KeeperError("SystemError", "the mount table and the shards disagree about who serves this path");
  }

  /**
   * getAllChildrenNumber across mounts: the shard's own count plus, for each subtree
   * mounted below the path, that subtree's count. The mounts below come from a fresh
   * table: the own shard answers from a stale one without `moved`, and would miss them.
   */
  async countDescendants(caller: Caller, path: string): Promise<Outcome<{ count: number }>> {
    const own = await this.execute(caller, { op: "getAllChildrenNumber", path });
    if (!own.ok) return own;
    let count = own.value.count;
    for (const mount of mountsBelow(await this.table(true), path)) {
      const below = await this.execute(caller, { op: "getAllChildrenNumber", path: mount.prefix });
      if (below.ok) count += below.value.count;
    }
    return { ...own, value: { count } };
  }
}
