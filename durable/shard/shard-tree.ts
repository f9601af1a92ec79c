/**
 * ZooKeeper's data-model rules, one method per operation, in the order ZooKeeper
 * checks them (PrepRequestProcessor), so each bad request fails with the same
 * error ZooKeeper gives. Writes run inside a transaction opened by the caller
 * (shard-do.ts) and record their events in a WriteContext.
 */
import {
  type Acl,
  type Caller,
  type ChangeEventType,
  type CheckOp,
  type CreateOp,
  type CreateResult,
  type DeleteOp,
  type GetAclOp,
  type Limits,
  type SetAclOp,
  type SetDataOp,
  type Stat,
  type Value,
  ANY_VERSION,
  KeeperError,
  OPEN_ACL_UNSAFE,
  Perms,
  aclAllows,
  basename,
  fixupAcl,
  isReserved,
  isSequential,
  nodeKind,
  parentOf,
  parseCreateMode,
  redactDigests,
  sequenceSuffix,
  validatePath,
  validateTtl,
} from "../../protocol/index.ts";
import { type AnswerBudget, RESULT_OVERHEAD_BYTES, nameBytes } from "./answer-budget.ts";
import { type ZnodeRow, ZnodeStore, statOf } from "./znode-store.ts";

/** One write in progress: its zxid, clock and the events it will log on commit. */
export interface WriteContext {
  zxid: number;
  now: number;
  caller: Caller;
  /** Each event with the ACL that guards it (see GuardedChange), taken as the event happens. */
  events: { event: ChangeEventType; path: string; acl: Acl[] }[];
  /** Set when the write may have made a TTL node or container reapable. */
  touchesReapable: boolean;
}

/** Thrown when a path belongs to a subtree mounted on another shard. */
export class MovedError extends Error {
  readonly path: string;

  constructor(path: string) {
    super(`${path} is served by another shard`);
    this.path = path;
  }
}

export class ShardTree {
  private readonly store: ZnodeStore;
  private readonly limits: Limits;
  private readonly root: string;
  /** False for a mounted shard not set up yet, or unmounted: it serves no path. */
  readonly serving: boolean;
  /** The mount stubs, read at the first route checked: a tree serves one batch, in which none comes or goes. */
  private mounts: string[] | undefined;

  constructor(store: ZnodeStore, limits: Limits, root: string, serving = true) {
    this.store = store;
    this.limits = limits;
    this.root = root;
    this.serving = serving;
  }

  /** Refuses paths outside this shard: above its root, or inside a mounted subtree. */
  checkRoute(path: string): void {
    if (!this.serving) throw new MovedError(String(path));
    if (typeof path !== "string") return; // shape errors are reported by validation
    const inside = this.root === "/" || path === this.root || path.startsWith(`${this.root}/`);
    if (!inside) throw new MovedError(path);
    for (const stub of (this.mounts ??= this.store.mountStubs())) {
      if (path === stub || path.startsWith(`${stub}/`)) throw new MovedError(path);
    }
  }

  private node(path: string): ZnodeRow {
    const row = this.store.get(path);
    if (!row) throw new KeeperError("NoNode", undefined, path);
    return row;
  }

  private requirePerm(row: ZnodeRow, perm: number, caller: Caller, path: string): void {
    if (!aclAllows(row.acl, perm, caller.ids)) throw new KeeperError("NoAuth", undefined, path);
  }

  private checkVersion(expected: number | undefined, actual: number, path: string): void {
    const version = expected ?? ANY_VERSION;
    if (!Number.isInteger(version)) throw new KeeperError("BadArguments", `version must be an integer, got ${JSON.stringify(expected)}`, path);
    if (version !== ANY_VERSION && version !== actual) {
      throw new KeeperError("BadVersion", `${path}: expected version ${version}, node is at ${actual}`, path);
    }
  }

  private checkValue(data: Value, path: string): void {
    if (data !== null && data.byteLength > this.limits.maxValueBytes) {
      throw new KeeperError("BadArguments", `value of ${data.byteLength} bytes exceeds the limit of ${this.limits.maxValueBytes} bytes`, path);
    }
  }

  private refuseReserved(path: string): void {
    if (isReserved(path)) throw new KeeperError("BadArguments", `${path} is reserved for the system`, path);
  }

  /** The root of this shard and the system nodes cannot be deleted or replaced. */
  private refuseRootDelete(path: string): void {
    if (path === this.root || path === "/") throw new KeeperError("BadArguments", `cannot delete ${path}: it is a root or mount point`, path);
  }

