/**
 * The operations a shard executes and the results it returns. Every surface
 * (HTTP, WebSocket sessions, the wire bridge) translates into these.
 */
import type { Acl, Id } from "./acl.ts";
import type { KeeperErrorBody } from "./errors.ts";
import type { CreateMode } from "./modes.ts";
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
export type OpName = Op["op"];

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

/** One request in a batch: the op and, for a session, its cxid (writes apply once per cxid). */
export type ShardRequest = Op & { cxid?: number };

/** Who is asking: the session (0 for a sessionless HTTP caller) and its identities. */
export interface Caller {
  sessionId: number;
  ids: Id[];
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
/** One op's outcome inside a multi or multiRead. */
export type MultiItemResult =
  | ({ op: "create" } & CreateResult)
  | { op: "delete" }
  | ({ op: "setData" } & StatResult)
  | { op: "check" }
  | ({ op: "getData" } & DataResult)
  | ({ op: "getChildren" } & ChildrenResult)
  | { op: "error"; error: KeeperErrorBody };

export interface ResultOf {
  create: CreateResult;
  delete: Record<string, never>;
  setData: StatResult;
  check: Record<string, never>;
  setACL: StatResult;
  multi: { results: MultiItemResult[] };
  getData: DataResult;
  exists: { stat: Stat | null };
  getChildren: ChildrenResult;
  getAllChildrenNumber: { count: number };
  getEphemerals: { paths: string[] };
  getACL: AclResult;
  multiRead: { results: MultiItemResult[] };
}

/**
 * A shard's answer to one request. `zxid` is the shard's last committed zxid when
 * it answered. A failed multi carries the per-op results ZooKeeper reports.
 * `moved` means the path belongs to another shard: the caller's mount table is stale.
 * `deferred` means the request was not run: its batch's answer reached the byte cap
 * (Limits.maxAnswerBytes), so the caller sends it again, after passing on the answers.
 */
export type Outcome<T = unknown> =
  | { ok: true; zxid: number; value: T }
  | { ok: false; zxid: number; error: KeeperErrorBody; results?: MultiItemResult[]; moved?: true; deferred?: true };
