/**
 * Which watches a change fires, as ZooKeeper's WatchManager decides: the one rule
 * that a shard (its watches per session host) and a session host (its watches per
 * session) both apply, each over its own table. Pure, so any side may use it.
 *
 * - `data` (getData, or exists on a node present or not): NodeCreated,
 *   NodeDataChanged, NodeDeleted on its path; fires once.
 * - `child` (getChildren): NodeChildrenChanged, NodeDeleted on its path; fires once.
 * - `persistent` (addWatch): every event on its path; stays.
 * - `recursive` (addWatch PERSISTENT_RECURSIVE): every event but NodeChildrenChanged
 *   on its path or below it; stays.
 *
 * ACLChanged fires nothing (it is logged, never a watch event).
 */
import type { ChangeEventType, WatchKind } from "./changes.ts";
import { isWithin, selfAndAncestors } from "./paths.ts";

/**
 * The kinds of watch set on the event's own path that the event fires (a
 * recursive watch on an ancestor fires too: see watchesFiredBy).
 */
export function kindsFiredAt(event: ChangeEventType): WatchKind[] {
  switch (event) {
    case "NodeCreated":
    case "NodeDataChanged":
      return ["data", "persistent", "recursive"];
    case "NodeDeleted":
      return ["data", "child", "persistent", "recursive"];
    case "NodeChildrenChanged":
      return ["child", "persistent"];
    case "ACLChanged":
      return [];
  }
}

/**
 * Where to look up the watches a change fires: those of `kinds` set on its own
 * `path`, and the recursive ones set on any of `recursivePaths` (its path and every
 * ancestor, nearest first; none when the event fires no recursive watch).
 */
export interface FiredWatches {
  path: string;
  kinds: WatchKind[];
  recursivePaths: string[];
}

/**
 * The watches an event on `path` fires, as lookups a watch table can run.
 *
 * @example
 * watchesFiredBy("NodeDataChanged", "/a/b");
 * // { path: "/a/b", kinds: ["data", "persistent"], recursivePaths: ["/a/b", "/a", "/"] }
 */
export function watchesFiredBy(event: ChangeEventType, path: string): FiredWatches {
  const fired = kindsFiredAt(event);
  return {
    path,
    kinds: fired.filter((kind) => kind !== "recursive"),
    recursivePaths: fired.includes("recursive") ? selfAndAncestors(path) : [],
  };
}

/**
 * Whether one watch fires for an event: the same rule as watchesFiredBy, asked of
 * a single watch (for a side that keeps its watches in memory).
 *
 * @example
 * watchFires({ kind: "recursive", path: "/a" }, { event: "NodeCreated", path: "/a/b" }); // true
 */
export function watchFires(watch: { kind: WatchKind; path: string }, change: { event: ChangeEventType; path: string }): boolean {
  if (!kindsFiredAt(change.event).includes(watch.kind)) return false;
  return watch.kind === "recursive" ? isWithin(change.path, watch.path) : watch.path === change.path;
}

/**
 * Whether a watch of this kind is used up when it fires: `data` and `child` fire
 * once; `persistent` and `recursive` stay until removed.
 */
export function firesOnce(kind: WatchKind): boolean {
  return kind === "data" || kind === "child";
}
