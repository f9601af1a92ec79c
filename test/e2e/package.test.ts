/**
 * The npm package as a user gets it: `npm pack` (which builds it), then the tarball
 * linted (publint, "are the types wrong") and installed, offline, into a fresh project
 * that imports the client under the system Node (20) and Node 24, type-checks against
 * it strictly, runs `npx edgekeeper`, and bundles it for a browser (Vite) and a Worker
 * (wrangler).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { build as viteBuild } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const SYSTEM_NODE = "/usr/bin/node"; // Debian's Node 20: the oldest the package supports
const RUN_LIMIT_MS = 300_000; // a limit for a stuck command, not a speed assertion

interface Output {
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; rejects with its output if it exits non-zero. */
async function run(command: string, args: readonly string[], cwd: string): Promise<Output> {
  try {
    return await promisify(execFile)(command, args, { cwd, timeout: RUN_LIMIT_MS, maxBuffer: 16 << 20 });
  } catch (error) {
    const { stdout, stderr, message } = error as Error & Partial<Output>;
    throw new Error(`${command} ${args.join(" ")} failed: ${message}\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

/** Writes the consumer project's files, given relative to it. */
async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
}

let tempRoot: string;
let tarball: string;
let consumer: string;
let version: string;

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), "edgekeeper-package-"));
  version = (JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
  const packed = await run("npm", ["pack", "--json", "--pack-destination", tempRoot], repoRoot);
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  tarball = join(tempRoot, filename);
  consumer = join(tempRoot, "consumer");
  await mkdir(consumer);
  await writeFiles(consumer, { "package.json": JSON.stringify({ name: "consumer", private: true, type: "module" }) });
  // Offline: the package has no dependencies, so the tarball is all npm needs.
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], consumer);
}, RUN_LIMIT_MS);

afterAll(async () => {
  if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("holds the compiled client, protocol and bin, no TypeScript sources, and declares no dependencies", async () => {
    const { stdout } = await run("tar", ["-tzf", tarball], tempRoot);
    const files = stdout.trim().split("\n");
    expect(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((file) => !/^package\/(dist\/(client|protocol|bridge)\/|bin\/edgekeeper\.js$|package\.json$|README\.md$|LICENSE$)/.test(file))).toEqual([]);
    expect(files).toContain("package/LICENSE");
    expect(files).toContain("package/dist/client/index.d.ts");
    expect(files).toContain("package/dist/client/recipes/index.d.ts");
    const installed = JSON.parse(await readFile(join(consumer, "node_modules/edgekeeper/package.json"), "utf8")) as Record<string, unknown>;
    expect(installed.dependencies).toBeUndefined();
    expect(installed.engines).toEqual({ node: ">=20" });
  });

  it("passes publint without errors or warnings", async () => {
    const data = await readFile(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }, level: "warning" });
    expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`)).toEqual([]);
  });

  it('passes "are the types wrong" for an ESM-only package (node16 and bundler resolution)', async () => {
    // Exits non-zero on any problem; --no-definitely-typed keeps it off the network.
    const { stdout } = await run("npx", ["attw", tarball, "--profile", "esm-only", "--no-definitely-typed", "--format", "ascii"], repoRoot);
    expect(stdout).toContain("edgekeeper/client/recipes");
  });
});

