/**
 * `npm start` in token mode (EDGEKEEPER_TOKEN set, as a user exports it): the API
 * needs the token, the TypeScript client brings it (in its upgrade's Authorization
 * header), and the bridge npm start runs uses it, so ZooKeeper clients work as
 * without a token.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "../../client/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { type Any, bridgePort, call, hostPort, nzc, zkCli, zkCliUnavailable, zookeeper } from "../harness/zk-clients.ts";

const TOKEN = `token-${crypto.randomUUID()}`;

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
  const client: Any = await nzc(zkPort);
  try {
    await call((cb) => client.create("/from-nzc", Buffer.from("wire"), zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, cb));
    const [data] = await call<[Buffer, unknown]>((cb) => client.getData("/from-nzc", cb));
    expect(data.toString()).toBe("wire");
  } finally {
    client.close();
  }
});

it("zkCli.sh works through npm start's bridge", async (ctx) => {
  const missing = zkCliUnavailable();
  if (missing) ctx.skip(missing);
  const command = async (...args: string[]) => {
    const { stdout, stderr, code } = await zkCli(hostPort(zkPort), args);
    expect(code, stderr).toBe(0);
    return stdout + stderr;
  };
  expect(await command("create", "/from-zkcli", "cli-value")).toContain("Created /from-zkcli");
  expect(await command("get", "/from-zkcli")).toContain("cli-value");
});
