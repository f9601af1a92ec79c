/**
 * `npm start`: the Worker and its Durable Objects in local workerd, state on disk.
 *
 * The fastest local path (see STACK.md): bundle the Worker with esbuild and run it
 * in programmatic Miniflare, with no wrangler proxy and no tracing worker. The
 * Worker's configuration (bindings, migrations, compatibility, [vars], [assets]) is
 * read from wrangler.toml through wrangler's own helpers, so it is never restated
 * here. The web console (console/) is built into the state directory and
 * served at /ui/.
 *
 * Run with Node 24's type stripping: `node bridge/cli/start.ts` (erasable syntax only).
 */
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build, stop as stopEsbuild } from "esbuild";
import { Miniflare, type V4WorkerOptions, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, isLogLevel, traceHopsOn } from "../../protocol/index.ts";
import { REGIONS, type Region, parseRegions } from "../../protocol/regions.ts";
import { DEFAULT_FOUR_LETTER_WORDS } from "../server/four-letter.ts";
import { type ConnectionBounds, connectionBoundsFromEnv } from "../server/connection-limits.ts";
import { type Bridge, startBridge } from "../server/server.ts";
import { buildUi } from "./build-ui.ts";
import { localTokens } from "./local-tokens.ts";
import { keepServingOnUncaughtErrors } from "./process-guard.ts";
import { sourceMappedPositions } from "./source-mapped-logs.ts";
import { StateDirInUse, lockStateDir } from "./state-lock.ts";
import { packageVersion } from "./version.ts";

const USAGE = `Usage: npm start -- [options]      (or: node bridge/cli/start.ts [options])

Runs edgekeeper locally in workerd: the HTTP API on 127.0.0.1, state kept on disk,
and a web console at /ui/.

Options:
  --port N        HTTP port (env EDGEKEEPER_HTTP_PORT; default 8787)
  --state DIR     state directory (env EDGEKEEPER_STATE; default .edgekeeper)
  --zk-port N     ZooKeeper wire-protocol port: zkCli.sh, kazoo, Curator connect here
                  (env EDGEKEEPER_ZK_PORT; default 2181; 0 picks a free port)
  --4lw LIST      four-letter words answered on that port, comma-separated, or "*"
                  for all (env EDGEKEEPER_4LW_COMMANDS; default ${DEFAULT_FOUR_LETTER_WORDS})
  --log-level L   debug, info, warn, error or off: JSON log lines of the Worker and its
                  objects, a line per request at info (env EDGEKEEPER_LOG_LEVEL; default info)
  --config FILE   wrangler configuration (default wrangler.toml)
  --trace-hops    session answers carry hop timestamps, for npm run bench -- --trace-hops
                  (env EDGEKEEPER_TRACE_HOPS=1; default off)
  --regions LIST  simulate regions on this machine: calls between the Worker and the
                  objects wait the simulated round trip between their regions (see
                  docs/api.md); comma-separated, the first is every shard's leader
                  region; of ${REGIONS.join(", ")} (env EDGEKEEPER_REGIONS; default none: no delay)
  --version       print the version
  -h, --help      print this help

The ZooKeeper port holds at most EDGEKEEPER_ZK_MAX_CONNECTIONS connections (default
10000), EDGEKEEPER_ZK_MAX_CONNECTIONS_PER_ADDRESS from one address (default 2000).

Ctrl-C stops the server; the state directory keeps the data for the next start.
One npm start at a time uses a state directory (its edgekeeper.lock names the pid).
Locally the Worker accepts requests without a bearer token (EDGEKEEPER_LOCAL=1),
unless EDGEKEEPER_TOKEN or EDGEKEEPER_TOKENS is set (in the environment or .dev.vars):
then every /v1 request needs one, as when deployed, and the ZooKeeper bridge uses
EDGEKEEPER_TOKEN, else the first admin token for namespaces "*" of EDGEKEEPER_TOKENS.`;

const HOST = "127.0.0.1";

