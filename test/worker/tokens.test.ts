/**
 * Scoped bearer tokens (EDGEKEEPER_TOKENS): a token opens only the namespaces it
 * names, and only within its scope (read, write, admin), on every surface: HTTP
 * routes, multi, and the session socket. And the bound on namespaces.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { REGISTRY_OBJECT } from "../../durable/directory/namespace-registry.ts";
import { app } from "../../worker/app.ts";
import { ORIGIN, SUPER_AUTH, expectKeeperError, uniqueNamespace } from "../harness/http.ts";
import type { SessionOp } from "../../protocol/session-protocol.ts";
import { SessionSocket, b64 } from "../harness/socket.ts";

const A = uniqueNamespace("tenant-a");
const B = uniqueNamespace("tenant-b");
const TOKENS = {
  readA: "read-a-0123456789",
  writeA: "write-a-0123456789",
  adminA: "admin-a-0123456789",
  readAll: "read-all-0123456789",
};
const deployed = {
  ...env,
  EDGEKEEPER_LOCAL: undefined,
  EDGEKEEPER_TOKEN: "the-admin-token",
  EDGEKEEPER_TOKENS: JSON.stringify([
    { token: TOKENS.readA, namespaces: [A], scope: "read" },
    { token: TOKENS.writeA, namespaces: [A], scope: "write" },
    { token: TOKENS.adminA, namespaces: [A], scope: "admin" },
    { token: TOKENS.readAll, namespaces: "*", scope: "read" },
  ]),
};

/** A request to the Worker as deployed with the tokens above. */
function call(token: string | undefined, method: string, path: string, options: { namespace?: string; body?: unknown; headers?: Record<string, string> } = {}, bindings: object = deployed) {
  const headers: Record<string, string> = { "X-Edgekeeper-Namespace": options.namespace ?? A, ...options.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const init: RequestInit = { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) };
  return app.fetch(new Request(`${ORIGIN}${path}`, init), bindings);
}

