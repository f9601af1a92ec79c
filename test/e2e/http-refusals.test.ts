/**
 * Against `npm start`, with node:http and a kept-alive connection, as HTTP clients
 * and proxies use it: every refusal arrives as an answer, even one made before the
 * request's body was read (an unknown route, a method a route does not take, an
 * origin refused), and the next request on the same connection is served. Also
 * raw request targets no fetch would send: a dot segment hidden behind an encoded
 * slash never names a node.
 */
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEEPER_ERRORS, type KeeperErrorName } from "../../protocol/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";

const MAX_REQUEST_BYTES = 4 * 1024 * 1024; // protocol/limits.ts default

let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer();
});
afterAll(async () => {
  await server?.stop();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  reusedSocket: boolean;
}

interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Sent chunked, with no Content-Length. */
  chunked?: boolean;
}

/** One request on `agent`'s connection; rejects if the connection fails instead of answering. */
function send(agent: Agent, { method, path, headers = {}, body, chunked = false }: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Framed explicitly: node:http frames no body of a GET, DELETE or OPTIONS by itself.
    const framing = body ? (chunked ? { "Transfer-Encoding": "chunked" } : { "Content-Length": String(body.byteLength) }) : {};
    const req = request({ host: "127.0.0.1", port: server.port, method, path, agent, headers: { "Content-Type": "application/json", ...framing, ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text, reusedSocket: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body && chunked) {
      // Several writes, so that the body really arrives in chunks.
      for (let offset = 0; offset < body.byteLength; offset += 64 * 1024) req.write(body.subarray(offset, offset + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** An unknown route or method is Unimplemented at 404, not the table's 400 (for an unknown op). */
const UNKNOWN_ENDPOINT = "Unimplemented at 404";

function expectError(answer: Answer, expected: KeeperErrorName | typeof UNKNOWN_ENDPOINT): void {
  const name = expected === UNKNOWN_ENDPOINT ? "Unimplemented" : expected;
  expect(answer.status, answer.text).toBe(expected === UNKNOWN_ENDPOINT ? 404 : KEEPER_ERRORS[name].httpStatus);
  expect(JSON.parse(answer.text)).toMatchObject({ error: { name, code: KEEPER_ERRORS[name].code } });
}

describe("a refusal made before the body is read", () => {
  const refusals: [string, Omit<Sent, "body">, KeeperErrorName | typeof UNKNOWN_ENDPOINT][] = [
    ["an unknown route under /v1", { method: "POST", path: "/v1/nothing" }, UNKNOWN_ENDPOINT],
    ["an unknown route at the top", { method: "POST", path: "/nothing" }, UNKNOWN_ENDPOINT],
    ["a method znodes do not take", { method: "PATCH", path: "/v1/znodes/a" }, UNKNOWN_ENDPOINT],
    ["a method multi does not take", { method: "PUT", path: "/v1/multi" }, UNKNOWN_ENDPOINT],
    ["an origin that may not use the API", { method: "POST", path: "/v1/znodes/a", headers: { Origin: "https://evil.example" } }, "NoAuth"],
    ["a malformed namespace", { method: "POST", path: "/v1/znodes/a", headers: { "X-Edgekeeper-Namespace": "no/slash" } }, "BadArguments"],
    // Methods whose body no route reads.
    ["a GET to an unknown route", { method: "GET", path: "/v1/nothing" }, UNKNOWN_ENDPOINT],
    ["a GET from an origin that may not use the API", { method: "GET", path: "/v1/znodes/a", headers: { Origin: "https://evil.example" } }, "NoAuth"],
    ["a DELETE of a session without its credentials", { method: "DELETE", path: "/v1/sessions/1" }, "AuthFailed"],
    ["an OPTIONS where no CORS origin is configured", { method: "OPTIONS", path: "/v1/znodes/a" }, UNKNOWN_ENDPOINT],
  ];
  const sizes: [string, number][] = [
    ["a small body", 100],
    ["a 1 MiB body", 1024 * 1024],
    ["a body at the request limit", MAX_REQUEST_BYTES],
  ];

  it.each(refusals)("%s is answered, and the connection serves the next request", async (_, refused, name) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [what, size] of sizes) {
        for (const chunked of [false, true]) {
          const label = `${what}${chunked ? ", chunked" : ""}`;
          const answer = await send(agent, { ...refused, body: Buffer.alloc(size, "x"), chunked }).catch((error: Error) => expect.fail(`${label}: ${error.message}`));
          expectError(answer, name);
          const next = await send(agent, { method: "GET", path: "/healthz" }).catch((error: Error) => expect.fail(`after ${label}: ${error.message}`));
          expect(next.status, label).toBe(200);
          expect(next.reusedSocket, `${label}: the next request went out on a new connection`).toBe(true);
        }
      }
    } finally {
      agent.destroy();
    }
  });
});

describe("a method HTTP does not define", () => {
  it("is answered 501 Not Implemented and its connection closed, and the next request is served on a new one", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answer = await send(agent, { method: "FOO", path: "/v1/znodes/a" });
      expect(answer.status, answer.text).toBe(501);
      expect(answer.headers.connection).toBe("close");
      const next = await send(agent, { method: "GET", path: "/healthz" });
      expect(next.status).toBe(200);
      expect(next.reusedSocket).toBe(false);
    } finally {
      agent.destroy();
    }
  });
});

describe("raw request targets", () => {
  it("never lets a segment that decodes to . or .. name a node", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const namespace = { "X-Edgekeeper-Namespace": `raw-${Date.now()}` };
    try {
      expect((await send(agent, { method: "POST", path: "/v1/znodes/a", headers: namespace })).status).toBe(201);
      for (const path of ["/v1/znodes/a/..%2Fb", "/v1/znodes/a%2F%2E%2E%2Fb", "/v1/znodes/a/.%2fb", "/v1/znodes/a/%2E%2E%2F"]) {
        expectError(await send(agent, { method: "POST", path, headers: namespace }), "BadArguments");
        expectError(await send(agent, { method: "GET", path, headers: namespace }), "BadArguments");
      }
      const root = await send(agent, { method: "GET", path: "/v1/znodes/?view=children", headers: namespace });
      expect(JSON.parse(root.text).children).toEqual(["a", "zookeeper"]);
      const a = await send(agent, { method: "GET", path: "/v1/znodes/a?view=children", headers: namespace });
      expect(JSON.parse(a.text).children).toEqual([]);
    } finally {
      agent.destroy();
    }
  });
});
