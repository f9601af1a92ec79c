/**
 * Who may reach a namespace: bearer-token auth in front of /v1 (a deployed Worker
 * without a token refuses everything), and namespaces isolated from each other.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app.ts";
import { HttpClient, ORIGIN, expectKeeperError, uniqueNamespace } from "../harness/http.ts";

describe("namespaces", () => {
  it("keeps the same path in two namespaces apart", async () => {
    const red = new HttpClient();
    const blue = new HttpClient();
    await red.mustCreate("/shared", { data: "red" });
    await expectKeeperError(await blue.get("/shared"), "NoNode");
    await blue.mustCreate("/shared", { data: "blue" });
    expect(await red.mustGet("/shared")).toMatchObject({ data: "red" });
    expect(await blue.mustGet("/shared")).toMatchObject({ data: "blue" });
    await red.set("/shared", { data: "red 2" });
    expect(await blue.mustGet("/shared")).toMatchObject({ data: "blue", stat: { version: 0 } });
    expect((await blue.delete("/shared")).status).toBe(200);
    expect(await red.mustGet("/shared")).toMatchObject({ data: "red 2" });
  });

  it("keeps mounts per namespace", async () => {
    const red = new HttpClient();
    const blue = new HttpClient();
    expect((await red.mount("/big")).status).toBe(201);
    expect((await blue.mount("/big")).status).toBe(201);
    await red.mustCreate("/big/x", { data: "red" });
    await expectKeeperError(await blue.get("/big/x"), "NoNode");
  });

  it('uses the "default" namespace without the header', async () => {
    const path = `/default-${crypto.randomUUID()}`;
    const res = await app.request(`${ORIGIN}/v1/znodes${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"data":"d"}' }, env);
    expect(res.status).toBe(201);
    const viaHeader = new HttpClient({ namespace: "default" });
    expect(await viaHeader.mustGet(path)).toMatchObject({ data: "d" });
    expect((await viaHeader.delete(path)).status).toBe(200);
  });
});

describe("bearer auth", () => {
  const deployed = { ...env, EDGEKEEPER_LOCAL: undefined, EDGEKEEPER_TOKEN: "t" };
  const call = (path: string, init: RequestInit = {}, bindings: object = deployed) =>
    app.fetch(new Request(`${ORIGIN}${path}`, init), bindings);

  it("refuses a request without a token or with a wrong one (401 AuthFailed) and writes nothing", async () => {
    const namespace = uniqueNamespace("bearer");
    const headers = { "X-Edgekeeper-Namespace": namespace };
    for (const authorization of [undefined, "Bearer", "Bearer ", "Bearer x", "Bearer tt", "Basic dDp0", "t", "Bearer  t"]) {
      const h = authorization === undefined ? headers : { ...headers, Authorization: authorization };
      await expectKeeperError(await call("/v1/znodes/secret", { method: "POST", body: '{"data":"x"}', headers: h }), "AuthFailed");
      await expectKeeperError(await call("/v1/znodes/", { headers: h }), "AuthFailed");
      await expectKeeperError(await call("/v1/admin/mounts", { method: "POST", body: '{"prefix":"/m"}', headers: h }), "AuthFailed");
    }
    // Unknown endpoints under /v1 are refused the same way, revealing nothing.
    await expectKeeperError(await call("/v1/nothing", { headers }), "AuthFailed");
    // Nothing was written.
    await expectKeeperError(await new HttpClient({ namespace }).get("/secret"), "NoNode");
    expect((await new HttpClient({ namespace }).fetch("GET", "/v1/admin/mounts")).status).toBe(200);
  });

  it("serves a request with the right token", async () => {
    const namespace = uniqueNamespace("bearer");
    const headers = { "X-Edgekeeper-Namespace": namespace, Authorization: "Bearer t", "Content-Type": "application/json" };
    const created = await call("/v1/znodes/ok", { method: "POST", body: '{"data":"yes"}', headers });
    expect(created.status).toBe(201);
    const read = await call("/v1/znodes/ok", { headers });
    expect(await read.json()).toMatchObject({ path: "/ok", data: "yes" });
    // The scheme name is case-insensitive (RFC 9110).
    expect((await call("/v1/znodes/ok", { headers: { ...headers, Authorization: "bearer t" } })).status).toBe(200);
  });

  it("requires the token even when running locally once one is set", async () => {
    const both = { ...env, EDGEKEEPER_LOCAL: "1", EDGEKEEPER_TOKEN: "t" };
    await expectKeeperError(await call("/v1/znodes/", {}, both), "AuthFailed");
    expect((await call("/v1/znodes/", { headers: { Authorization: "Bearer t" } }, both)).status).toBe(200);
  });

  it("refuses every request when there is neither a token nor EDGEKEEPER_LOCAL", async () => {
    const bare = { ...env, EDGEKEEPER_LOCAL: undefined, EDGEKEEPER_TOKEN: undefined };
    for (const [method, path, payload] of [
      ["GET", "/v1/znodes/", undefined],
      ["POST", "/v1/znodes/x", "{}"],
      ["PUT", "/v1/znodes/x", "{}"],
      ["DELETE", "/v1/znodes/x", undefined],
      ["POST", "/v1/multi", '{"ops":[]}'],
      ["POST", "/v1/multi-read", '{"ops":[]}'],
      ["GET", "/v1/admin/mounts", undefined],
      ["POST", "/v1/admin/mounts", '{"prefix":"/m"}'],
    ] as const) {
      for (const authorization of [undefined, "Bearer ", "Bearer undefined", "Bearer t"]) {
        const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
        const body = await expectKeeperError(await call(path, { method, headers, ...(payload === undefined ? {} : { body: payload }) }, bare), "AuthFailed");
        expect(body.error.message).toMatch(/EDGEKEEPER_TOKEN/);
      }
    }
    const emptyToken = { ...env, EDGEKEEPER_LOCAL: undefined, EDGEKEEPER_TOKEN: "" };
    await expectKeeperError(await call("/v1/znodes/", { headers: { Authorization: "Bearer " } }, emptyToken), "AuthFailed");
  });

  it("answers /healthz without a token", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});