async function status(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

/** Every write route, each of which a read token is refused. */
const WRITES: [string, string, unknown?][] = [
  ["POST", "/v1/znodes/new", { data: "x" }],
  ["PUT", "/v1/znodes/seed", { data: "changed" }],
  ["PUT", "/v1/znodes/seed?view=acl", { acl: [{ perms: 31, scheme: "world", id: "anyone" }] }],
  ["DELETE", "/v1/znodes/seed"],
  ["POST", "/v1/multi", { ops: [{ op: "setData", path: "/seed", data: "changed" }] }],
  ["POST", "/v1/multi", { ops: [{ op: "check", path: "/seed" }] }],
];

describe("a read token", () => {
  it("reads, lists, streams and opens sessions, and is refused every write (403 NoAuth), which writes nothing", async () => {
    expect(await status(await call(TOKENS.writeA, "POST", "/v1/znodes/seed", { body: { data: "seed" } }))).toBe(201);
    for (const [method, path, body] of WRITES) {
      const res = await call(TOKENS.readA, method, path, body === undefined ? {} : { body });
      await expectKeeperError(res, "NoAuth");
    }
    const read = await call(TOKENS.readA, "GET", "/v1/znodes/seed");
    expect(await read.json()).toMatchObject({ data: "seed", stat: { version: 0, aversion: 0 } });
    await expectKeeperError(await call(TOKENS.readA, "GET", "/v1/znodes/new"), "NoNode");
    expect(await status(await call(TOKENS.readA, "GET", "/v1/znodes/?view=children"))).toBe(200);
    expect(await status(await call(TOKENS.readA, "POST", "/v1/multi-read", { body: { ops: [{ op: "getData", path: "/seed" }] } }))).toBe(200);
    const session = await call(TOKENS.readA, "POST", "/v1/sessions", { body: { timeoutMs: 1_000 } });
    expect(session.status).toBe(201);
    const { sessionId, password } = await session.json<{ sessionId: number; password: string }>();
    const header = { "X-Edgekeeper-Session": `${sessionId}:${password}` };
    expect(await status(await call(TOKENS.readA, "POST", `/v1/sessions/${sessionId}/keepalive`, { headers: header }))).toBe(200);
    await expectKeeperError(await call(TOKENS.readA, "POST", "/v1/znodes/eph", { body: { mode: "EPHEMERAL" }, headers: header }), "NoAuth");
    expect(await status(await call(TOKENS.readA, "DELETE", `/v1/sessions/${sessionId}`, { headers: header }))).toBe(200);
    const events = await call(TOKENS.readA, "GET", "/v1/events/seed");
    expect(events.status).toBe(200);
    await events.body?.cancel();
  });

  it("cannot write over the session socket; reads and watches there work", async () => {
    const withBindings = async (req: Request) => app.fetch(req, deployed);
    const reader = await SessionSocket.open(A, { token: TOKENS.readA }, {}, withBindings);
    const s = await reader.open();
    const writes: SessionOp[] = [
      { op: "create", path: "/by-socket", data: b64("x") },
      { op: "setData", path: "/seed", data: b64("x") },
      { op: "delete", path: "/seed" },
      { op: "setACL", path: "/seed", acl: [{ perms: 31, scheme: "world", id: "anyone" }] },
      { op: "multi", ops: [{ op: "create", path: "/in-multi" }] },
      { op: "check", path: "/seed" },
    ];
    for (const op of writes) {
      const res = await reader.req(s.sessionId, op);
      expect(res, JSON.stringify(op)).toMatchObject({ ok: false, error: { name: "NoAuth", code: -102 } });
    }
    expect(await reader.ok(s.sessionId, { op: "getData", path: "/seed", watch: true })).toMatchObject({ stat: { version: 0 } });
    expect(await reader.ok(s.sessionId, { op: "addWatch", path: "/", mode: "recursive" })).toBeDefined();
    await expectKeeperError(await call(TOKENS.readA, "GET", "/v1/znodes/by-socket"), "NoNode");
    await expectKeeperError(await call(TOKENS.readA, "GET", "/v1/znodes/in-multi"), "NoNode");

    const writer = await SessionSocket.open(A, { token: TOKENS.writeA }, {}, withBindings);
    const w = await writer.open();
    expect(await writer.ok(w.sessionId, { op: "create", path: "/by-socket", data: b64("x") })).toMatchObject({ path: "/by-socket" });
    reader.drop();
    writer.drop();
  });
});

describe("a token's namespaces", () => {
  it("a token for namespace A cannot touch namespace B, on any route nor the socket", async () => {
    for (const token of [TOKENS.readA, TOKENS.writeA, TOKENS.adminA]) {
      await expectKeeperError(await call(token, "GET", "/v1/znodes/", { namespace: B }), "NoAuth");
      await expectKeeperError(await call(token, "POST", "/v1/znodes/x", { namespace: B, body: {} }), "NoAuth");
      await expectKeeperError(await call(token, "GET", "/v1/admin/mounts", { namespace: B }), "NoAuth");
      const upgrade = new Request(`${ORIGIN}/v1/sessions/socket?namespace=${B}&token=${token}`, { headers: { Upgrade: "websocket" } });
      await expectKeeperError(await app.fetch(upgrade, deployed), "NoAuth");
    }
    // The default namespace is a namespace like any other.
    await expectKeeperError(await app.fetch(new Request(`${ORIGIN}/v1/znodes/`, { headers: { Authorization: `Bearer ${TOKENS.readA}` } }), deployed), "NoAuth");
    // A "*" token reaches both; EDGEKEEPER_TOKEN is still an admin token for all.
    expect(await status(await call(TOKENS.readAll, "GET", "/v1/znodes/", { namespace: B }))).toBe(200);
    await expectKeeperError(await call(TOKENS.readAll, "POST", "/v1/znodes/x", { namespace: B, body: {} }), "NoAuth");
    expect(await status(await call("the-admin-token", "POST", "/v1/znodes/x", { namespace: B, body: {} }))).toBe(201);
    expect(await status(await call("the-admin-token", "POST", "/v1/admin/mounts", { namespace: B, body: { prefix: "/m" } }))).toBe(201);
  });

  it("an unknown token, or none, is AuthFailed (401); a malformed EDGEKEEPER_TOKENS refuses everything", async () => {
    for (const token of [undefined, "read-a-012345678", `${TOKENS.readA}x`, TOKENS.readA.toUpperCase()]) {
      await expectKeeperError(await call(token, "GET", "/v1/znodes/"), "AuthFailed");
    }
    for (const setting of ["not json", "{}", '[{"token":"","namespaces":"*","scope":"read"}]', '[{"token":"t","namespaces":"*","scope":"root"}]', '[{"token":"t","namespaces":[],"scope":"read"}]']) {
      const body = await expectKeeperError(await call("the-admin-token", "GET", "/v1/znodes/", {}, { ...deployed, EDGEKEEPER_TOKENS: setting }), "SystemError");
      expect(body.error.message).toMatch(/EDGEKEEPER_TOKENS/);
    }
  });
});

describe("the admin right", () => {
  it("mounting and unmounting need an admin token, or a write token used as super", async () => {
    const ns = uniqueNamespace("tenant-a");
    const bindings = { ...deployed, EDGEKEEPER_TOKENS: JSON.stringify([
      { token: TOKENS.readA, namespaces: [ns], scope: "read" },
      { token: TOKENS.writeA, namespaces: [ns], scope: "write" },
      { token: TOKENS.adminA, namespaces: [ns], scope: "admin" },
    ]) };
    const mount = (token: string, prefix: string, headers: Record<string, string> = {}) => call(token, "POST", "/v1/admin/mounts", { namespace: ns, body: { prefix }, headers }, bindings);
    const unmount = (token: string, prefix: string, headers: Record<string, string> = {}) => call(token, "DELETE", `/v1/admin/mounts${prefix}`, { namespace: ns, headers }, bindings);
    await expectKeeperError(await mount(TOKENS.readA, "/m"), "NoAuth");
    await expectKeeperError(await mount(TOKENS.writeA, "/m"), "NoAuth");
    await expectKeeperError(await mount(TOKENS.writeA, "/m", { "X-Edgekeeper-Auth": "digest super:wrong" }), "NoAuth");
    await expectKeeperError(await call(TOKENS.writeA, "GET", "/v1/admin/mounts", { namespace: ns }, bindings), "NoAuth");
    await expectKeeperError(await call(TOKENS.adminA, "GET", "/v1/znodes/m", { namespace: ns }, bindings), "NoNode");
    expect(await status(await mount(TOKENS.adminA, "/m"))).toBe(201);
    expect(await status(await mount(TOKENS.writeA, "/n", { "X-Edgekeeper-Auth": SUPER_AUTH }))).toBe(201);
    await expectKeeperError(await unmount(TOKENS.writeA, "/m"), "NoAuth");
    await expectKeeperError(await unmount(TOKENS.readA, "/m"), "NoAuth");
    expect(await status(await unmount(TOKENS.adminA, "/m"))).toBe(200);
    expect(await status(await unmount(TOKENS.writeA, "/n", { "X-Edgekeeper-Auth": SUPER_AUTH }))).toBe(200);
    const table = await call(TOKENS.adminA, "GET", "/v1/admin/mounts", { namespace: ns }, bindings);
    expect(await table.json()).toMatchObject({ mounts: [{ prefix: "/", shard: "root" }] });
  });
});

describe("the namespace limit (EDGEKEEPER_MAX_NAMESPACES)", () => {
  it("refuses a namespace past the limit with QuotaExceeded; those admitted stay served", async () => {
    const registry = env.DIRECTORY.get(env.DIRECTORY.idFromName(REGISTRY_OBJECT));
    await registry.table(); // sets the object up
    const admitted = await runInDurableObject(registry, (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM namespaces").one().n);
    const limited = { ...deployed, EDGEKEEPER_MAX_NAMESPACES: String(admitted + 1) };
    const [first, second] = [uniqueNamespace("limit"), uniqueNamespace("limit")];
    const create = (namespace: string, path: string) => call("the-admin-token", "POST", `/v1/znodes${path}`, { namespace, body: {} }, limited);
    expect(await status(await create(first, "/one"))).toBe(201);
    const refused = await expectKeeperError(await create(second, "/one"), "QuotaExceeded");
    expect(refused.error.message).toMatch(/EDGEKEEPER_MAX_NAMESPACES/);
    await expectKeeperError(await call("the-admin-token", "GET", "/v1/znodes/", { namespace: second }, limited), "QuotaExceeded");
    expect(await status(await create(first, "/two"))).toBe(201);
    // Raising the limit admits it.
    expect(await status(await call("the-admin-token", "POST", "/v1/znodes/one", { namespace: second, body: {} }))).toBe(201);
  });
});
