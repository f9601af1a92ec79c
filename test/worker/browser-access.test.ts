/**
 * What a web page can do with the API. Locally (`npm start`) only loopback hosts
 * and origins may use it, so a page of another site the developer has open can
 * neither open the session socket (cross-site WebSocket hijacking), nor reach it
 * through a DNS name rebound to 127.0.0.1, nor write with a no-preflight POST;
 * CORS is answered for configured origins only. Every refusal is NoAuth (403) and
 * writes nothing.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app.ts";
import { HttpClient, ORIGIN, expectKeeperError, uniqueNamespace } from "../harness/http.ts";

type Bindings = typeof env;
const deployed: Bindings = { ...env, EDGEKEEPER_LOCAL: undefined, EDGEKEEPER_TOKEN: "t" };
const JSON_TYPE = { "Content-Type": "application/json" };

function call(url: string, init: RequestInit = {}, bindings: Bindings = env): Promise<Response> {
  return Promise.resolve(app.fetch(new Request(url, init), bindings));
}

/** Each way a page can reach the API: the socket upgrade, writes without a preflight, a read. */
function attempts(base: string, namespace: string, headers: Record<string, string>): [string, () => Promise<Response>][] {
  const h = { "X-Edgekeeper-Namespace": namespace, ...headers };
  return [
    ["socket upgrade", () => call(`${base}/v1/sessions/socket?namespace=${namespace}`, { headers: { ...h, Upgrade: "websocket" } })],
    ["text/plain POST", () => call(`${base}/v1/znodes/stolen`, { method: "POST", body: '{"data":"x"}', headers: { ...h, "Content-Type": "text/plain" } })],
    ["JSON POST", () => call(`${base}/v1/znodes/stolen`, { method: "POST", body: '{"data":"x"}', headers: { ...h, ...JSON_TYPE } })],
    ["body-less POST", () => call(`${base}/v1/znodes/stolen`, { method: "POST", headers: h })],
    ["GET", () => call(`${base}/v1/znodes/`, { headers: h })],
  ];
}

async function expectRefusedWithoutWrite(base: string, headers: Record<string, string>, message: RegExp): Promise<void> {
  const zk = new HttpClient();
  for (const [what, send] of attempts(base, zk.namespace, headers)) {
    const res = await send();
    expect(res.webSocket, what).toBeFalsy();
    const body = await expectKeeperError(res, "NoAuth");
    expect(body.error.message, what).toMatch(message);
  }
  await expectKeeperError(await zk.get("/stolen"), "NoNode");
}

/** A 2xx answer, or an accepted socket upgrade (101, closed again here). */
async function expectServed(res: Response): Promise<void> {
  if (res.webSocket) {
    expect(res.status).toBe(101);
    res.webSocket.accept();
    res.webSocket.close(1000, "done");
    return;
  }
  expect(res.status, await res.text()).toBe(200);
}

describe("locally, the Host must be a loopback name (DNS rebinding)", () => {
  it("refuses a rebound name on every route, the socket included, and writes nothing", async () => {
    for (const base of ["http://evil.example:8787", "http://rebind.attacker.test", "http://10.0.0.5:8787"]) {
      await expectRefusedWithoutWrite(base, {}, /host .* EDGEKEEPER_ALLOWED_HOSTS/);
    }
  });

  it("serves localhost, 127.0.0.1 and [::1] on any port", async () => {
    const ns = uniqueNamespace("host");
    for (const base of ["http://localhost:8787", "http://127.0.0.1:1234", "http://[::1]:9", "http://LOCALHOST"]) {
      await expectServed(await call(`${base}/v1/znodes/`, { headers: { "X-Edgekeeper-Namespace": ns } }));
      await expectServed(await call(`${base}/v1/sessions/socket?namespace=${ns}`, { headers: { Upgrade: "websocket" } }));
    }
  });

  it("serves a host named in EDGEKEEPER_ALLOWED_HOSTS", async () => {
    const allowing = { ...env, EDGEKEEPER_ALLOWED_HOSTS: "dev.internal, box.lan" };
    await expectServed(await call("http://box.lan:8787/v1/znodes/", {}, allowing));
    await expectKeeperError(await call("http://other.lan:8787/v1/znodes/", {}, allowing), "NoAuth");
  });

  it("leaves a deployed Worker's Host alone: it is reached by its own routes only", async () => {
    await expectServed(await call("https://edgekeeper.example.workers.dev/v1/znodes/", { headers: { Authorization: "Bearer t" } }, deployed));
  });
});

