/**
 * Changes as watches see them: the events a committed write causes, and which of
 * them a watch on a path cares about, by scope.
 */
import { isWithin } from "./paths.ts";

/** ZooKeeper's watch event types, plus ACLChanged (logged, never a watch event). */
export type ChangeEventType = "NodeCreated" | "NodeDeleted" | "NodeDataChanged" | "NodeChildrenChanged" | "ACLChanged";

export interface ChangeEvent {
  zxid: number;
  event: ChangeEventType;
  path: string;
}

/**
 * What a watch on a path follows: `node` its creation, data and deletion (a data or
 * exist watch); `children` its child list (a child watch); `subtree` the node and
 * every descendant, as a PERSISTENT_RECURSIVE watch does (no child events).
 */
export type ChangeScope = "node" | "children" | "subtree";

export const CHANGE_SCOPES: readonly ChangeScope[] = ["node", "children", "subtree"];

/**
 * Whether an event concerns a watch of `path` in `scope`.
 *
 * @example
 * eventMatches("subtree", "/config", { zxid: 5, event: "NodeDataChanged", path: "/config/db" }); // true
 */
export function eventMatches(scope: ChangeScope, path: string, change: ChangeEvent): boolean {
  switch (scope) {
    case "node":
      return change.path === path && change.event !== "NodeChildrenChanged" && change.event !== "ACLChanged";
    case "children":
      return change.path === path && change.event !== "NodeDataChanged" && change.event !== "ACLChanged";
    case "subtree":
      return isWithin(change.path, path) && change.event !== "NodeChildrenChanged" && change.event !== "ACLChanged";
  }
}

/**
 * A watch as a shard keeps it, per session host (never per session): `data` (set by
 * getData, or exists on a node, present or not), `child` (getChildren) fire once;
 * `persistent` and `recursive` (addWatch) stay.
 */
export type WatchKind = "data" | "child" | "persistent" | "recursive";

export const WATCH_KINDS: readonly WatchKind[] = ["data", "child", "persistent", "recursive"];

/**
 * The kinds of watch set on the event's own path that the event fires, as
 * ZooKeeper's WatchManager decides (recursive watches on ancestors fire too).
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

/** One event a shard owes a session host: numbered per host, so gaps show. */
export interface WatchNotification extends ChangeEvent {
  seq: number;
}
