/**
 * `npm start` in token mode (EDGEKEEPER_TOKEN set, as a user exports it): the API
 * needs the token, the TypeScript client brings it (in its upgrade's Authorization
 * header), and the bridge npm start runs uses it, so ZooKeeper clients work as
 * without a token. A missing or wrong token is refused at once, with AuthFailed, by
 * the client, the shell and the proxy.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../client/index.ts";
import { KeeperError } from "../../protocol/errors.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { bridgePort, hostPort, nzcCreateAndRead, zkCli, zkCliUnavailable } from "../harness/zk-clients.ts";
import { freePort } from "../harness/zookeeper/launch.ts";
import { shell } from "../shell/zkcli.ts";

const TOKEN = `token-${crypto.randomUUID()}`;
const repoRoot = resolve(import.meta.dirname, "../..");

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

/** The error connect() rejects with, which must be the server's refusal, not a timeout's ConnectionLoss. */
async function connectError(token: string | undefined): Promise<KeeperError> {
  const error = await connect({ servers: [server.base], sessionTimeoutMs: 10_000, ...(token === undefined ? {} : { token }) }).then(
    async (zk) => {
      await zk.close();
      throw new Error("connected without the right token");
    },
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(KeeperError);
  return error as KeeperError;
}

it("the TypeScript client is refused with AuthFailed, not ConnectionLoss, without the token or with a wrong one", async () => {
  expect((await connectError(undefined)).keeperName).toBe("AuthFailed");
  expect((await connectError("not-the-token")).keeperName).toBe("AuthFailed");
});

it("the shell says AuthFailed for a wrong token, and exits 1", async () => {
  const refused = await shell(`127.0.0.1:${server.port}`, ["-token", "not-the-token", "ls", "/"]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`Unable to connect to 127.0.0.1:${server.port}: KeeperErrorCode = AuthFailed`);
  expect(refused.stderr).not.toContain("ConnectionLoss");
});

describe("edgekeeper proxy checks its URL and token before it serves", () => {
  /** `npx edgekeeper proxy` as a user runs it; resolves with its exit and output, or once it serves. */
  function proxy(args: string[]): Promise<{ code: number | null; output: string }> {
    const child = spawn("npx", ["edgekeeper", "proxy", "--port", "0", ...args], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EDGEKEEPER_TOKEN: "" } });
    let output = "";
    return new Promise((done) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        // Serving: stop it (its whole group), report null.
        if (output.includes("edgekeeper: ZooKeeper protocol on")) process.kill(-child.pid!, "SIGTERM");
      };
      child.stdout!.on("data", read);
      child.stderr!.on("data", read);
      child.on("exit", (code) => done({ code: output.includes("ZooKeeper protocol on") ? null : code, output }));
    });
  }

  it("refuses to run without the token, or with a wrong one", async () => {
    const without = await proxy(["--url", server.base]);
    expect(without.code).toBe(1);
    expect(without.output).toContain(`edgekeeper proxy: ${server.base} refuses requests without a token (AuthFailed:`);
    const wrong = await proxy(["--url", server.base, "--token", "not-the-token"]);
    expect(wrong.code).toBe(1);
    expect(wrong.output).toContain(`edgekeeper proxy: ${server.base} refuses this token (AuthFailed:`);
  });

  it("refuses a URL where no edgekeeper answers", async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await proxy(["--url", nobody, "--token", TOKEN]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.output).toContain(`edgekeeper proxy: cannot reach ${nobody}`);
    // The server's page for the browser answers, but not as the session route does.
    const elsewhere = await proxy(["--url", `${server.base}/ui`, "--token", TOKEN]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.output).toContain(`edgekeeper proxy: ${server.base}/ui does not answer as an edgekeeper server`);
  });

  it("serves with the right token", async () => {
    expect((await proxy(["--url", server.base, "--token", TOKEN])).code).toBeNull();
  });
});