interface Options {
  port: number;
  zkPort: number;
  fourLetterWords: string;
  logLevel: string;
  stateDir: string;
  configPath: string;
  /** Session answers carry hop timestamps (benchmarks). */
  traceHops: boolean;
  /** The simulated regions, leader's first; empty: none. */
  regions: Region[];
  bounds: Partial<ConnectionBounds>;
}

function fail(message: string): never {
  console.error(`edgekeeper: ${message}`);
  process.exit(1);
}

function parsePort(value: string, what: string, lowest = 1): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < lowest || port > 65535) fail(`${what} must be a port number ${lowest}-65535, not "${value}"`);
  return port;
}

function readOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        state: { type: "string" },
        "zk-port": { type: "string" },
        "4lw": { type: "string" },
        "log-level": { type: "string" },
        config: { type: "string" },
        "trace-hops": { type: "boolean" },
        regions: { type: "string" },
        version: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.version) {
    console.log(packageVersion());
    process.exit(0);
  }
  const env = process.env;
  let bounds: Partial<ConnectionBounds> = {};
  try {
    bounds = connectionBoundsFromEnv(env);
  } catch (error) {
    fail((error as Error).message);
  }
  return {
    bounds,
    port: parsePort(values.port ?? env.EDGEKEEPER_HTTP_PORT ?? "8787", "--port"),
    // 0 picks a free port (the line printed at start says which): tests run many servers.
    zkPort: parsePort(values["zk-port"] ?? env.EDGEKEEPER_ZK_PORT ?? "2181", "--zk-port", 0),
    fourLetterWords: values["4lw"] ?? env.EDGEKEEPER_4LW_COMMANDS ?? DEFAULT_FOUR_LETTER_WORDS,
    logLevel: parseLogLevel(values["log-level"] ?? env.EDGEKEEPER_LOG_LEVEL ?? DEFAULT_LOG_LEVEL),
    stateDir: resolve(values.state ?? env.EDGEKEEPER_STATE ?? ".edgekeeper"),
    configPath: resolve(values.config ?? "wrangler.toml"),
    traceHops: values["trace-hops"] === true || traceHopsOn(env.EDGEKEEPER_TRACE_HOPS),
    regions: parseRegionList(values.regions ?? env.EDGEKEEPER_REGIONS),
  };
}

function parseRegionList(value: string | undefined): Region[] {
  if (value === undefined) return [];
  try {
    return parseRegions(value);
  } catch (error) {
    fail(`--regions: ${(error as Error).message}`);
  }
}

function parseLogLevel(value: string): string {
  const level = value.toLowerCase();
  if (!isLogLevel(level)) fail(`--log-level must be one of ${LOG_LEVELS.join(", ")}, not "${value}"`);
  return level;
}

/** Fails fast with a plain message when the port is taken, before workerd starts. */
async function checkPortFree(port: number, flag: string): Promise<void> {
  await new Promise<void>((done, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen({ host: HOST, port, exclusive: true }, () => probe.close(() => done()));
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "EADDRINUSE") fail(`port ${port} on ${HOST} is already in use (another edgekeeper?); pick another with ${flag}`);
    throw error;
  });
}

/** Bundles the Worker the way wrangler would for workerd; output stays under the state dir. */
async function bundleWorker(main: string, define: Record<string, string>, outDir: string): Promise<string> {
  const outfile = join(outDir, "worker.js");
  await build({
    entryPoints: [main],
    outfile,
    bundle: true,
    format: "esm",
    target: "es2024",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    // Provided by workerd itself (nodejs_compat supplies node:*).
    external: ["node:*", "cloudflare:*"],
    define,
    // Inline for Miniflare's error pages, and worker.js.map for the log lines (source-mapped-logs.ts).
    sourcemap: "both",
    logLevel: "warning",
  });
  await stopEsbuild(); // its service process would otherwise live as long as we do
  return outfile;
}

function uiWorkerName(workerName: string | undefined): string {
  return `${workerName ?? "edgekeeper"}-ui`;
}

