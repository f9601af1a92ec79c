/**
 * Changes as watches see them: the events a committed write causes, and which of
 * them a watch on a path cares about, by scope.
 */
import { type Acl, type Id, mayReadNode } from "./acl.ts";
import { isWithin } from "./paths.ts";

/** ZooKeeper's watch event types, plus ACLChanged (logged, never a watch event). */
export type ChangeEventType = "NodeCreated" | "NodeDeleted" | "NodeDataChanged" | "NodeChildrenChanged" | "ACLChanged";

export interface ChangeEvent {
  zxid: number;
  event: ChangeEventType;
  path: string;
}

/**
 * A change with the ACL that decides who may learn of it: its node's ACL as of the
 * change (a deleted node's last one; for NodeChildrenChanged, the parent's, whose
 * child list changed). `undefined` when not known: then only super sees it.
 */
export interface GuardedChange extends ChangeEvent {
  acl: Acl[] | undefined;
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
 * Whether a caller with `ids` watching `path` in `scope` learns of `change`: it
 * concerns the watch, and the caller may read the change's node (GuardedChange).
 *
 * @example
 * seenBy("subtree", "/", [{ scheme: "ip", id: "127.0.0.1" }], { zxid: 5, event: "NodeCreated", path: "/secret/x", acl: digestOnly }); // false
 */
export function seenBy(scope: ChangeScope, path: string, ids: readonly Id[], change: GuardedChange): boolean {
  return eventMatches(scope, path, change) && mayReadNode(change.acl, ids);
}

/**
 * A watch as a shard keeps it, per session host (never per session): `data` (set by
 * getData, or exists on a node, present or not), `child` (getChildren) fire once;
 * `persistent` and `recursive` (addWatch) stay.
 */
export type WatchKind = "data" | "child" | "persistent" | "recursive";

export const WATCH_KINDS: readonly WatchKind[] = ["data", "child", "persistent", "recursive"];

/**
 * One event a shard owes a session host: numbered per host, so gaps show. It carries
 * its ACL (at most maxAclEntries entries) because the host fans it out to sessions
 * of different identities, and checks each one's persistent and recursive watches.
 */
export interface WatchNotification extends GuardedChange {
  seq: number;
}
