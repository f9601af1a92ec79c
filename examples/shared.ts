/**
 * What the recipe examples share: the server to use (EDGEKEEPER_URL, default
 * `npm start`'s http://127.0.0.1:8787, and EDGEKEEPER_TOKEN if it needs one) and a way to run one script as several
 * processes, so a contention example contends across processes as in production.
 */
import { spawn } from "node:child_process";
import { connect, type KeeperClient } from "../client/index.ts";

export const SERVER = process.env.EDGEKEEPER_URL || "http://127.0.0.1:8787";
/** The bearer token of a deployed edgekeeper (or of `npm start` run with one). */
export const TOKEN = process.env.EDGEKEEPER_TOKEN || undefined;

/** Connects with a short session (10 s) and logs connection states, as a recipe user should. */
export async function open(name: string): Promise<KeeperClient> {
  const zk = await connect({ servers: [SERVER], sessionTimeoutMs: 10_000, ...(TOKEN ? { token: TOKEN } : {}) });
  zk.on("state", (state) => console.log(`[${name}] connection ${state}`));
  return zk;
}

/**
 * `npx node examples/x.ts` runs `names.length` copies of itself (`--as <name>`) and waits
 * for them; inside a copy it returns that copy's name.
 */
export async function asProcesses(script: string, names: readonly string[]): Promise<string | undefined> {
  const i = process.argv.indexOf("--as");
  if (i >= 0) return process.argv[i + 1];
  await Promise.all(
    names.map(
      (name) =>
        new Promise<void>((resolve, reject) =>
          spawn(process.execPath, [script, "--as", name], { stdio: "inherit" }).on("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)),
          ),
        ),
    ),
  );
  return undefined;
}
