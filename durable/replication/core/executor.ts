/**
 * ZooKeeper's rules for the writes the simulator drives (create, setData, delete,
 * check, multi, closeSession with its ephemerals), executed over the row store
 * into effects. Nothing is written here: the leader writes the effects with the
 * log entry. durable/shard/shard-tree.ts and znode-store.ts hold the full rule set
 * (ACLs, sequential, TTL, containers, mounts); the adapter will unify the two.
 */
import type { KeeperErrorName, Stat } from "../../../protocol/index.ts";
import type { StorageTxn } from "./ports.ts";
import type { Effect, Reply, WriteOp, ZnodeRow } from "./rows.ts";

/** The result of executing one write: its reply (zxid filled in by the caller) and its effects. */
export interface Execution {
  reply: Omit<Reply, "zxid">;
  effects: Effect[];
}

/** Rows as the write sees them: the store under the write's own earlier effects (a multi's overlay). */
class Overlay {
  private readonly changed = new Map<string, ZnodeRow | null>();
  private readonly txn: StorageTxn;

  constructor(txn: StorageTxn) {
    this.txn = txn;
  }

  get(path: string): ZnodeRow | undefined {
    if (this.changed.has(path)) return this.changed.get(path) ?? undefined;
    return this.txn.get<ZnodeRow>("znode", path);
  }

  set(path: string, row: ZnodeRow | null): void {
    this.changed.set(path, row);
  }

  effects(): Effect[] {
    return [...this.changed].map(([key, row]) => ({ table: "znode", key, row }));
  }
}

class WriteError extends Error {
  readonly keeperName: KeeperErrorName;

  constructor(keeperName: KeeperErrorName) {
    super(keeperName);
    this.keeperName = keeperName;
  }
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/** The root row of a new tree, logged as the snapshot at (epoch, 0). */
export function rootRow(zxid: number, now: number): ZnodeRow {
  return { path: "/", data: "", stat: newStat(zxid, now, "", 0) };
}

function newStat(zxid: number, now: number, data: string, owner: number): Stat {
  return {
    czxid: zxid, mzxid: zxid, pzxid: zxid, ctime: now, mtime: now, version: 0, cversion: 0, aversion: 0,
    ephemeralOwner: owner, dataLength: data.length, numChildren: 0,
  };
}

function childChanged(overlay: Overlay, parentPath: string, zxid: number, delta: 1 | -1): void {
  const parent = overlay.get(parentPath);
  if (!parent) throw new WriteError("NoNode");
  const stat = { ...parent.stat, cversion: parent.stat.cversion + 1, pzxid: zxid, numChildren: parent.stat.numChildren + delta };
  overlay.set(parentPath, { ...parent, stat });
}

function existing(overlay: Overlay, path: string, version: number): ZnodeRow {
  const row = overlay.get(path);
  if (!row) throw new WriteError("NoNode");
  if (version !== -1 && version !== row.stat.version) throw new WriteError("BadVersion");
  return row;
}

function executeOne(overlay: Overlay, op: Exclude<WriteOp, { op: "multi" } | { op: "closeSession" }>, session: number, zxid: number, now: number): Stat | undefined {
  switch (op.op) {
    case "create": {
      if (op.path === "/" || overlay.get(op.path)) throw new WriteError("NodeExists");
      const parent = overlay.get(parentOf(op.path));
      if (!parent) throw new WriteError("NoNode");
      if (parent.stat.ephemeralOwner !== 0) throw new WriteError("NoChildrenForEphemerals");
      childChanged(overlay, parentOf(op.path), zxid, 1);
      const row = { path: op.path, data: op.data, stat: newStat(zxid, now, op.data, op.ephemeral ? session : 0) };
      overlay.set(op.path, row);
      return row.stat;
    }
    case "setData": {
      const row = existing(overlay, op.path, op.version);
      const stat = { ...row.stat, mzxid: zxid, mtime: now, version: row.stat.version + 1, dataLength: op.data.length };
      overlay.set(op.path, { ...row, data: op.data, stat });
      return stat;
    }
    case "delete": {
      const row = existing(overlay, op.path, op.version);
      if (row.stat.numChildren > 0) throw new WriteError("NotEmpty");
      if (op.path === "/") throw new WriteError("BadArguments");
      overlay.set(op.path, null);
      childChanged(overlay, parentOf(op.path), zxid, -1);
      return undefined;
    }
    case "check":
      return existing(overlay, op.path, op.version).stat;
  }
}

/** A multi: all ops or none; on failure the failing op carries its error and the others RuntimeInconsistency. */
function executeMulti(overlay: Overlay, ops: WriteOp[], session: number, zxid: number, now: number): Execution {
  const results: Array<Omit<Reply, "zxid">> = [];
  for (const [index, op] of ops.entries()) {
    if (op.op === "multi" || op.op === "closeSession") throw new WriteError("BadArguments");
    try {
      results.push({ stat: executeOne(overlay, op, session, zxid, now) });
    } catch (err) {
      if (!(err instanceof WriteError)) throw err;
      const failed = ops.map((_, i) => ({ error: (i === index ? err.keeperName : "RuntimeInconsistency") as KeeperErrorName }));
      return { reply: { error: err.keeperName, results: failed as Reply[] }, effects: [] };
    }
  }
  return { reply: { results: results as Reply[] }, effects: overlay.effects() };
}

/** The ephemerals a closing session owns. A scan: the adapter keeps an index by owner. */
function ephemeralsOf(txn: StorageTxn, session: number): ZnodeRow[] {
  const owned: ZnodeRow[] = [];
  let after: string | undefined;
  for (;;) {
    const page = txn.scan<ZnodeRow>("znode", after, 256);
    for (const [, row] of page) if (row.stat.ephemeralOwner === session) owned.push(row);
    if (page.length < 256) return owned;
    after = page[page.length - 1]![0] as string;
  }
}

/**
 * Executes a write at `zxid` and returns its reply and effects (none when it failed).
 *
 * @example
 * const { reply, effects } = execute(txn, { op: "setData", path: "/a", data: "x", version: -1 }, 7, zxid, now);
 */
export function execute(txn: StorageTxn, op: WriteOp, session: number, zxid: number, now: number): Execution {
  const overlay = new Overlay(txn);
  if (op.op === "multi") return executeMulti(overlay, op.ops, session, zxid, now);
  if (op.op === "closeSession") {
    // Deepest first, so that a parent is never deleted before its child.
    const owned = ephemeralsOf(txn, session).sort((a, b) => b.path.length - a.path.length);
    for (const row of owned) executeOne(overlay, { op: "delete", path: row.path, version: -1 }, session, zxid, now);
    return { reply: {}, effects: overlay.effects() };
  }
  try {
    const stat = executeOne(overlay, op, session, zxid, now);
    return { reply: stat ? { stat } : {}, effects: overlay.effects() };
  } catch (err) {
    if (!(err instanceof WriteError)) throw err;
    return { reply: { error: err.keeperName }, effects: [] };
  }
}
