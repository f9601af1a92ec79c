/**
 * `npm start` with scoped tokens only (EDGEKEEPER_TOKENS set, as a user exports it):
 * the API holds each token to its scope, and the bridge npm start runs takes the
 * list's admin token for every namespace, so ZooKeeper clients work as without tokens.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { localTokens } from "../../bridge/cli/local-tokens.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { bridgePort, nzcCreateAndRead } from "../harness/zk-clients.ts";

const READER = `reader-${crypto.randomUUID()}`;
const ADMIN = `admin-${crypto.randomUUID()}`;
const TOKENS = [
  { token: READER, namespaces: "*", scope: "read" },
  { token: ADMIN, namespaces: "*", scope: "admin" },
];

let server: LocalServer;
let zkPort: number;

beforeAll(async () => {
  server = await startLocalServer({ env: { EDGEKEEPER_TOKENS: JSON.stringify(TOKENS) } });
  zkPort = await bridgePort(server);
});

afterAll(async () => {
  await server?.stop();
});

it("refuses the API without a token, and holds a read token to reading", async () => {
  expect((await fetch(`${server.base}/v1/znodes/`)).status).toBe(401);
  const read = { Authorization: `Bearer ${READER}` };
  expect((await fetch(`${server.base}/v1/znodes/`, { headers: read })).status).toBe(200);
  const write = await fetch(`${server.base}/v1/znodes/by-reader`, { method: "POST", headers: { ...read, "Content-Type": "application/json" }, body: "{}" });
  expect(write.status).toBe(403);
});

it("node-zookeeper-client works through npm start's bridge, which sends the admin token", async () => {
  expect(await nzcCreateAndRead(zkPort, "/from-nzc", "wire")).toBe("wire");
  expect(server.output()).not.toContain("has no token");
});

it("takes the token settings from .dev.vars too, the environment's first, and gives the bridge an admin token for every namespace only", () => {
  const list = JSON.stringify(TOKENS);
  expect(localTokens({}, { EDGEKEEPER_TOKENS: list })).toEqual({ bindings: { EDGEKEEPER_TOKENS: list }, bridgeToken: ADMIN });
  expect(localTokens({ EDGEKEEPER_TOKEN: "single" }, { EDGEKEEPER_TOKEN: "from-dev-vars", EDGEKEEPER_TOKENS: list }).bridgeToken).toBe("single");
  const narrow = JSON.stringify([{ token: "a", namespaces: ["app"], scope: "admin" }, { token: "w", namespaces: "*", scope: "write" }]);
  expect(localTokens({ EDGEKEEPER_TOKENS: narrow }, undefined)).toEqual({ bindings: { EDGEKEEPER_TOKENS: narrow } });
  expect(localTokens({}, {})).toEqual({ bindings: {} });
});
