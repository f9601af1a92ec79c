/**
 * The operations a shard executes, those a session host runs itself, and what each
 * returns: the one vocabulary of every surface (HTTP, WebSocket sessions, the wire
 * bridge), the host and the shard. The session protocol carries it with values as
 * base64 (WithBase64, session-protocol.ts); jute has its own names (jute/).
 */
import type { Acl, Id } from "./acl.ts";
import type { WatchKind } from "./changes.ts";
import type { KeeperErrorBody } from "./errors.ts";
import type { CreateMode } from "./modes.ts";
import type { ReadMode } from "./read-modes.ts";
import type { Stat } from "./stat.ts";

/** Version -1 matches any version, as in ZooKeeper. */
export const ANY_VERSION = -1;

/**
 * A value: bytes, or null, ZooKeeper's null value (a node created with null data
 * reads back null; its dataLength is 0, as an empty value's). Omitted means empty.
 */
export type Value = Uint8Array | null;

export interface CreateOp {
  op: "create";
  path: string;
  data?: Value;
  acl?: Acl[];
  mode?: CreateMode;
  ttlMs?: number;
}
export interface DeleteOp {
  op: "delete";
  path: string;
  version?: number;
}
export interface SetDataOp {
  op: "setData";
  path: string;
  data: Value;
  version?: number;
}
export interface CheckOp {
  op: "check";
  path: string;
  version?: number;
}
export interface SetAclOp {
  op: "setACL";
  path: string;
  acl: Acl[];
  version?: number;
}
/** The operations a multi may hold: applied all or none, in order. */
export type MultiWriteOp = CreateOp | DeleteOp | SetDataOp | CheckOp;
export interface MultiOp {
  op: "multi";
  ops: MultiWriteOp[];
  /** Set by a router only: a shard's part of a multi across shards, sent to apply once every part is prepared. */
  txn?: CrossShardTxn;
}

/**
 * A multi across shards as its shards see it: its id, when its router began it, and
 * the object of the shard of its first write, which decides it. The decider's own
 * part lists the objects of the others' (`parts`), which it asks when the router is gone.
 */
export interface CrossShardTxn {
  id: string;
  startedAt: number;
  decider: string;
  parts?: string[];
}

/** Reads that can leave a watch (for a session host, see ShardDO.hostExecute). */
export interface GetDataOp {
  op: "getData";
  path: string;
  watch?: boolean;
}
export interface ExistsOp {
  op: "exists";
  path: string;
  watch?: boolean;
}
export interface GetChildrenOp {
  op: "getChildren";
  path: string;
  watch?: boolean;
}
export interface GetAllChildrenNumberOp {
  op: "getAllChildrenNumber";
  path: string;
}
/** The calling session's ephemeral nodes whose paths start with `prefix`. */
export interface GetEphemeralsOp {
  op: "getEphemerals";
  prefix: string;
}
export interface GetAclOp {
  op: "getACL";
  path: string;
}
export type MultiReadItemOp = GetDataOp | GetChildrenOp;
export interface MultiReadOp {
  op: "multiRead";
  ops: MultiReadItemOp[];
}

export type WriteOp = CreateOp | DeleteOp | SetDataOp | CheckOp | SetAclOp | MultiOp;
export type ReadOp = GetDataOp | ExistsOp | GetChildrenOp | GetAllChildrenNumberOp | GetEphemeralsOp | GetAclOp | MultiReadOp;
export type Op = WriteOp | ReadOp;

/**
 * What a session asks of its host itself rather than of a shard. `sync`: every write
 * committed before it (on the path's shard) is visible to the session's next read.
 */
export interface SyncOp {
  op: "sync";
  path: string;
}
/** A persistent watch; `recursive` also sees every descendant (no child events). */
export interface AddWatchOp {
  op: "addWatch";
  path: string;
  mode: "persistent" | "recursive";
}
/** Removes the session's watches on a path: one kind, or all ("any"); NoWatcher if none. */
export interface RemoveWatchesOp {
  op: "removeWatches";
  path: string;
  kind: WatchKind | "any";
}
/** addauth: adds an identity to the session (digest user:password). */
export interface AddAuthOp {
  op: "addAuth";
  scheme: string;
  credentials: string;
}
/** Closes the session: its ephemerals go; on a socket the host answers, then sends `closed`. */
export interface CloseOp {
  op: "close";
}
export type HostOnlyOp = SyncOp | AddWatchOp | RemoveWatchesOp | AddAuthOp | CloseOp;
/** Everything a session may ask: a shard's operations and its host's own. */
export type SessionOperation = Op | HostOnlyOp;
/** The name of an operation (jute's op codes are named JuteOpName). */
export type OpName = SessionOperation["op"];

