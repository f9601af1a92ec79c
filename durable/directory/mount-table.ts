/**
 * A namespace's mount table: path prefix -> shard. Pure, so the Worker and the
 * DirectoryDO route the same way.
 */
import { isWithin } from "../../protocol/index.ts";
import { shardObjectName } from "../env.ts";
import { copyObjectName } from "../replication/replica-name.ts";

export interface Mount {
  /** The subtree's root path ("/" for the default shard). */
  prefix: string;
  /** The shard's name within the namespace. */
  shard: string;
  /** The region its leader is in when a move put it elsewhere than the first region (then its copy there leads). */
  leader?: string;
}

export interface MountTable {
  /** Bumped on every change, so a cached copy can tell it is stale. */
  version: number;
  mounts: Mount[];
}

export const ROOT_MOUNT: Mount = { prefix: "/", shard: "root" };

/**
 * The mount that serves `path`: the longest prefix that contains it.
 *
 * @example
 * mountFor({ version: 1, mounts: [ROOT_MOUNT, { prefix: "/big", shard: "m1" }] }, "/big/x").shard; // "m1"
 */
export function mountFor(table: MountTable, path: string): Mount {
  // The table's own root mount (it says where its leader is), else the default.
  let best: Mount | undefined;
  for (const mount of table.mounts) {
    if (isWithin(path, mount.prefix) && mount.prefix.length > (best?.prefix.length ?? 0)) best = mount;
  }
  return best ?? ROOT_MOUNT;
}

/** Mounts strictly below `path` (their subtrees are counted and listed separately). */
export function mountsBelow(table: MountTable, path: string): Mount[] {
  return table.mounts.filter((m) => m.prefix !== path && m.prefix !== "/" && isWithin(m.prefix, path));
}

/**
 * The object leading the shard of `mount` in `namespace`: its copy in the region the
 * mount names (a move put its leader there), else its first object.
 *
 * @example
 * leaderObjectName("default", { prefix: "/", shard: "root", leader: "weur" }, ["wnam", "weur"]); // "default/root@weur"
 */
export function leaderObjectName(namespace: string, mount: Mount, regions: readonly string[] | undefined): string {
  return copyObjectName(shardObjectName(namespace, mount.shard), mount.leader, regions);
}
