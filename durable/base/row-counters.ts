/**
 * Counters of a table's rows kept in the object's `meta` table by SQLite triggers,
 * so every insert, update and delete moves them in its own transaction, whichever
 * code path made it (a write, the reaper, a session's close, an unmount). A scrape
 * then reads a few meta rows: a COUNT(*) or SUM over the table per scrape would read
 * every row (billed per row read when deployed) and hold the single-threaded object
 * for as long as that takes, on every poll of every monitor.
 */

/** One counter: its meta key, and what one row adds, as SQL over the row named `ROW`. */
export interface RowCounter {
  key: string;
  perRow: string;
}

const over = (expression: string, row: string) => expression.replaceAll("ROW.", `${row}.`);

/**
 * The triggers that keep `counters` of `table` (names and expressions come from our
 * code, never from input); `changedBy`: the columns whose update can move a counter
 * (none: updates never do). Run them with the table's schema, then `initializeCounters`.
 * Each writes only the counters its row moves: a meta row written costs a row write
 * (billed when deployed) on every insert, update and delete of the table.
 *
 * @example
 * counterTriggers("znodes", [{ key: "data_bytes", perRow: "length(ROW.data)" }], ["data"]);
 */
export function counterTriggers(table: string, counters: readonly RowCounter[], changedBy: readonly string[] = []): string[] {
  const moves = (delta: (c: RowCounter) => string) =>
    counters.map((c) => `UPDATE meta SET value = value + (${delta(c)}) WHERE key = '${c.key}' AND (${delta(c)}) != 0;`).join(" ");
  return [
    // Earlier versions' triggers wrote every counter on every change, moved or not.
    ...["insert", "delete", "update"].map((event) => `DROP TRIGGER IF EXISTS ${table}_counted_${event}`),
    `CREATE TRIGGER IF NOT EXISTS ${table}_counts_insert AFTER INSERT ON ${table} BEGIN ${moves((c) => over(c.perRow, "NEW"))} END`,
    `CREATE TRIGGER IF NOT EXISTS ${table}_counts_delete AFTER DELETE ON ${table} BEGIN ${moves((c) => `0 - (${over(c.perRow, "OLD")})`)} END`,
    ...(changedBy.length === 0
      ? []
      : [
          `CREATE TRIGGER IF NOT EXISTS ${table}_counts_update AFTER UPDATE OF ${changedBy.join(", ")} ON ${table} BEGIN ${moves((c) => `(${over(c.perRow, "NEW")}) - (${over(c.perRow, "OLD")})`)} END`,
        ]),
  ];
}

/**
 * Starts each counter missing from meta at the table's current total: once per
 * object (a table made before its counter existed is summed here, and never again).
 */
export function initializeCounters(sql: SqlStorage, table: string, counters: readonly RowCounter[]): void {
  for (const { key, perRow } of counters) {
    if (sql.exec("SELECT 1 FROM meta WHERE key = ?", key).toArray().length > 0) continue;
    sql.exec(`INSERT INTO meta (key, value) SELECT ?, coalesce(sum(${over(perRow, table)}), 0) FROM ${table}`, key);
  }
}

/** The counters' values (0 for one not started). */
export function readCounters<K extends string>(sql: SqlStorage, keys: readonly K[]): Record<K, number> {
  const values = {} as Record<K, number>;
  for (const key of keys) {
    const row = sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    values[key] = Number(row?.value ?? 0);
  }
  return values;
}