describe("Origin", () => {
  it("refuses a page of another site, locally: socket, no-preflight writes and reads", async () => {
    for (const origin of ["https://evil.example", "http://localhost.evil.example", "null", "not a url"]) {
      await expectRefusedWithoutWrite(ORIGIN, { Origin: origin }, /origin .* EDGEKEEPER_ALLOWED_ORIGINS/);
    }
  });

  it("serves requests without an Origin, from loopback pages on any port, and from the API's own page", async () => {
    const ns = uniqueNamespace("origin");
    const allowing = { ...env, EDGEKEEPER_ALLOWED_HOSTS: "box.lan" };
    for (const [base, origin] of [
      [ORIGIN, undefined],
      [ORIGIN, "http://localhost:3000"],
      [ORIGIN, "http://127.0.0.1:5173"],
      [ORIGIN, "http://[::1]"],
      ["http://box.lan:8787", "http://box.lan:8787"],
    ] as const) {
      const headers: Record<string, string> = { "X-Edgekeeper-Namespace": ns, ...(origin ? { Origin: origin } : {}) };
      await expectServed(await call(`${base}/v1/znodes/`, { headers }, allowing));
      await expectServed(await call(`${base}/v1/sessions/socket?namespace=${ns}`, { headers: { ...headers, Upgrade: "websocket" } }, allowing));
    }
  });

  it("when deployed, serves its own origin and configured ones, and refuses loopback pages", async () => {
    const base = "https://edgekeeper.example.workers.dev";
    const configured = { ...deployed, EDGEKEEPER_ALLOWED_ORIGINS: "https://app.example.com/,http://localhost:3000" };
    const read = (origin: string, bindings: Bindings = configured) =>
      call(`${base}/v1/znodes/`, { headers: { Origin: origin, Authorization: "Bearer t" } }, bindings);
    await expectServed(await read(base));
    await expectServed(await read("https://app.example.com"));
    await expectServed(await read("http://localhost:3000"));
    await expectKeeperError(await read("http://localhost:3000", deployed), "NoAuth");
    await expectKeeperError(await read("http://localhost:3001"), "NoAuth");
    await expectKeeperError(await read("https://evil.example"), "NoAuth");
  });
});

