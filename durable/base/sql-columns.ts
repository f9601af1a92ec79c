/**
 * Adding a column to a table that objects created before it already hold: SQLite's
 * ALTER TABLE has no IF NOT EXISTS, so the column is looked up first.
 */

/**
 * Adds `column` (with its SQL `declaration`, e.g. "TEXT") to `table` unless it is there.
 * Names come from our own code, never from input.
 *
 * @example
 * addColumnIfMissing(sql, "change_log", "acl", "TEXT");
 */
export function addColumnIfMissing(sql: SqlStorage, table: string, column: string, declaration: string): void {
  const columns = sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray();
  if (!columns.some((c) => c.name === column)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${declaration}`);
}