/**
 * The page at /ui/ as a worker of its own, to which the Worker hands /ui and /ui/*
 * through its CONSOLE_ASSETS binding; it answers from its assets (the same [assets]
 * config: directory, HTML handling). Put in front of the API instead, Miniflare's
 * asset router adds a lookup and two worker hops to every API request (0.5 ms or
 * more a request, measured here, on a /healthz that otherwise takes 0.9 ms). On
 * Cloudflare the same [assets] are matched at the edge before the Worker runs.
 */
function uiWorker(name: string, assets: NonNullable<V4WorkerOptions["assets"]>, compatibilityDate: string | undefined) {
  const [worker] = convertV4MiniflareOptions({
    name,
    modules: true,
    // Requests the Worker hands on reach this script, not the asset router: it hands them on.
    script: "export default { fetch: (request, env) => env.ASSETS.fetch(request) };",
    compatibilityDate,
    assets: { ...assets, binding: "ASSETS" },
  }).workers;
  return worker!;
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  await mkdir(options.stateDir, { recursive: true });
  try {
    lockStateDir(options.stateDir);
  } catch (error) {
    if (error instanceof StateDirInUse) fail(error.message);
    throw error;
  }
  await checkPortFree(options.port, "--port");
  if (options.zkPort !== 0) await checkPortFree(options.zkPort, "--zk-port");

  const buildDir = join(options.stateDir, "build");
  const dataDir = join(options.stateDir, "data");
  await mkdir(dataDir, { recursive: true });
  // The page at /ui/ is wrangler.toml's [assets]; built here rather than in dist/, so
  // that everything a start writes stays in its state directory.
  const assetsDir = join(buildDir, "assets");
  await buildUi(assetsDir);

  const config = unstable_readConfig({ config: options.configPath });
  const { workerOptions, define, main: entry } = unstable_getMiniflareWorkerOptions(config, undefined, {
    overrides: { assets: config.assets && { ...config.assets, directory: assetsDir } },
  });
  if (entry === undefined) fail(`${options.configPath} names no "main" entry point`);
  const scriptPath = await bundleWorker(entry, define, buildDir);

  // One bundled module, so wrangler's module rules (which v5 cannot convert) do not apply.
  // The assets go to a worker of their own (below), not in front of the API.
  const { modulesRules: _rules, assets, ...sourceless } = workerOptions;
  // Token mode: the Worker requires a token (from the environment, else .dev.vars),
  // and the bridge below must send one.
  const configured = workerOptions.bindings as Record<string, unknown> | undefined;
  const tokens = localTokens(process.env, configured);
  const miniflareOptions = convertV4MiniflareOptions({
    ...sourceless,
    name: config.name,
    rootPath: buildDir, // module names are relative to it, and workerd refuses ".." in them
    modules: true,
    scriptPath,
    // Local only: lets the Worker serve requests without a bearer token (unless one is set).
    bindings: {
      ...configured,
      EDGEKEEPER_LOCAL: "1",
      EDGEKEEPER_LOG_LEVEL: options.logLevel,
      ...(options.traceHops ? { EDGEKEEPER_TRACE_HOPS: "1" } : {}),
      ...(options.regions.length > 0 ? { EDGEKEEPER_REGIONS: options.regions.join(",") } : {}),
      ...tokens.bindings,
    },
    host: HOST,
    // Miniflare's entry worker (its own socket, on a free port, used by Miniflare
    // alone) sits between a client and the Worker: one more isolate hop, and gzip of
    // every answer the client accepts gzipped. The API port is a direct socket on
    // the Worker instead: about twice the requests a second (measured here, 64 in
    // flight). The console, which the entry worker routed, the Worker hands on
    // (CONSOLE_ASSETS, worker/app.ts).
    port: 0,
    unsafeDirectSockets: [{ host: HOST, port: options.port }],
    ...(assets ? { serviceBindings: { CONSOLE_ASSETS: uiWorkerName(config.name) } } : {}),
    cf: false, // no fetch of the cf object at every start
    unsafeObservability: false, // no tracing worker: 20x faster DO-to-DO RPC
    logRequests: false,
  });
  // Miniflare 5 ignores v4's durableObjectsPersist; this keeps SQLite rows and alarms.
  miniflareOptions.resourcePersistencePath = dataDir;
  // The Worker's log lines, with stack positions in our TypeScript rather than the bundle.
  const mapped = sourceMappedPositions(scriptPath);
  miniflareOptions.handleStructuredLogs = ({ level, message }) => {
    if (level === "error" || level === "warn") console.error(mapped(message));
    else console.log(mapped(message));
  };
  if (assets) {
    // Omit<> in wrangler's SourcelessWorkerOptions loses the field's type.
    const uiAssets = assets as NonNullable<V4WorkerOptions["assets"]>;
    miniflareOptions.workers.push(uiWorker(uiWorkerName(config.name), uiAssets, config.compatibility_date));
  }

  const mf = new Miniflare(miniflareOptions);
  // Miniflare's own exit hook answers SIGINT/SIGTERM by killing workerd and exiting
  // 130/143 at once; replace it so that a stop disposes Miniflare and exits 0.
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  let stopping = false;
  let bridge: Bridge | undefined;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    Promise.resolve(bridge?.close())
      .then(() => mf.dispose())
      .then(
      () => {
        console.log(`edgekeeper: stopped on ${signal}; state kept in ${options.stateDir}`);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`edgekeeper: error while stopping on ${signal}:`, error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  let url: URL;
  try {
    await mf.ready;
    url = await mf.unsafeGetDirectURL(config.name);
  } catch (error) {
    if (stopping) return; // stopped while starting: stop() exits
    await mf.dispose().catch(() => {});
    if ((error as { code?: string }).code === "ERR_ADDRESS_IN_USE") {
      fail(`port ${options.port} on ${HOST} is already in use (another edgekeeper?); pick another with --port`);
    }
    throw error;
  }
  if (stopping) return;

  const shownState = relative(process.cwd(), options.stateDir) || ".";
  console.log(`edgekeeper: HTTP on http://${HOST}:${url.port} (state in ${shownState.startsWith("..") ? options.stateDir : shownState})`);
  if (config.assets) console.log(`edgekeeper: console at http://${HOST}:${url.port}/ui/`);
  if (options.regions.length > 0) console.log(`edgekeeper: simulating regions ${options.regions.join(", ")} (leaders in ${options.regions[0]})`);

  // The wire bridge, in this process, in front of the Worker just started.
  try {
    bridge = await startBridge({
      url: `http://${HOST}:${url.port}`,
      host: HOST,
      port: options.zkPort,
      fourLetterWords: options.fourLetterWords,
      bounds: options.bounds,
      traceHops: options.traceHops,
      ...(tokens.bridgeToken ? { token: tokens.bridgeToken } : {}),
      // Its sessions live in the leader region, as a caller's who names none.
      ...(options.regions[0] ? { region: options.regions[0] } : {}),
    });
  } catch (error) {
    await mf.dispose().catch(() => {});
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") fail(`port ${options.zkPort} on ${HOST} is already in use (a ZooKeeper?); pick another with --zk-port`);
    throw error;
  }
  if (stopping) {
    await bridge.close();
    return;
  }
  console.log(`edgekeeper: ZooKeeper protocol on ${HOST}:${bridge.port} (zkCli.sh -server ${HOST}:${bridge.port})`);
  if (tokens.bindings.EDGEKEEPER_TOKENS && !tokens.bridgeToken) {
    console.error('edgekeeper: the ZooKeeper port has no token the Worker takes: list an admin token for namespaces "*" in EDGEKEEPER_TOKENS, or set EDGEKEEPER_TOKEN');
  }
  keepServingOnUncaughtErrors((line) => console.error(line));
}

main().catch((error: unknown) => {
  console.error("edgekeeper: failed to start:", error);
  process.exit(1);
});
