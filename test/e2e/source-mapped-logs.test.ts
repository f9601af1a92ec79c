/**
 * `npm start` logs stack positions in our TypeScript sources, not in the bundle it
 * runs: a position in a bundle built as start.ts builds it (esbuild, source map
 * beside it) is rewritten to the source file, line and column it came from.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, expect, it } from "vitest";
import { sourceMappedPositions } from "../../bridge/cli/source-mapped-logs.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** 1-based line and column of `marker` in `text`. */
function positionOf(text: string, marker: string): { line: number; column: number } {
  const index = text.indexOf(marker);
  const before = text.slice(0, index).split("\n");
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

it("rewrites bundle positions in a log line to the TypeScript source, leaving other text alone", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edgekeeper-sourcemap-"));
  dirs.push(dir);
  const source = ["interface Row { path: string }", "", "export function fail(row: Row): never {", '  throw new Error(`bad row ${row.path}`);', "}", ""].join("\n");
  await writeFile(join(dir, "shard-ops.ts"), source);
  const bundle = join(dir, "build", "worker.js");
  await build({ entryPoints: [join(dir, "shard-ops.ts")], outfile: bundle, bundle: true, format: "esm", sourcemap: "both", logLevel: "silent" });

  const at = positionOf(await readFile(bundle, "utf8"), "throw new Error");
  const frame = `${pathToFileURL(bundle).href}:${at.line}:${at.column}`;
  const line = JSON.stringify({ level: "error", msg: "unexpected error", error: { stack: `Error: bad row /a\n    at fail (${frame})` } });

  const mapped = sourceMappedPositions(bundle, dir)(line);
  expect(JSON.parse(mapped).error.stack).toBe("Error: bad row /a\n    at fail (shard-ops.ts:4:3)");
  expect(sourceMappedPositions(bundle, dir)("no positions here")).toBe("no positions here");
});