describe("installed into a fresh project", () => {
  let server: LocalServer;

  beforeAll(async () => {
    server = await startLocalServer();
    // Creates a lock's node, takes the lock, and reports what the server holds: the
    // client and the recipes working from the installed package.
    await writeFiles(consumer, {
      "session.mjs": `
        import { connect } from "edgekeeper/client";
        import { Lock } from "edgekeeper/client/recipes";
        const [url, path] = process.argv.slice(2);
        const zk = await connect({ servers: [url], sessionTimeoutMs: 10_000 });
        const lock = new Lock(zk, path);
        await lock.acquire();
        const { children } = await zk.getChildren(path);
        await lock.release();
        await zk.close();
        console.log(JSON.stringify({ contenders: children.length }));
      `,
    });
  }, RUN_LIMIT_MS);

  afterAll(async () => {
    await server?.stop();
  });

  it("works under the Node running the tests (24)", async () => {
    const { stdout } = await run(process.execPath, ["session.mjs", server.base, "/package-node24"], consumer);
    expect(JSON.parse(stdout)).toEqual({ contenders: 1 });
  });

  it.skipIf(!existsSync(SYSTEM_NODE))("works under the system Node (20), given a WebSocket", async () => {
    // Node 20 has WebSocket behind a flag (the client's docs say: or pass one).
    const { stdout } = await run(SYSTEM_NODE, ["--experimental-websocket", "session.mjs", server.base, "/package-node20"], consumer);
    expect(JSON.parse(stdout)).toEqual({ contenders: 1 });
  });

  it("type-checks a consumer's code under strict and exactOptionalPropertyTypes, our declarations included", async () => {
    await writeFiles(consumer, {
      "use.ts": `
        import { connect, isKeeperError, type KeeperClient, type Stat } from "edgekeeper/client";
        import { Lock } from "edgekeeper/client/recipes";

        export async function underLock(url: string): Promise<Stat | null> {
          const zk: KeeperClient = await connect({ servers: [url], sessionTimeoutMs: 10_000 });
          const lock = new Lock(zk, "/locks/report");
          try {
            await lock.acquire();
            return await zk.exists("/locks/report");
          } catch (error) {
            if (isKeeperError(error)) console.error(error.keeperName);
            throw error;
          } finally {
            await lock.release();
            await zk.close();
          }
        }
      `,
      "tsconfig.json": JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "nodenext",
          strict: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          noEmit: true,
          lib: ["ES2023", "DOM"],
          types: [],
        },
        files: ["use.ts"],
      }),
    });
    await run("tsc", ["-p", consumer], consumer); // the repository's TypeScript, on PATH under npm/npx
  });

  it("runs `npx edgekeeper`: --version under Node 24 and the system Node, and each command's --help", async () => {
    expect((await run("npx", ["edgekeeper", "--version"], consumer)).stdout.trim()).toBe(version);
    if (existsSync(SYSTEM_NODE)) {
      expect((await run(SYSTEM_NODE, ["node_modules/.bin/edgekeeper", "--version"], consumer)).stdout.trim()).toBe(version);
    }
    expect((await run("npx", ["edgekeeper", "shell", "--help"], consumer)).stdout).toContain("Usage: npx edgekeeper shell");
    expect((await run("npx", ["edgekeeper", "proxy", "--help"], consumer)).stdout).toContain("Usage: npx edgekeeper proxy");
  });

  it("bundles for a browser page with Vite", async () => {
    await writeFiles(consumer, {
      "index.html": `<!doctype html><script type="module" src="./page.ts"></script>`,
      "page.ts": `import { connect } from "edgekeeper/client";\nconnect({ servers: [location.origin], sessionTimeoutMs: 10_000 }).then((zk) => (document.body.textContent = zk.state));\n`,
    });
    const outDir = join(consumer, "web");
    await viteBuild({ root: consumer, configFile: false, logLevel: "warn", build: { outDir, emptyOutDir: true } });
    expect((await readdir(join(outDir, "assets"))).filter((file) => file.endsWith(".js"))).toHaveLength(1);
  });

  it("bundles into a Worker with `wrangler deploy --dry-run`", async () => {
    await writeFiles(consumer, {
      "worker.ts": `
        import { connect } from "edgekeeper/client";
        export default {
          async fetch(): Promise<Response> {
            const zk = await connect({ servers: ["https://edgekeeper.example"], sessionTimeoutMs: 10_000 });
            await zk.close();
            return new Response("ok");
          },
        };
      `,
      "wrangler.toml": `name = "consumer"\nmain = "worker.ts"\ncompatibility_date = "2026-08-01"\nsend_metrics = false\n`,
    });
    await run("wrangler", ["deploy", "--dry-run", "--outdir", "bundle"], consumer);
    expect(await readFile(join(consumer, "bundle/worker.js"), "utf8")).toContain("edgekeeper");
  });
});
