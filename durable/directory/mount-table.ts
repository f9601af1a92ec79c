/**
 * A namespace's mount table: path prefix -> shard. Pure, so the Worker and the
 * DirectoryDO route the same way.
 */
import { isWithin } from "../../protocol/index.ts";

export interface Mount {
  /** The subtree's root path ("/" for the default shard). */
  prefix: string;
  /** The shard's name within the namespace. */
  shard: string;
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
  let best = ROOT_MOUNT;
  for (const mount of table.mounts) {
    if (isWithin(path, mount.prefix) && mount.prefix.length > best.prefix.length) best = mount;
  }
  return best;
}

/** Mounts strictly below `path` (their subtrees are counted and listed separately). */
export function mountsBelow(table: MountTable, path: string): Mount[] {
  return table.mounts.filter((m) => m.prefix !== path && m.prefix !== "/" && isWithin(m.prefix, path));
}
