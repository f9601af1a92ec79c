/**
 * Stack traces that name our TypeScript sources: workerd reports positions in the
 * bundle `npm start` builds (file:///…/worker.js:LINE:COL); this rewrites each to its
 * source (durable/shard/shard-do.ts:LINE:COL) with the bundle's source map, in every
 * line the Worker and its objects log.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A rewriter for text mentioning positions in `bundlePath` (its map is `bundlePath`.map),
 * naming sources relative to `shownFrom`. Positions the map does not cover stay as they are.
 *
 * @example
 * const mapped = sourceMappedPositions(".edgekeeper/build/worker.js");
 * mapped("at execute (file:///repo/.edgekeeper/build/worker.js:812:11)"); // "at execute (durable/shard/shard-do.ts:214:9)"
 */
export function sourceMappedPositions(bundlePath: string, shownFrom = process.cwd()): (text: string) => string {
  const map = new SourceMap(JSON.parse(readFileSync(`${bundlePath}.map`, "utf8")));
  const position = new RegExp(`${escapeRegExp(pathToFileURL(resolve(bundlePath)).href)}:(\\d+):(\\d+)`, "g");
  return (text) =>
    text.replace(position, (whole, line: string, column: string) => {
      // The mapping segment the position falls in (findOrigin would shift the source
      // column by the position's offset within the segment, which indentation skews).
      const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
      if (!("originalSource" in entry)) return whole;
      const source = entry.originalSource;
      const file = source.startsWith("file:") ? fileURLToPath(source) : isAbsolute(source) ? source : resolve(dirname(bundlePath), source);
      return `${relative(shownFrom, file)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    });
}
