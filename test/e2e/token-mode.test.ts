/**
 * `npm start` in token mode (EDGEKEEPER_TOKEN set, as a user exports it): the API
 * needs the token, the TypeScript client brings it (in its upgrade's Authorization
 * header), and the bridge npm start runs uses it, so ZooKeeper clients work as
 * without a token.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "../../client/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { bridgePort, hostPort, nzcCreateAndRead } from "../harness/zk-clients.ts";

const TOKEN = `token-${crypto.randomUUID()}`;
const ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh";
const run = promisify(execFile);

let server: LocalServer;
let zkPort: number;

beforeAll(async () => {
  server = await startLocalServer({ env: { EDGEKEEPER_TOKEN: TOKEN } });
  zkPort = await bridgePort(server);
});

afterAll(async () => {
  await server?.stop();
});

it("refuses the API without the token, and serves it with", async () => {
  const without = await fetch(`${server.base}/v1/znodes/`);
  expect(without.status).toBe(401);
  expect(((await without.json()) as { error: { name: string } }).error.name).toBe("AuthFailed");
  const withToken = await fetch(`${server.base}/v1/znodes/`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(withToken.status).toBe(200);
});

it("the TypeScript client works with the token", async () => {
  const zk = await connect({ servers: [server.base], token: TOKEN, sessionTimeoutMs: 10_000 });
  try {
    await zk.create("/from-client", "hello");
    expect(new TextDecoder().decode((await zk.getData("/from-client")).data)).toBe("hello");
  } finally {
    await zk.close();
  }
});

it("node-zookeeper-client works through npm start's bridge", async () => {
  expect(await nzcCreateAndRead(zkPort, "/from-nzc", "wire")).toBe("wire");
});

it("zkCli.sh works through npm start's bridge", async (ctx) => {
  if (!existsSync(ZKCLI)) ctx.skip(`${ZKCLI} not installed (apt-get install zookeeper)`);
  const zkCli = async (...command: string[]) => {
    const { stdout, stderr } = await run(ZKCLI, ["-server", hostPort(zkPort), ...command]);
    return stdout + stderr;
  };
  expect(await zkCli("create", "/from-zkcli", "cli-value")).toContain("Created /from-zkcli");
  expect(await zkCli("get", "/from-zkcli")).toContain("cli-value");
});
