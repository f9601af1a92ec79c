/**
 * `npm start` as a user runs it: a server on a port, state in a directory that
 * survives Ctrl-C and a restart (rows and pending alarms), and a clear refusal when
 * the port is taken.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../harness/zookeeper/launch.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const STARTUP_LIMIT_MS = 120_000; // a limit for a stuck start, not a speed assertion

interface Server {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Server[] = [];
let tempRoot: string;

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), "edgekeeper-e2e-"));
});

afterAll(async () => {
  // A failed test must not leave a server (or its workerd) running.
  for (const server of started) {
    if (server.child.exitCode === null && server.child.signalCode === null) killGroup(server.child, "SIGKILL");
  }
  await rm(tempRoot, { recursive: true, force: true });
});

/** Runs `npm start` in its own process group, as a terminal runs a foreground job. */
function npmStart(port: number, state: string): Server {
  const child = spawn("npm", ["start", "--", "--port", String(port), "--state", state], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal })),
  );
  const server = { child, output: () => text, exited };
  started.push(server);
  return server;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is already gone
  }
}

function groupAlive(child: ChildProcess): boolean {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitHealthy(server: Server, base: string): Promise<void> {
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  let exited = false;
  void server.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited before it was healthy:\n${server.output()}`);
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`server not healthy after ${STARTUP_LIMIT_MS} ms:\n${server.output()}`);
}

/** Ctrl-C: SIGINT to the whole foreground group (npm, node and workerd alike). */
async function interrupt(server: Server): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  killGroup(server.child, "SIGINT");
  return server.exited;
}

it("keeps znodes and alarms across Ctrl-C and a restart, and refuses a second server on its port", async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stateDir = join(tempRoot, "state");

  const first = npmStart(port, stateDir);
  await waitHealthy(first, base);
  expect(first.output()).toContain(`edgekeeper: HTTP on http://127.0.0.1:${port}`);

  const created = await fetch(`${base}/v1/znodes/e2e`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ data: "kept" }) });
  expect(created.status).toBe(201);
  // A TTL node leaves a pending alarm (its reaper) that must outlive the server.
  const ttlMs = 15_000;
  const ttlCreated = await fetch(`${base}/v1/znodes/e2e-ttl`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ data: "brief", mode: "PERSISTENT_WITH_TTL", ttlMs }),
  });
  expect(ttlCreated.status).toBe(201);
  const ttlExpiresAt = Date.now() + ttlMs;

  // A second server on the same port says why it cannot start, and exits non-zero.
  const second = npmStart(port, join(tempRoot, "other"));
  const refused = await second.exited;
  expect(refused.code).not.toBe(0);
  expect(second.output()).toMatch(/port \d+ on 127\.0\.0\.1 is already in use/);

  // Still there, so its alarm is pending when the server stops.
  expect((await fetch(`${base}/v1/znodes/e2e-ttl`)).status).toBe(200);
  expect(await interrupt(first)).toEqual({ code: 0, signal: null });
  // Nothing of the group is left behind: no node, no workerd.
  for (let i = 0; i < 40 && groupAlive(first.child); i++) await sleep(250);
  expect(groupAlive(first.child)).toBe(false);

  const again = npmStart(port, stateDir);
  await waitHealthy(again, base);
  const read = await fetch(`${base}/v1/znodes/e2e`);
  expect(read.status).toBe(200);
  expect(await read.json()).toMatchObject({ path: "/e2e", data: "kept" });

  // Reads do not hide expired TTL nodes: only the alarm set before the restart reaps it.
  await sleep(Math.max(0, ttlExpiresAt - Date.now()));
  let ttlStatus = 0;
  for (let i = 0; i < 240 && ttlStatus !== 404; i++) {
    ttlStatus = (await fetch(`${base}/v1/znodes/e2e-ttl`)).status;
    if (ttlStatus !== 404) await sleep(250);
  }
  expect(ttlStatus).toBe(404);

  expect(await interrupt(again)).toEqual({ code: 0, signal: null });
});