  /**
   * ZooKeeper's create. With `asMountStub`, the node only marks a subtree that
   * another shard serves (see DirectoryDO.mount).
   */
  create(op: CreateOp, w: WriteContext, asMountStub = false): CreateResult {
    const mode = parseCreateMode(op.mode);
    validateTtl(mode, op.ttlMs);
    const kind = nodeKind(mode);
    if (kind === "ephemeral" && w.caller.sessionId === 0) {
      throw new KeeperError("BadArguments", "ephemeral nodes need a session", op.path);
    }
    if (kind === "ephemeral" && this.store.isSessionClosed(w.caller.sessionId)) {
      throw new KeeperError("SessionExpired", `session 0x${w.caller.sessionId.toString(16)} has been closed`, op.path);
    }
    const data = op.data === undefined ? new Uint8Array(0) : op.data;
    this.checkValue(data, op.path);
    if (typeof op.path !== "string") validatePath(op.path, this.limits);
    const parentPath = parentOf(op.path);
    const acl = fixupAcl(op.acl ?? OPEN_ACL_UNSAFE, w.caller.ids, this.limits.maxAclEntries);
    const parent = this.node(parentPath);
    this.requirePerm(parent, Perms.CREATE, w.caller, parentPath);
    const path = isSequential(mode) ? op.path + sequenceSuffix(parent.cversion) : op.path;
    validatePath(path, this.limits);
    // ZooKeeper answers NodeExists for an existing node, "/zookeeper" included.
    if (this.store.get(path)) throw new KeeperError("NodeExists", undefined, path);
    this.refuseReserved(path);
    if (parent.kind === "ephemeral") throw new KeeperError("NoChildrenForEphemerals", undefined, path);

    const row: ZnodeRow = {
      path,
      parent: parentPath,
      name: basename(path),
      data,
      acl,
      kind: asMountStub ? "mount" : kind,
      owner: kind === "ephemeral" ? w.caller.sessionId : 0,
      ttlMs: kind === "ttl" ? (op.ttlMs ?? null) : null,
      czxid: w.zxid,
      mzxid: w.zxid,
      pzxid: w.zxid,
      ctime: w.now,
      mtime: w.now,
      version: 0,
      cversion: 0,
      aversion: 0,
      numChildren: 0,
    };
    this.store.insert(row);
    parent.cversion += 1;
    parent.pzxid = w.zxid;
    parent.numChildren += 1;
    this.store.updateChildren(parent);
    w.events.push({ event: "NodeCreated", path, acl }, { event: "NodeChildrenChanged", path: parentPath, acl: parent.acl });
    if (kind === "ttl" || kind === "container" || parent.kind === "ttl") w.touchesReapable = true;
    return { path, stat: statOf(row) };
  }

  /** Refuses, as a delete of `path` would, a caller without DELETE on its parent (unmounting `path`). */
  checkMayDelete(path: string, caller: Caller): void {
    const parentPath = parentOf(path);
    this.requirePerm(this.node(parentPath), Perms.DELETE, caller, parentPath);
  }

  /** Removes the stub of an unmounted subtree, as a delete would; none there is fine. */
  removeMountStub(path: string, w: WriteContext): void {
    const stub = this.store.get(path);
    if (stub?.kind !== "mount") return;
    const parent = this.node(parentOf(path));
    this.store.remove(path);
    parent.pzxid = w.zxid;
    parent.numChildren -= 1;
    this.store.updateChildren(parent);
    w.events.push({ event: "NodeDeleted", path, acl: stub.acl }, { event: "NodeChildrenChanged", path: parent.path, acl: parent.acl });
  }

  delete(op: DeleteOp, w: WriteContext, opts: { skipAcl?: boolean } = {}): void {
    if (typeof op.path !== "string") validatePath(op.path, this.limits);
    const parentPath = parentOf(op.path);
    this.refuseRootDelete(op.path);
    this.refuseReserved(op.path);
    const parent = this.node(parentPath);
    if (!opts.skipAcl) this.requirePerm(parent, Perms.DELETE, w.caller, parentPath);
    const row = this.node(op.path);
    if (row.kind === "mount") throw new KeeperError("BadArguments", `${op.path} is a mount point`, op.path);
    this.checkVersion(op.version, row.version, op.path);
    if (row.numChildren > 0) throw new KeeperError("NotEmpty", undefined, op.path);

    this.store.remove(op.path);
    // The stored cversion counts creates; the Stat's cversion still moves (see statOf).
    parent.pzxid = w.zxid;
    parent.numChildren -= 1;
    this.store.updateChildren(parent);
    w.events.push({ event: "NodeDeleted", path: op.path, acl: row.acl }, { event: "NodeChildrenChanged", path: parentPath, acl: parent.acl });
    if (parent.kind === "container" || parent.kind === "ttl") w.touchesReapable = true;
  }

