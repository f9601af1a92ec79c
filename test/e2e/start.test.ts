/**
 * `npm start` as a user runs it: a server on a port, state in a directory that
 * survives Ctrl-C and a restart (rows and pending alarms), and a clear refusal when
 * the port is taken or the state directory is in use.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type NpmStart, npmStart, waitHealthy } from "../harness/local-server.ts";
import { run } from "../harness/zk-clients.ts";
import { freePort } from "../harness/zookeeper/launch.ts";

/** Limits for a stuck start or stop, not speed assertions. */
const STARTUP_LIMIT_MS = 120_000;
const STOP_LIMIT_MS = 60_000;

const started: NpmStart[] = [];
let tempRoot: string;

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), "edgekeeper-e2e-"));
});

afterAll(async () => {
  // A failed test must not leave a server (or its workerd) running.
  for (const server of started) server.kill();
  await rm(tempRoot, { recursive: true, force: true });
});

/** `npm start` on `port` with its state in `state`, as a user runs it. */
function start(port: number, state: string): NpmStart {
  const server = npmStart({ port, state });
  started.push(server);
  return server;
}

/** Resolves once healthy; throws with the server's output otherwise. */
async function healthy(server: NpmStart, base: string): Promise<void> {
  if (!(await waitHealthy(base, server, STARTUP_LIMIT_MS))) throw new Error(`server not healthy:\n${server.output()}`);
}

it("keeps znodes and alarms across Ctrl-C and a restart, and refuses a second server on its port", async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stateDir = join(tempRoot, "state");

  const first = start(port, stateDir);
  await healthy(first, base);
  // The socket answers as soon as workerd binds it; the banner follows once the start script has its URL.
  const banner = `edgekeeper: HTTP on http://127.0.0.1:${port}`;
  for (let i = 0; i < 40 && !first.output().includes(banner); i++) await sleep(250);
  expect(first.output()).toContain(banner);

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
  const second = start(port, join(tempRoot, "other"));
  const refused = await second.exited;
  expect(refused.code).not.toBe(0);
  expect(second.output()).toMatch(/port \d+ on 127\.0\.0\.1 is already in use/);

  // Still there, so its alarm is pending when the server stops.
  expect((await fetch(`${base}/v1/znodes/e2e-ttl`)).status).toBe(200);
  expect(await first.interrupt(STOP_LIMIT_MS)).toEqual({ code: 0, signal: null });
  // Nothing of the group is left behind: no node, no workerd.
  for (let i = 0; i < 40 && first.groupAlive(); i++) await sleep(250);
  expect(first.groupAlive()).toBe(false);

  const again = start(port, stateDir);
  await healthy(again, base);
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

  expect(await again.interrupt(STOP_LIMIT_MS)).toEqual({ code: 0, signal: null });
});

it("refuses a second server on a state directory in use, naming it and the other process, and takes over a stale lock", async () => {
  const [port, otherPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const stateDir = join(tempRoot, "locked");
  const lockFile = join(stateDir, "edgekeeper.lock");

  const first = start(port, stateDir);
  await healthy(first, base);
  const holder = Number.parseInt(await readFile(lockFile, "utf8"), 10);

  const second = start(otherPort, stateDir);
  const refused = await second.exited;
  expect(refused.code).not.toBe(0);
  expect(second.output()).toContain(`state directory ${stateDir} is in use by another edgekeeper (pid ${holder})`);
  // The refused start left the first one serving, and its lock in place.
  expect((await fetch(`${base}/healthz`)).ok).toBe(true);
  expect(existsSync(lockFile)).toBe(true);

  expect(await first.interrupt(STOP_LIMIT_MS)).toEqual({ code: 0, signal: null });
  expect(first.output()).toContain(`edgekeeper: stopped on SIGINT; state kept in ${stateDir}`);
  expect(existsSync(lockFile)).toBe(false);

  // A lock left by a process that died without removing it does not block a start.
  const dead = spawn("true");
  await new Promise((done) => dead.on("exit", done));
  await writeFile(lockFile, `${dead.pid}\n`);
  const third = start(port, stateDir);
  await healthy(third, base);
  expect(await third.interrupt(STOP_LIMIT_MS)).toEqual({ code: 0, signal: null });
});

it("answers --version with the package's version, as every command does", async () => {
  const { version } = JSON.parse(await readFile(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
  for (const [command, args] of [
    ["npm", ["start", "--silent", "--", "--version"]],
    ["npx", ["edgekeeper", "--version"]],
    ["npx", ["edgekeeper", "shell", "--version"]],
    ["npx", ["edgekeeper", "proxy", "--version"]],
    ["npx", ["edgekeeper", "snapshot", "--version"]],
  ] as const) {
    const answer = await run(command, args);
    expect(answer, `${command} ${args.join(" ")}`).toMatchObject({ code: 0, stdout: `${version}\n` });
  }
});
