/**
 * Builds the web console (console/) into a Workers static-assets directory:
 * `<dir>/ui/index.html` and `<dir>/ui/app.js` (app.ts, its modules and the client, bundled), so
 * the Worker's assets serve it at `/ui/`, on the API's own origin.
 *
 * `npm start` builds it into its state directory; `wrangler deploy` and `wrangler dev`
 * run this file as wrangler.toml's `[build] command`, which builds into `dist/assets`
 * (the `[assets] directory`). Generated files are never committed.
 *
 * @example
 * await buildUi("dist/assets"); // dist/assets/ui/index.html, dist/assets/ui/app.js
 *
 * Run with Node 24's type stripping: `node bridge/cli/build-ui.ts [DIR]`.
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const repoRoot = resolve(import.meta.dirname, "../..");
const source = join(repoRoot, "console");

/** The assets directory wrangler.toml names; relative to the repository. */
export const DEFAULT_ASSETS_DIR = "dist/assets";

/** Writes the page under `<assetsDir>/ui/`, replacing what an earlier build left there. */
export async function buildUi(assetsDir: string): Promise<void> {
  const outDir = join(resolve(repoRoot, assetsDir), "ui");
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(source, "app.ts")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: "linked",
    logLevel: "warning",
  });
  await copyFile(join(source, "index.html"), join(outDir, "index.html"));
}

if (import.meta.main) {
  const dir = process.argv[2] ?? DEFAULT_ASSETS_DIR;
  buildUi(dir).then(
    () => console.log(`edgekeeper: console built into ${join(dir, "ui")}`),
    (error: unknown) => {
      console.error("edgekeeper: building the console failed:", error);
      process.exit(1);
    },
  );
}