  setData(op: SetDataOp, w: WriteContext): Stat {
    validatePath(op.path, this.limits);
    this.checkValue(op.data, op.path);
    const row = this.node(op.path);
    this.requirePerm(row, Perms.WRITE, w.caller, op.path);
    this.refuseReserved(op.path);
    this.checkVersion(op.version, row.version, op.path);
    row.data = op.data;
    row.version += 1;
    row.mzxid = w.zxid;
    row.mtime = w.now;
    this.store.updateData(row);
    w.events.push({ event: "NodeDataChanged", path: op.path, acl: row.acl });
    if (row.kind === "ttl") w.touchesReapable = true;
    return statOf(row);
  }

  check(op: CheckOp, caller: Caller): void {
    validatePath(op.path, this.limits);
    const row = this.node(op.path);
    this.requirePerm(row, Perms.READ, caller, op.path);
    this.checkVersion(op.version, row.version, op.path);
  }

  setAcl(op: SetAclOp, w: WriteContext): Stat {
    validatePath(op.path, this.limits);
    this.refuseReserved(op.path);
    const acl = fixupAcl(op.acl, w.caller.ids, this.limits.maxAclEntries);
    const row = this.node(op.path);
    this.requirePerm(row, Perms.ADMIN, w.caller, op.path);
    this.checkVersion(op.version, row.aversion, op.path);
    row.acl = acl;
    row.aversion += 1;
    this.store.updateAcl(row);
    w.events.push({ event: "ACLChanged", path: op.path, acl });
    return statOf(row);
  }

  /** addWatch's checks: a valid path, and READ on the node if it exists. */
  checkWatchable(path: string, caller: Caller): void {
    validatePath(path, this.limits);
    const row = this.store.get(path);
    if (row) this.requirePerm(row, Perms.READ, caller, path);
  }

  getData(path: string, caller: Caller, budget: AnswerBudget): { data: Value; stat: Stat } {
    validatePath(path, this.limits);
    const row = this.node(path);
    this.requirePerm(row, Perms.READ, caller, path);
    budget.charge((row.data?.byteLength ?? 0) + RESULT_OVERHEAD_BYTES);
    return { data: row.data, stat: statOf(row) };
  }

  exists(path: string): Stat | null {
    validatePath(path, this.limits);
    const row = this.store.get(path);
    return row ? statOf(row) : null;
  }

  /** The children's names, read one by one and charged to `budget` as they are read. */
  getChildren(path: string, caller: Caller, budget: AnswerBudget): { children: string[]; stat: Stat } {
    validatePath(path, this.limits);
    const row = this.node(path);
    this.requirePerm(row, Perms.READ, caller, path);
    budget.charge(RESULT_OVERHEAD_BYTES);
    const children: string[] = [];
    for (const name of this.store.childNames(path)) {
      budget.charge(nameBytes(name));
      children.push(name);
    }
    return { children, stat: statOf(row) };
  }

  getAllChildrenNumber(path: string, caller: Caller): number {
    validatePath(path, this.limits);
    const row = this.node(path);
    this.requirePerm(row, Perms.READ, caller, path);
    return this.store.countDescendants(path);
  }

  getEphemerals(prefix: string, caller: Caller, budget: AnswerBudget): string[] {
    if (typeof prefix !== "string" || !prefix.startsWith("/")) throw new KeeperError("BadArguments", "prefix must be a path starting with /");
    budget.charge(RESULT_OVERHEAD_BYTES);
    if (caller.sessionId === 0) return [];
    const paths: string[] = [];
    for (const path of this.store.ephemeralsOf(caller.sessionId)) {
      if (!path.startsWith(prefix)) continue;
      budget.charge(nameBytes(path));
      paths.push(path);
    }
    return paths;
  }

  getAcl(op: GetAclOp, caller: Caller): { acl: Acl[]; stat: Stat } {
    validatePath(op.path, this.limits);
    const row = this.node(op.path);
    this.requirePerm(row, Perms.READ | Perms.ADMIN, caller, op.path);
    const acl = aclAllows(row.acl, Perms.ADMIN, caller.ids) ? row.acl : redactDigests(row.acl);
    return { acl, stat: statOf(row) };
  }

  /** Paths of the session's ephemeral nodes (for close and expiry). */
  ephemeralsOf(sessionId: number): string[] {
    return [...this.store.ephemeralsOf(sessionId)];
  }

  /** Reapable nodes now: expired TTL nodes and emptied containers. */
  reapable(now: number): string[] {
    return [...this.store.expiredTtlNodes(now), ...this.store.emptiedContainers()];
  }

  /** The row as it now stands, for the change log. */
  row(path: string): ZnodeRow | undefined {
    return this.store.get(path);
  }
}
