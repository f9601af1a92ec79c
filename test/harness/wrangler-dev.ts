/**
 * `npx wrangler dev` as a user runs it, for tests: on a free loopback port, in its
 * own process group (wrangler runs Node and two workerd processes), state and its
 * dev registry (where service bindings between `wrangler dev` processes meet) in a
 * temporary directory, so that no Worker another test or person runs is bound to.
 *
 * @example
 * const registry = await mkdtemp(join(tmpdir(), "registry-"));
 * const main = await startWranglerDev({ config: "wrangler.toml", registry, envFile });
 * const example = await startWranglerDev({ config: "examples/workers/config/wrangler.toml", registry, vars: { EDGEKEEPER_URL: main.base } });
 * await example.stop();
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./zookeeper/launch.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const STARTUP_LIMIT_MS = 120_000; // a limit for a stuck start, not a speed assertion

export interface WranglerDev {
  base: string;
  output(): string;
  stop(): Promise<void>;
}

export interface WranglerDevOptions {
  /** The wrangler configuration, relative to the repository. */
  config: string;
  /** The dev registry directory shared by the processes that bind to each other. */
  registry: string;
  /** `--var NAME:value` for each. */
  vars?: Record<string, string>;
  /** `--env-file`: secrets, as a .dev.vars holds them. */
  envFile?: string;
}

/** Starts `wrangler dev`; resolves once it says it is ready. */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const port = await freePort();
  const state = await mkdtemp(join(tmpdir(), "edgekeeper-wrangler-"));
  const args = ["wrangler", "dev", "-c", options.config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--show-interactive-dev-session=false"];
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  if (options.envFile) args.push("--env-file", options.envFile);
  const child = spawn("npx", args, {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    // STACK.md: no tracing worker, no lookup of the cf object.
    env: { ...process.env, WRANGLER_REGISTRY_PATH: options.registry, X_LOCAL_OBSERVABILITY: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((done) =>
    child.on("exit", () => {
      exited = true;
      done();
    }),
  );
  const stop = async () => {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (exited) break;
      try {
        process.kill(-child.pid!, signal);
      } catch {
        break; // the group is gone
      }
      await Promise.race([exit, sleep(10_000)]);
    }
    await rm(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (!text.includes(`Ready on http://127.0.0.1:${port}`)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev -c ${options.config} did not start:\n${text}`);
    }
    await sleep(100);
  }
  return { base: `http://127.0.0.1:${port}`, output: () => text, stop };
}
