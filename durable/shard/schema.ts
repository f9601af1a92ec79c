/**
 * The shard's SQLite schema. Applied once per object start (idempotent), then
 * migrateShardSchema adds what tables made by older versions lack.
 */
import { type RowCounter, counterTriggers, initializeCounters } from "../base/row-counters.ts";
import { addColumnIfMissing, tableExists } from "../base/sql-columns.ts";
import { migrateReplicationSchema } from "../replication/sqlite-storage.ts";

/**
 * What the shard counts of its tree, as ZooKeeper's mntr reports it: nodes,
 * ephemerals, and the approximate data size (each node's path length plus its
 * data's bytes, as ZooKeeper's DataTree sums it). A mount stub is not counted: the
 * mounted shard counts its root.
 */
export const ZNODE_COUNTERS: readonly RowCounter[] = [
  { key: "node_count", perRow: "ROW.kind != 'mount'" },
  { key: "ephemeral_count", perRow: "ROW.kind = 'ephemeral'" },
  { key: "data_bytes", perRow: "CASE WHEN ROW.kind = 'mount' THEN 0 ELSE length(ROW.path) + length(ROW.data) END" },
];

/**
 * The znode table's definition under `name`: "znodes", or a saved copy of it
 * (snapshot-copy.ts; copied by ZNODE_COLUMNS, as tables made by older versions
 * hold data_null last).
 */
export function znodeTableSql(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
    path TEXT PRIMARY KEY,
    parent TEXT,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    data_null INTEGER NOT NULL DEFAULT 0,
    acl TEXT NOT NULL,
    kind TEXT NOT NULL,
    owner INTEGER NOT NULL DEFAULT 0,
    ttl_ms INTEGER,
    czxid INTEGER NOT NULL, mzxid INTEGER NOT NULL, pzxid INTEGER NOT NULL,
    ctime INTEGER NOT NULL, mtime INTEGER NOT NULL,
    version INTEGER NOT NULL, cversion INTEGER NOT NULL, aversion INTEGER NOT NULL,
    num_children INTEGER NOT NULL
  ) WITHOUT ROWID`;
}

/** The znode table's columns, for copies between tables of it. */
export const ZNODE_COLUMNS =
  "path, parent, name, data, data_null, acl, kind, owner, ttl_ms, czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, num_children";

export const SHARD_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID`,
  // One row per znode. kind: persistent | ephemeral | container | ttl | mount (a stub
  // for a subtree mounted on another shard, listed here so the parent shows it).
  // data_null: the value is ZooKeeper's null (data is then empty), not empty bytes.
  znodeTableSql("znodes"),
  `CREATE INDEX IF NOT EXISTS znodes_by_parent ON znodes (parent, name)`,
  `CREATE INDEX IF NOT EXISTS znodes_by_owner ON znodes (owner) WHERE owner != 0`,
  `CREATE INDEX IF NOT EXISTS znodes_special ON znodes (kind) WHERE kind IN ('ttl', 'container', 'mount')`,
  // The replies to each session's recent writes (a window of cxids), stored with the
  // write: a retry applies once, also when a whole pipelined batch is sent again.
  // It replaces session_replies, which held only the last reply of a session.
  `DROP TABLE IF EXISTS session_replies`,
  `CREATE TABLE IF NOT EXISTS write_replies (
     session_id INTEGER NOT NULL,
     cxid INTEGER NOT NULL,
     reply TEXT NOT NULL,
     PRIMARY KEY (session_id, cxid)
   ) WITHOUT ROWID`,
  // Sessions closed or expired here: an ephemeral create from one that was still in
  // flight must not leave an orphan node behind.
  `CREATE TABLE IF NOT EXISTS closed_sessions (session_id INTEGER PRIMARY KEY, closed_at INTEGER NOT NULL)`,
];

/**
 * Adds the columns that tables made by older versions lack (each an O(1) change in
 * SQLite), and the tree's counters (summed once for a tree made before them).
 */
export function migrateShardSchema(sql: SqlStorage): void {
  addColumnIfMissing(sql, "znodes", "data_null", "INTEGER NOT NULL DEFAULT 0");
  // Outboxes written before events carried their ACL.
  addColumnIfMissing(sql, "watch_outbox", "acl", "TEXT");
  migrateReplicationSchema(sql);
  moveChangeLogIntoLog(sql);
  for (const trigger of counterTriggers("znodes", ZNODE_COUNTERS, ["data", "kind"])) sql.exec(trigger);
  initializeCounters(sql, "znodes", ZNODE_COUNTERS);
}

/**
 * A shard made before each log entry kept its events beside it had a change_log table
 * (one row per event). A leader's rows move into its log's events column, once; a
 * replica's were copies of what its log holds already. An event logged before ACLs
 * were recorded takes its node's ACL as logged then, if any. The table then goes.
 */
function moveChangeLogIntoLog(sql: SqlStorage): void {
  if (!tableExists(sql, "change_log")) return;
  addColumnIfMissing(sql, "change_log", "acl", "TEXT");
  sql.exec(
    `UPDATE replication_log SET events = (
       SELECT json_group_array(json_object('event', c.event, 'path', c.path, 'acl', json(coalesce(c.acl, json_extract(c.node, '$.acl')))))
       FROM change_log AS c WHERE c.zxid = replication_log.key)
     WHERE events IS NULL AND key IN (SELECT zxid FROM change_log)`,
  );
  sql.exec("DROP TABLE change_log");
}

/** Whether the object has the shard's tables (reading sqlite_master creates nothing: an object never set up stays empty). */
export function hasTables(sql: SqlStorage): boolean {
  return tableExists(sql, "znodes");
}

/** `sql` that runs `setUp` (making the tables) before its first statement: an object nothing uses stays empty. */
export function tablesOnFirstUse(sql: SqlStorage, setUp: () => void): SqlStorage {
  let made = false;
  const exec = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> => {
    if (!made) {
      made = true;
      setUp();
    }
    return sql.exec<T>(query, ...bindings);
  };
  return new Proxy(sql, { get: (target, key) => (key === "exec" ? exec : Reflect.get(target, key, target)) });
}
