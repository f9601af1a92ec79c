/**
 * A shard's side of snapshots, in SQL.
 *
 * Save: `take` copies the znode table into `snapshot_copy` in one synchronous
 * transaction, so the copy is the tree at one zxid whatever writes follow (a read
 * transaction cannot span the RPCs of a paged save); `page` reads it by path, bounded
 * in bytes, and the last page drops it. Ephemerals are left out, and their parents
 * counted as if they were deleted; mount stubs are left out (the mounted shard's
 * root is the node).
 *
 * Restore: `restore` writes rows as given (Stat included), `verifyCounts` checks
 * that every restored node's numChildren matches its children.
 */
import {
  type Acl,
  type Id,
  KeeperError,
  Perms,
  type Limits,
  SYSTEM_PATHS,
  type SnapshotNode,
  aclAllows,
  basename,
  bytesToBase64,
  isWithin,
  parentOf,
  parseSnapshotNode,
} from "../../protocol/index.ts";
import { ZNODE_COLUMNS, znodeTableSql } from "./schema.ts";
import { type SqlRow, type ZnodeRow, ZnodeStore, rowFromSql, statOf } from "./znode-store.ts";

const COPY = "snapshot_copy";
/** What a node costs in a page besides its path, data (base64) and ACL: its Stat and JSON. */
const NODE_OVERHEAD_BYTES = 300;
/** Most nodes in one page, whatever their size (bounds the work of one answer). */
const PAGE_ROWS = 5_000;

export interface SnapshotPage {
  nodes: SnapshotNode[];
  /** The last path in this page: ask for the next page after it. */
  last: string | null;
  done: boolean;
}

/** A row as a snapshot node (ephemerals and stubs never reach here). */
export function snapshotNodeOf(row: ZnodeRow): SnapshotNode {
  const node: SnapshotNode = {
    path: row.path,
    kind: row.kind as SnapshotNode["kind"],
    data: row.data === null ? null : bytesToBase64(row.data),
    acl: row.acl,
    stat: statOf(row),
  };
  if (row.kind === "ttl" && row.ttlMs !== null) node.ttlMs = row.ttlMs;
  return node;
}

/** A snapshot node as a row: the stored cversion counts child creates (the next sequence suffix). */
function rowOf(node: SnapshotNode, data: Uint8Array | null): ZnodeRow {
  const { stat } = node;
  return {
    path: node.path,
    parent: node.path === "/" ? null : parentOf(node.path),
    name: basename(node.path),
    data,
    acl: node.acl,
    kind: node.kind,
    owner: 0,
    ttlMs: node.ttlMs ?? null,
    czxid: stat.czxid,
    mzxid: stat.mzxid,
    pzxid: stat.pzxid,
    ctime: stat.ctime,
    mtime: stat.mtime,
    version: stat.version,
    cversion: (stat.cversion + stat.numChildren) / 2,
    aversion: stat.aversion,
    numChildren: stat.numChildren,
  };
}

export class SnapshotStore {
  private readonly sql: SqlStorage;
  private readonly store: ZnodeStore;

  constructor(sql: SqlStorage, store: ZnodeStore) {
    this.sql = sql;
    this.store = store;
  }

  private meta(key: string): string | undefined {
    const value = this.sql.exec<{ value: SqlStorageValue }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
    return value === undefined || value === null ? undefined : String(value);
  }

  /** Copies the tree as it is now, replacing an earlier save's copy. Call inside a transaction. */
  take(id: string): void {
    this.sql.exec(`DROP TABLE IF EXISTS ${COPY}`);
    this.sql.exec(znodeTableSql(COPY));
    const system = SYSTEM_PATHS.map(() => "?").join(", ");
    this.sql.exec(
      `INSERT INTO ${COPY} (${ZNODE_COLUMNS}) SELECT ${ZNODE_COLUMNS} FROM znodes WHERE kind NOT IN ('ephemeral', 'mount') AND path NOT IN (${system})`,
      ...SYSTEM_PATHS,
    );
    // Ephemerals are never restored: their parents are saved as if they had gone.
    this.sql.exec(
      `UPDATE ${COPY} SET num_children = num_children - (SELECT count(*) FROM znodes e WHERE e.parent = ${COPY}.path AND e.kind = 'ephemeral')
       WHERE path IN (SELECT parent FROM znodes WHERE kind = 'ephemeral')`,
    );
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('snapshot_id', ?)", id);
  }

