/**
 * Row-level access to the znode table. Knows SQL, not ZooKeeper's rules
 * (those are in shard-tree.ts).
 */
import { type Acl, type NodeKind, type Stat, type Value } from "../../protocol/index.ts";
import { ZNODE_COLUMNS } from "./schema.ts";

/**
 * A znode as stored: the Stat's own fields (ephemeralOwner and dataLength are
 * derived), except that `cversion` counts child creates so far, the next sequence
 * suffix; the Stat shows a value derived from it (statOf).
 */
export interface ZnodeRow extends Omit<Stat, "ephemeralOwner" | "dataLength"> {
  path: string;
  parent: string | null;
  name: string;
  /** null: ZooKeeper's null value (stored as empty bytes and data_null). */
  data: Value;
  acl: Acl[];
  kind: NodeKind | "mount";
  owner: number;
  ttlMs: number | null;
}

export type SqlRow = Record<string, SqlStorageValue>;

/** The data and data_null columns of a value (the data column cannot hold NULL). */
const storedData = (data: Value): [Uint8Array, number] => (data === null ? [new Uint8Array(0), 1] : [data, 0]);

/**
 * Rows per page of a read a caller may stop early. Each statement is read to its end:
 * one left unfinished holds a read snapshot, and SQLite then cannot checkpoint its
 * WAL, which grew by every write (260 MB after 300 writes of 1 MiB, measured).
 */
export const PAGE_ROWS = 256;

const ZNODE_PLACEHOLDERS = ZNODE_COLUMNS.split(", ").map(() => "?").join(", ");

/** Sets a row's columns that no index holds, where its indexed ones (parent, name, kind, owner) are as given. */
const UPDATE_UNINDEXED = `UPDATE znodes SET data = ?, data_null = ?, acl = ?, ttl_ms = ?, czxid = ?, mzxid = ?, pzxid = ?, ctime = ?, mtime = ?,
  version = ?, cversion = ?, aversion = ?, num_children = ? WHERE path = ? AND parent IS ? AND name = ? AND kind = ? AND owner = ?`;

/** A row's values in ZNODE_COLUMNS's order. */
function columnsOf(row: ZnodeRow): unknown[] {
  return [
    row.path, row.parent, row.name, ...storedData(row.data), JSON.stringify(row.acl), row.kind, row.owner, row.ttlMs,
    row.czxid, row.mzxid, row.pzxid, row.ctime, row.mtime, row.version, row.cversion, row.aversion, row.numChildren,
  ];
}

export function rowFromSql(r: SqlRow): ZnodeRow {
  return {
    path: r.path as string,
    parent: r.parent as string | null,
    name: r.name as string,
    data: r.data_null ? null : new Uint8Array(r.data as ArrayBuffer),
    acl: JSON.parse(r.acl as string) as Acl[],
    kind: r.kind as ZnodeRow["kind"],
    owner: r.owner as number,
    ttlMs: r.ttl_ms as number | null,
    czxid: r.czxid as number,
    mzxid: r.mzxid as number,
    pzxid: r.pzxid as number,
    ctime: r.ctime as number,
    mtime: r.mtime as number,
    version: r.version as number,
    cversion: r.cversion as number,
    aversion: r.aversion as number,
    numChildren: r.num_children as number,
  };
}

/**
 * The Stat ZooKeeper shows for a row: ephemeralOwner only for EPHEMERAL nodes, and
 * cversion as DataNode.copyStat reports it, 2 x creates - numChildren: child creates
 * plus child deletes, and negative on nodes born with children ("/" shows -1 and
 * "/zookeeper" -2 on a new ZooKeeper 3.8). Sequence suffixes use the create count.
 */
export function statOf(row: ZnodeRow): Stat {
  return {
    czxid: row.czxid,
    mzxid: row.mzxid,
    pzxid: row.pzxid,
    ctime: row.ctime,
    mtime: row.mtime,
    version: row.version,
    cversion: row.cversion * 2 - row.numChildren,
    aversion: row.aversion,
    ephemeralOwner: row.kind === "ephemeral" ? row.owner : 0,
    dataLength: row.data?.byteLength ?? 0,
    numChildren: row.numChildren,
  };
}

export class ZnodeStore {
  private readonly sql: SqlStorage;
  /** While `tracking`: the last row written at each path (undefined: removed). */
  private written: Map<string, ZnodeRow | undefined> | undefined;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  get(path: string): ZnodeRow | undefined {
    const rows = this.sql.exec<SqlRow>("SELECT * FROM znodes WHERE path = ?", path).toArray();
    return rows[0] ? rowFromSql(rows[0]) : undefined;
  }

  /**
   * Runs `fn` and answers, with its value, the last row it wrote at each path
   * (undefined: removed), so a write's log entries need not read them back.
   */
  tracking<T>(fn: () => T): { value: T; written: Map<string, ZnodeRow | undefined> } {
    const written = new Map<string, ZnodeRow | undefined>();
    this.written = written;
    try {
      return { value: fn(), written };
    } finally {
      this.written = undefined;
    }
  }

  insert(row: ZnodeRow): void {
    this.written?.set(row.path, { ...row });
    this.sql.exec(`INSERT INTO znodes (${ZNODE_COLUMNS}) VALUES (${ZNODE_PLACEHOLDERS})`, ...columnsOf(row));
  }

