/**
 * Changing the schema of tables that objects created before a change already hold:
 * SQLite's ALTER TABLE has no IF NOT EXISTS, so the column is looked up first; and
 * whether a table is there at all (reading sqlite_master creates nothing).
 */

/**
 * Adds `column` (with its SQL `declaration`, e.g. "TEXT") to `table` unless it is there.
 * Names come from our own code, never from input.
 *
 * @example
 * addColumnIfMissing(sql, "watch_outbox", "acl", "TEXT");
 */
export function addColumnIfMissing(sql: SqlStorage, table: string, column: string, declaration: string): void {
  const columns = sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray();
  if (!columns.some((c) => c.name === column)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${declaration}`);
}

/** Whether the object holds `table`. */
export function tableExists(sql: SqlStorage, table: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table).toArray().length > 0;
}
