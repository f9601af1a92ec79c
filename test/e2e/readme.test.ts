/**
 * README.md runs top to bottom: its curl and shell command lines and its TypeScript
 * snippet, in the order they appear, against one fresh `npm start`, each succeeding
 * (no name created twice, no body the API refuses), and the error the README shows
 * being the one the server gives.
 */
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

interface Step {
  kind: "sh" | "ts";
  text: string;
  /** For a curl line: the output the README shows in the comment line after it. */
  shown?: string;
}

/** The runnable steps of the README's ```sh and ```ts blocks, in order. */
function steps(readme: string): Step[] {
  const found: Step[] = [];
  for (const block of readme.matchAll(/```(sh|ts)\n([\s\S]*?)```/g)) {
    if (block[1] === "ts") {
      found.push({ kind: "ts", text: block[2]! });
      continue;
    }
    const lines = block[2]!.split("\n");
    lines.forEach((line, i) => {
      // A command line of ours; `npx edgekeeper shell` alone is the interactive one.
      if (!/^(curl |npx edgekeeper shell \S)/.test(line)) return;
      const next = lines[i + 1] ?? "";
      found.push({ kind: "sh", text: line.replace(/\s+#.*$/, ""), ...(next.startsWith("# {") ? { shown: next.slice(2) } : {}) });
    });
  }
  return found;
}

let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer();
});

afterAll(async () => {
  await server?.stop();
});

it("README's examples run in order on a fresh npm start", async () => {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const all = steps(readme);
  expect(all.filter((step) => step.text.startsWith("curl")).length).toBeGreaterThan(5);
  const host = `127.0.0.1:${server.port}`;
  const env = { ...process.env, EDGEKEEPER_URL: server.base };
  for (const step of all) {
    if (step.kind === "ts") {
      // Inside the repository, where `edgekeeper/client` resolves to the package itself.
      const file = join(repoRoot, `.readme-snippet-${crypto.randomUUID()}.ts`);
      await writeFile(file, step.text);
      try {
        // It must end on its own: a snippet that leaves its session open never exits.
        await run("npx", ["node", file], { cwd: repoRoot, env, timeout: 120_000 });
      } finally {
        await rm(file, { force: true });
      }
      continue;
    }
    const command = step.text.replaceAll("localhost:8787", host).replaceAll("127.0.0.1:8787", host);
    const { stdout } = await run("sh", ["-c", command], { cwd: repoRoot, env, timeout: 120_000 }).catch((error: { stdout: string; stderr: string; code: number }) => {
      throw new Error(`${step.text}\nexited ${error.code}: ${error.stdout}${error.stderr}`);
    });
    if (step.shown !== undefined) expect(JSON.parse(stdout), step.text).toEqual(JSON.parse(step.shown));
    else expect(errorIn(stdout), step.text).toBeUndefined();
  }
});

/** The ZooKeeper error a command printed (`{"error": {...}}` in a JSON answer, or in a line of text), if any. */
function errorIn(stdout: string): unknown {
  try {
    const answer: unknown = JSON.parse(stdout);
    const error = typeof answer === "object" && answer !== null ? (answer as { error?: unknown }).error : undefined;
    return error === null ? undefined : error;
  } catch {
    return /"error":\s*\{/.test(stdout) ? stdout : undefined;
  }
}