  /**
   * Sets a whole row, there or not (a replica applying its leader's row; the counters
   * move by update). A row there with the same indexed columns (most writes: setData,
   * a child's create or delete) gets only its other columns set: setting an indexed
   * column writes its index row too, even unchanged.
   */
  put(row: ZnodeRow): void {
    const [path, parent, name, data, dataNull, acl, kind, owner, ...rest] = columnsOf(row);
    if (this.sql.exec(UPDATE_UNINDEXED, data, dataNull, acl, ...rest, path, parent, name, kind, owner).rowsWritten > 0) return;
    this.sql.exec(
      `INSERT INTO znodes (${ZNODE_COLUMNS}) VALUES (${ZNODE_PLACEHOLDERS})
       ON CONFLICT (path) DO UPDATE SET ${ZNODE_COLUMNS.split(", ").slice(1).map((c) => `${c} = excluded.${c}`).join(", ")}`,
      ...columnsOf(row),
    );
  }

  /** Whole rows after `after` in path order (all when undefined), at most `limit`. */
  rowsAfter(after: string | undefined, limit: number): ZnodeRow[] {
    return this.sql.exec<SqlRow>("SELECT * FROM znodes WHERE path > ? ORDER BY path LIMIT ?", after ?? "", limit).toArray().map(rowFromSql);
  }

  removeAll(): void {
    this.sql.exec("DELETE FROM znodes");
  }

  /**
   * Writes back a row's children fields (a child created or deleted). Each update
   * sets only the columns its operation changes: a parent's value is not rewritten
   * for a child, and the tree's counters (schema.ts) move only with a value.
   */
  updateChildren(row: ZnodeRow): void {
    this.written?.set(row.path, { ...row });
    this.sql.exec("UPDATE znodes SET pzxid = ?, cversion = ?, num_children = ? WHERE path = ?", row.pzxid, row.cversion, row.numChildren, row.path);
  }

  /** Writes back a row's value and the fields a setData moves. */
  updateData(row: ZnodeRow): void {
    this.written?.set(row.path, { ...row });
    this.sql.exec(
      "UPDATE znodes SET data = ?, data_null = ?, mzxid = ?, mtime = ?, version = ? WHERE path = ?",
      ...storedData(row.data), row.mzxid, row.mtime, row.version, row.path,
    );
  }

  /** Writes back a row's ACL and its version. */
  updateAcl(row: ZnodeRow): void {
    this.written?.set(row.path, { ...row });
    this.sql.exec("UPDATE znodes SET acl = ?, aversion = ? WHERE path = ?", JSON.stringify(row.acl), row.aversion, row.path);
  }

  remove(path: string): void {
    this.written?.set(path, undefined);
    this.sql.exec("DELETE FROM znodes WHERE path = ?", path);
  }

  /** The children's names in order, read a page at a time: a caller may stop early. */
  *childNames(path: string): Generator<string> {
    let after = "";
    for (;;) {
      const page = this.sql.exec<{ name: string }>("SELECT name FROM znodes WHERE parent = ? AND name > ? ORDER BY name LIMIT ?", path, after, PAGE_ROWS).toArray();
      for (const row of page) yield row.name;
      if (page.length < PAGE_ROWS) return;
      after = page[page.length - 1]!.name;
    }
  }

  /** Number of nodes strictly below `path` in this shard (a range scan of the primary key). */
  countDescendants(path: string): number {
    const lo = path === "/" ? "/" : `${path}/`;
    const hi = path === "/" ? "0" : `${path}0`; // "0" is the character after "/"
    const row = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM znodes WHERE path > ? AND path < ?", lo, hi).one();
    return row.n;
  }

  /** A session's ephemeral nodes' paths in order, read a page at a time: a caller may stop early. */
  *ephemeralsOf(sessionId: number): Generator<string> {
    let after = "";
    for (;;) {
      const page = this.sql
        .exec<{ path: string }>("SELECT path FROM znodes WHERE owner = ? AND kind = 'ephemeral' AND path > ? ORDER BY path LIMIT ?", sessionId, after, PAGE_ROWS)
        .toArray();
      for (const row of page) yield row.path;
      if (page.length < PAGE_ROWS) return;
      after = page[page.length - 1]!.path;
    }
  }

  isSessionClosed(sessionId: number): boolean {
    return this.sql.exec("SELECT 1 FROM closed_sessions WHERE session_id = ?", sessionId).toArray().length > 0;
  }

  /** Stubs of subtrees mounted on other shards. */
  mountStubs(): string[] {
    return this.sql.exec<{ path: string }>("SELECT path FROM znodes WHERE kind = 'mount'").toArray().map((r) => r.path);
  }

  /** TTL nodes without children whose TTL has run out since their last change. */
  expiredTtlNodes(now: number): string[] {
    return this.sql
      .exec<{ path: string }>("SELECT path FROM znodes WHERE kind = 'ttl' AND num_children = 0 AND mtime + ttl_ms < ?", now)
      .toArray()
      .map((r) => r.path);
  }

  /** Containers that had children and have none left. */
  emptiedContainers(): string[] {
    return this.sql
      .exec<{ path: string }>("SELECT path FROM znodes WHERE kind = 'container' AND num_children = 0 AND cversion > 0")
      .toArray()
      .map((r) => r.path);
  }

  /** The earliest moment a childless TTL node expires, if any. */
  nextTtlExpiry(): number | undefined {
    const row = this.sql
      .exec<{ t: number | null }>("SELECT min(mtime + ttl_ms) + 1 AS t FROM znodes WHERE kind = 'ttl' AND num_children = 0")
      .one();
    return row.t ?? undefined;
  }
}
