/**
 * Durable Object SQLite allows 100 bound parameters per statement, so a query with
 * `IN (...)` over a list of unbounded length (the ancestors of a path hundreds of
 * levels deep) runs in chunks.
 */
const CHUNK = 90;

/**
 * Runs `query` once per chunk of `values` with `placeholders` ("?, ?, ...") for that
 * chunk, and returns all rows in order.
 *
 * @example
 * inChunks(paths, (chunk, marks) => sql.exec(`SELECT host FROM watches WHERE path IN (${marks})`, ...chunk).toArray());
 */
export function inChunks<T>(values: readonly string[], query: (chunk: string[], placeholders: string) => T[]): T[] {
  const rows: T[] = [];
  for (let i = 0; i < values.length; i += CHUNK) {
    const chunk = values.slice(i, i + CHUNK);
    rows.push(...query(chunk, chunk.map(() => "?").join(", ")));
  }
  return rows;
}