export const WRITE_OPS: ReadonlySet<string> = new Set(["create", "delete", "setData", "check", "setACL", "multi"]);
export const MULTI_WRITE_OPS: ReadonlySet<string> = new Set(["create", "delete", "setData", "check"]);
export const MULTI_READ_OPS: ReadonlySet<string> = new Set(["getData", "getChildren"]);

/**
 * The path that decides which shard serves an op. A create lives with its parent:
 * so a sequential create at a mount point's path names a sibling on the parent's
 * shard, and a create of a mount point meets its stub there (NodeExists).
 */
export function routingPath(op: { op: string; path: string }): string {
  if (op.op !== "create" || typeof op.path !== "string" || op.path === "/") return op.path;
  const slash = op.path.lastIndexOf("/");
  return slash <= 0 ? "/" : op.path.slice(0, slash);
}

/**
 * One request in a batch: the op and, for a session, its cxid (writes apply once
 * per cxid) and its read mode when not the default (read-modes.ts).
 */
export type ShardRequest = Op & { cxid?: number; consistency?: ReadMode };

/**
 * Who is asking: the session (0 for a sessionless HTTP caller) and its identities;
 * with simulated regions, the region its request came from (set by the router that
 * sends it to the leader, which counts where its writes come from).
 */
export interface Caller {
  sessionId: number;
  ids: Id[];
  region?: string;
}

export interface CreateResult {
  path: string;
  stat: Stat;
}
export interface StatResult {
  stat: Stat;
}
export interface DataResult {
  data: Value;
  stat: Stat;
}
export interface ChildrenResult {
  children: string[];
  stat: Stat;
}
export interface AclResult {
  acl: Acl[];
  stat: Stat;
}
/** One op's outcome inside a committed multi. */
export type MultiWriteItemResult = ({ op: "create" } & CreateResult) | { op: "delete" } | ({ op: "setData" } & StatResult) | { op: "check" };
/** One op's failure inside a multiRead, or (every op's) inside a failed multi. */
export interface MultiErrorResult {
  op: "error";
  error: KeeperErrorBody;
}
/** One op's outcome inside a multiRead. */
export type MultiReadItemResult = ({ op: "getData" } & DataResult) | ({ op: "getChildren" } & ChildrenResult) | MultiErrorResult;
/** One op's outcome inside a multi or multiRead. */
export type MultiItemResult = MultiWriteItemResult | MultiReadItemResult;

/** What each operation answers when it succeeds, by its name. */
export interface ResultOf {
  create: CreateResult;
  delete: Record<string, never>;
  setData: StatResult;
  check: Record<string, never>;
  setACL: StatResult;
  multi: { results: MultiWriteItemResult[] };
  getData: DataResult;
  exists: { stat: Stat | null };
  getChildren: ChildrenResult;
  getAllChildrenNumber: { count: number };
  getEphemerals: { paths: string[] };
  getACL: AclResult;
  multiRead: { results: MultiReadItemResult[] };
  sync: { path: string };
  addWatch: Record<string, never>;
  removeWatches: Record<string, never>;
  addAuth: Record<string, never>;
  close: { closed: true };
}

/**
 * A value as JSON carries it where values travel as base64 (the session protocol):
 * bytes become strings, everything else stays as it is.
 *
 * @example
 * const answer: WithBase64<DataResult> = { data: "aGk=", stat };
 */
export type WithBase64<T> = T extends Uint8Array ? string : T extends readonly (infer U)[] ? WithBase64<U>[] : T extends object ? { [K in keyof T]: WithBase64<T[K]> } : T;

/**
 * A shard's answer to one request. `zxid` is the shard's last committed zxid when
 * it answered. A failed multi carries the per-op results ZooKeeper reports.
 * `moved` means the path belongs to another shard: the caller's mount table is stale.
 * `deferred` means the request was not run: its batch's answer reached the byte cap
 * (Limits.maxAnswerBytes), so the caller sends it again, after passing on the answers.
 * `notLeader` means the object answering is not its shard's leader (a replica, or a
 * leader that has sealed): nothing was run, and the request belongs at the leader.
 */
export type Outcome<T = unknown> =
  | { ok: true; zxid: number; value: T }
  | { ok: false; zxid: number; error: KeeperErrorBody; results?: MultiItemResult[]; moved?: true; deferred?: true; notLeader?: true };
