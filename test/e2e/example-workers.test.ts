/**
 * The example Workers (examples/workers) under `wrangler dev`, both ways a user runs
 * them: by URL against `npm start` (their wrangler.toml's binding then reaches
 * nothing, and EDGEKEEPER_URL must win), and over their service binding to
 * edgekeeper itself run by `wrangler dev` in deployed mode, with a token on both
 * sides. The session-client example uses the TypeScript client (a WebSocket session)
 * from inside a Worker, by URL.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { type WranglerDev, startWranglerDev } from "../harness/wrangler-dev.ts";

const LOCK = "examples/workers/global-lock/wrangler.toml";
const CONFIG = "examples/workers/config/wrangler.toml";
const SESSION_CLIENT = "examples/workers/session-client/wrangler.toml";
const TOKEN = `token-${crypto.randomUUID()}`;
const DATABASE_URL = "jdbc:postgresql://db:5432/app";

let tempDir: string;
const running: WranglerDev[] = [];

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), "edgekeeper-examples-"));
});

afterAll(async () => {
  await Promise.all(running.map((dev) => dev.stop()));
  await rm(tempDir, { recursive: true, force: true });
});

async function wranglerDev(options: Parameters<typeof startWranglerDev>[0]): Promise<WranglerDev> {
  const dev = await startWranglerDev(options);
  running.push(dev);
  return dev;
}

/** Creates `path` (and its parents) holding `data`, through the HTTP API. */
async function createPath(base: string, path: string, data: string, headers: Record<string, string> = {}): Promise<void> {
  const names = path.split("/").slice(1);
  for (let i = 1; i <= names.length; i++) {
    const prefix = `/${names.slice(0, i).join("/")}`;
    const response = await fetch(`${base}/v1/znodes${prefix}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(i === names.length ? { data } : {}),
    });
    expect([201, 409]).toContain(response.status);
  }
}

async function json(response: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What every example answers once set up right, against the edgekeeper at `base`. */
async function expectExamplesWork(examples: { lock: WranglerDev; config: WranglerDev; sessionClient: WranglerDev }, base: string, headers: Record<string, string>) {
  // The lock example writes its reports under /reports, which it creates itself.
  const first = await json(await fetch(`${examples.lock.base}/run`, { method: "POST" }));
  expect(first).toMatchObject({ status: 200, body: { report: "/reports/run-0000000000" } });
  const second = await json(await fetch(`${examples.lock.base}/run`, { method: "POST" }));
  expect(second).toMatchObject({ status: 200, body: { report: "/reports/run-0000000001" } });
  const reports = await json(await fetch(`${base}/v1/znodes/reports?view=children`, { headers }));
  expect(reports.body.children).toEqual(["run-0000000000", "run-0000000001"]);

  await createPath(base, "/config/database/url", DATABASE_URL, headers);
  expect(await json(await fetch(examples.config.base))).toEqual({ status: 200, body: { databaseUrl: DATABASE_URL, rps: 100 } });

  expect(await json(await fetch(`${examples.sessionClient.base}/hit`, { method: "POST" }))).toEqual({ status: 200, body: { hits: 1 } });
  expect(await json(await fetch(`${examples.sessionClient.base}/hit`, { method: "POST" }))).toEqual({ status: 200, body: { hits: 2 } });
}

describe("by URL against npm start", () => {
  let server: LocalServer;

  beforeAll(async () => {
    server = await startLocalServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("each example works with EDGEKEEPER_URL set, though its binding reaches nothing", async () => {
    const registry = join(tempDir, "registry-url");
    const vars = { EDGEKEEPER_URL: server.base };
    const lock = await wranglerDev({ config: LOCK, registry, vars });
    const config = await wranglerDev({ config: CONFIG, registry, vars });
    const sessionClient = await wranglerDev({ config: SESSION_CLIENT, registry, vars });
    await expectExamplesWork({ lock, config, sessionClient }, server.base, {});
  });
});

describe("over a service binding to edgekeeper under wrangler dev, with a token", () => {
  it("each example works with the token, and says AuthFailed without it", async () => {
    const registry = join(tempDir, "registry-binding");
    // The secrets, as .dev.vars holds them (a file never committed).
    const secrets = join(tempDir, "secrets.env");
    await writeFile(secrets, `EDGEKEEPER_TOKEN=${TOKEN}\n`);
    const edgekeeper = await wranglerDev({ config: "wrangler.toml", registry, envFile: secrets });
    // One at a time: wrangler dev processes started together can collide on their ports.
    const lock = await wranglerDev({ config: LOCK, registry, envFile: secrets });
    const config = await wranglerDev({ config: CONFIG, registry, envFile: secrets });
    // The client cannot use a binding: it goes by URL, with the token.
    const sessionClient = await wranglerDev({ config: SESSION_CLIENT, registry, envFile: secrets, vars: { EDGEKEEPER_URL: edgekeeper.base } });
    await expectExamplesWork({ lock, config, sessionClient }, edgekeeper.base, { Authorization: `Bearer ${TOKEN}` });
    await config.stop();

    // Bound but without the token: edgekeeper refuses it, and the example says so.
    const tokenless = await wranglerDev({ config: CONFIG, registry });
    expect(await json(await fetch(tokenless.base))).toMatchObject({ status: 502, body: { error: "AuthFailed" } });
  });
});
