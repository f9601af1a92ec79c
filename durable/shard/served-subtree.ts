/**
 * The subtree a shard serves: its root ("/", or a mount point) and whether an
 * unmount has sealed it. A leader keeps them in its `meta` table (keys 'root' and
 * 'sealed'); to the replication core they are one row of the "subtree" table, so
 * the snapshot that opens the log and the seal's log entry carry them, and a
 * replica serves exactly the subtree its leader does, and stops when it is sealed.
 */
import type { RowKey } from "../replication/core/index.ts";
import type { SqlTable } from "../replication/sqlite-storage.ts";

/** A served subtree as the log carries it (the one row of the core's "subtree" table). */
export interface ServedSubtree {
  root: string;
  sealed: boolean;
}

/** The key of that one row. */
export const SUBTREE_KEY = "subtree";

/** The "subtree" core table over meta's 'root' and 'sealed' rows. */
export class SubtreeTable implements SqlTable {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** The root (undefined: not set up yet, or freed) and the seal, in one statement, read for each batch (decisions read storage: DESIGN.md). */
  read(): { root: string | undefined; sealed: boolean } {
    const { root, sealed } = this.sql
      .exec<{ root: SqlStorageValue; sealed: SqlStorageValue }>("SELECT (SELECT value FROM meta WHERE key = 'root') AS root, (SELECT value FROM meta WHERE key = 'sealed') AS sealed")
      .one();
    return { root: root === null ? undefined : String(root), sealed: sealed !== null };
  }

  get(_key: RowKey): ServedSubtree | undefined {
    const { root, sealed } = this.read();
    return root === undefined ? undefined : { root, sealed };
  }

  put(_key: RowKey, row: unknown): void {
    const { root, sealed } = row as ServedSubtree;
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('root', ?)", root);
    if (sealed) this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('sealed', 1)");
    else this.sql.exec("DELETE FROM meta WHERE key = 'sealed'");
  }

  delete(_key: RowKey): void {
    this.sql.exec("DELETE FROM meta WHERE key IN ('root', 'sealed')");
  }

  scan(after: RowKey | undefined, limit: number): Array<[RowKey, unknown]> {
    // One row at most: all of it on the first page.
    const row = after === undefined && limit > 0 ? this.get(SUBTREE_KEY) : undefined;
    return row ? [[SUBTREE_KEY, row]] : [];
  }

  deleteAll(): void {
    this.delete(SUBTREE_KEY);
  }
}