describe("CORS", () => {
  const configured = { ...env, EDGEKEEPER_ALLOWED_ORIGINS: "https://app.example.com" };
  const preflight = (origin: string, bindings: Bindings = configured) =>
    call(`${ORIGIN}/v1/znodes/a`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,x-edgekeeper-namespace" },
    }, bindings);

  it("answers a preflight and every response for a configured origin", async () => {
    const answer = await preflight("https://app.example.com");
    expect(answer.status).toBe(204);
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(answer.headers.get("Access-Control-Allow-Methods")).toContain("PUT");
    expect(answer.headers.get("Access-Control-Allow-Headers")).toBe("content-type,x-edgekeeper-namespace");

    const ns = uniqueNamespace("cors");
    const headers = { Origin: "https://app.example.com", "X-Edgekeeper-Namespace": ns, ...JSON_TYPE };
    const created = await call(`${ORIGIN}/v1/znodes/a`, { method: "POST", body: '{"data":"x"}', headers }, configured);
    expect(created.status).toBe(201);
    expect(created.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(created.headers.get("Access-Control-Expose-Headers")).toContain("ETag");
    expect(created.headers.get("Access-Control-Expose-Headers")).toContain("X-Edgekeeper-Bookmark");
    expect(created.headers.get("Access-Control-Expose-Headers")).toContain("X-Edgekeeper-Served-By");
    expect(created.headers.get("Vary")).toContain("Origin");
    // Errors too, so that the page can read them.
    const refused = await call(`${ORIGIN}/v1/znodes/a`, { method: "POST", body: "{}", headers }, configured);
    expect(refused.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    await expectKeeperError(refused, "NodeExists");
    // And the event stream, for an EventSource on that page.
    const events = await call(`${ORIGIN}/v1/events/a`, { headers: { Origin: "https://app.example.com", "X-Edgekeeper-Namespace": ns } }, configured);
    expect(events.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    expect(events.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    await events.body?.cancel();
  });

  it("answers no CORS for other origins, loopback ones included", async () => {
    await expectKeeperError(await preflight("https://evil.example"), "NoAuth");
    const loopback = await preflight("http://localhost:3000");
    expect(loopback.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const read = await call(`${ORIGIN}/v1/znodes/`, { headers: { Origin: "http://localhost:3000" } }, configured);
    expect(read.status).toBe(200);
    expect(read.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("request bodies must be sent as JSON (no simple-request writes)", () => {
  const routes: [string, string, string][] = [
    ["POST", "/v1/znodes/new", '{"data":"x"}'],
    ["PUT", "/v1/znodes/a", '{"data":"x"}'],
    ["POST", "/v1/multi", '{"ops":[{"op":"create","path":"/new"}]}'],
    ["POST", "/v1/multi-read", '{"ops":[{"op":"getData","path":"/a"}]}'],
    ["POST", "/v1/sessions", '{"timeoutMs":4000}'],
    ["POST", "/v1/admin/mounts", '{"prefix":"/new"}'],
  ];
  const wrongTypes: [string, Record<string, string>][] = [
    ["text/plain", { "Content-Type": "text/plain;charset=UTF-8" }],
    ["a form", { "Content-Type": "application/x-www-form-urlencoded" }],
    ["multipart", { "Content-Type": "multipart/form-data; boundary=x" }],
    ["application/jsonp", { "Content-Type": "application/jsonp" }],
    ["no Content-Type", {}],
  ];

  it.each(routes)("%s %s: any other content type is MarshallingError, and nothing is written", async (method, path, payload) => {
    const zk = new HttpClient();
    await zk.mustCreate("/a", { data: "keep" });
    const before = await zk.snapshot();
    for (const [what, type] of wrongTypes) {
      // A Uint8Array body carries no Content-Type of its own.
      const res = await call(`${ORIGIN}${path}`, { method, body: new TextEncoder().encode(payload), headers: { "X-Edgekeeper-Namespace": zk.namespace, ...type } });
      const body = await expectKeeperError(res, "MarshallingError");
      expect(body.error.message, what).toMatch(/Content-Type: application\/json/);
    }
    expect(await zk.snapshot()).toEqual(before);
  });

  it("takes application/json with parameters, in any case, and a body-less request of any type", async () => {
    const zk = new HttpClient();
    const send = (path: string, type: string, body?: string) =>
      call(`${ORIGIN}/v1/znodes${path}`, { method: "POST", headers: { "X-Edgekeeper-Namespace": zk.namespace, "Content-Type": type }, ...(body === undefined ? {} : { body }) });
    expect((await send("/a", "application/json; charset=utf-8", '{"data":"a"}')).status).toBe(201);
    expect((await send("/b", "Application/JSON", '{"data":"b"}')).status).toBe(201);
    expect((await send("/c", "text/plain")).status).toBe(201);
    expect(await zk.mustGet("/b")).toMatchObject({ data: "b" });
  });
});