  /**
   * The nodes after `after` in path order, about `maxBytes` of them (at least one).
   * Every one must be readable by `readerIds` (an ACL protects a node in a snapshot
   * too; super reads all): NoAuth names the first that is not.
   */
  page(id: string, after: string, maxBytes: number, readerIds: readonly Id[]): SnapshotPage {
    if (this.meta("snapshot_id") !== id) {
      throw new KeeperError("SystemError", "this save's copy of the shard is gone (a newer save replaced it, or it was finished): start the save again");
    }
    // Sizes first, then the rows that fit: every statement runs to its end (an open
    // cursor would hold the copy locked against the last page's DROP), and no more
    // rows are read than the page holds.
    const sizes = this.sql
      .exec<{ path: string; size: number }>(
        `SELECT path, length(path) + length(data) * 4 / 3 + length(acl) + ? AS size FROM ${COPY} WHERE path > ? ORDER BY path LIMIT ?`,
        NODE_OVERHEAD_BYTES, after, PAGE_ROWS,
      )
      .toArray();
    let count = 0;
    let bytes = 0;
    while (count < sizes.length && (count === 0 || bytes + sizes[count]!.size <= maxBytes)) bytes += sizes[count++]!.size;
    const last = count > 0 ? sizes[count - 1]!.path : null;
    const rows = last === null ? [] : this.sql.exec<SqlRow>(`SELECT ${ZNODE_COLUMNS} FROM ${COPY} WHERE path > ? AND path <= ? ORDER BY path`, after, last).toArray();
    const nodes = rows.map((raw) => rowFromSql(raw));
    const refused = nodes.find((row) => !aclAllows(row.acl, Perms.READ, readerIds));
    if (refused) throw new KeeperError("NoAuth", `a save needs READ on every node, and ${refused.path} refuses it: save with an identity it allows, or as super`, refused.path);
    const done = count === sizes.length && sizes.length < PAGE_ROWS;
    if (done) this.drop();
    return { nodes: nodes.map(snapshotNodeOf), last, done };
  }

  private drop(): void {
    this.sql.exec(`DROP TABLE IF EXISTS ${COPY}`);
    this.sql.exec("DELETE FROM meta WHERE key = 'snapshot_id'");
  }

  /** Whether the shard holds nothing but its root (and, for "/", ZooKeeper's own nodes). */
  holdsOnlyRoot(root: string): boolean {
    const system = SYSTEM_PATHS.map(() => "?").join(", ");
    const row = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM znodes WHERE path != ? AND path NOT IN (${system})`, root, ...SYSTEM_PATHS).one();
    return row.n === 0;
  }

  /**
   * Writes saved nodes of the subtree at `root` as given, Stat included; the root's
   * row is replaced, any other node must be new (NodeExists). Checked against this
   * server's limits. Call inside a transaction, so a refused page writes nothing.
   */
  restore(root: string, nodes: readonly unknown[], limits: Limits): void {
    for (const value of nodes) {
      const { node, bytes } = parseSnapshotNode(value, limits);
      if (!isWithin(node.path, root)) throw new KeeperError("BadArguments", `${node.path} is not served by the shard of ${root}`, node.path);
      if (node.path === root) this.store.remove(root);
      else if (this.store.get(node.path)) throw new KeeperError("NodeExists", `${node.path} exists already`, node.path);
      this.store.insert(rowOf(node, bytes));
    }
  }

  /** The stub that lists, in its parent's shard, a subtree restored as a mount. */
  insertMountStub(path: string, acl: Acl[], now: number): void {
    if (this.store.get(path)) return;
    this.store.insert({
      path, parent: parentOf(path), name: basename(path), data: new Uint8Array(0), acl, kind: "mount", owner: 0, ttlMs: null,
      czxid: 0, mzxid: 0, pzxid: 0, ctime: now, mtime: now, version: 0, cversion: 0, aversion: 0, numChildren: 0,
    });
  }

  /** Refuses a restored tree whose numChildren disagree with the children restored (a damaged snapshot). */
  verifyCounts(): void {
    const wrong = this.sql
      .exec<{ path: string; num_children: number; n: number }>(
        "SELECT p.path, p.num_children, (SELECT count(*) FROM znodes c WHERE c.parent = p.path) AS n FROM znodes p WHERE p.num_children != n LIMIT 1",
      )
      .toArray()[0];
    if (wrong) throw new KeeperError("MarshallingError", `${wrong.path} says it has ${wrong.num_children} children; the snapshot holds ${wrong.n}`, wrong.path);
  }
}
