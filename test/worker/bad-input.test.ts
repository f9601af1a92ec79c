/**
 * Bad input gets a 4xx with a ZooKeeper error name, never a 500, a hang or a
 * partial write. Every case runs against a namespace holding a few nodes and
 * compares a snapshot of the whole tree (data, Stat, ACL) before and after.
 */
import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type KeeperErrorName, limitsFromEnv } from "../../protocol/index.ts";
import { HttpClient, ORIGIN, base64, expectKeeperError } from "../harness/http.ts";
import { drainLimitOf } from "../../worker/request-body.ts";

const { maxValueBytes: MAX_VALUE_BYTES, maxRequestBytes: MAX_REQUEST_BYTES } = limitsFromEnv(env);

/** A namespace holding /a = "keep" and /a/child. */
async function seeded(): Promise<HttpClient> {
  const zk = new HttpClient();
  await zk.mustCreate("/a", { data: "keep" });
  await zk.mustCreate("/a/child", { data: "kid" });
  return zk;
}

/** Sends a bad request; asserts the error and that the tree did not change. */
async function refusedWithoutWrite(send: (zk: HttpClient) => Promise<Response>, name: KeeperErrorName) {
  const zk = await seeded();
  const before = await zk.snapshot();
  const body = await expectKeeperError(await send(zk), name);
  expect(await zk.snapshot()).toEqual(before);
  return body;
}

type Case = [string, (zk: HttpClient) => Promise<Response>, KeeperErrorName];

const raw = (zk: HttpClient, method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
  zk.fetch(method, `/v1/znodes${path}`, { ...(body === undefined ? {} : { body }), headers });

describe("malformed bodies", () => {
  const cases: Case[] = [
    ["create: JSON that does not parse", (zk) => raw(zk, "POST", "/new", '{"data": "x"'), "MarshallingError"],
    ["create: a JSON array", (zk) => raw(zk, "POST", "/new", '["x"]'), "MarshallingError"],
    ["create: a JSON string", (zk) => raw(zk, "POST", "/new", '"x"'), "MarshallingError"],
    ["create: JSON null", (zk) => raw(zk, "POST", "/new", "null"), "MarshallingError"],
    ["create: a JSON number", (zk) => raw(zk, "POST", "/new", "42"), "MarshallingError"],
    ["create: plain text", (zk) => raw(zk, "POST", "/new", "hello", { "Content-Type": "text/plain" }), "MarshallingError"],
    ["setData: JSON that does not parse", (zk) => raw(zk, "PUT", "/a", "{data:1}"), "MarshallingError"],
    ["setData: a JSON array", (zk) => raw(zk, "PUT", "/a", "[]"), "MarshallingError"],
    ["multi: JSON that does not parse", (zk) => zk.fetch("POST", "/v1/multi", { body: "{" }), "MarshallingError"],
    ["multi: a JSON array of ops", (zk) => zk.fetch("POST", "/v1/multi", { body: [{ op: "create", path: "/new" }] }), "MarshallingError"],
    ["mount: a JSON string", (zk) => zk.fetch("POST", "/v1/admin/mounts", { body: '"/new"' }), "MarshallingError"],
  ];
  it.each(cases)("%s", async (_, send, name) => {
    await refusedWithoutWrite(send, name);
  });
});

describe("text that is not Unicode is refused, never stored as U+FFFD", () => {
  /** A JSON body around `inner` raw bytes (invalid UTF-8 cannot be written as a JS string). */
  const bytesBody = (before: string, inner: number[], after: string) =>
    Uint8Array.from([...new TextEncoder().encode(before), ...inner, ...new TextEncoder().encode(after)]);
  const send = (zk: HttpClient, method: string, path: string, body: Uint8Array | string) =>
    SELF.fetch(`${ORIGIN}${path}`, { method, body, headers: { "X-Edgekeeper-Namespace": zk.namespace, "Content-Type": "application/json" } });
  const cases: Case[] = [
    ["create: a value with a stray continuation byte", (zk) => send(zk, "POST", "/v1/znodes/new", bytesBody('{"data":"a', [0x80], '"}')), "MarshallingError"],
    ["create: a value with a truncated sequence", (zk) => send(zk, "POST", "/v1/znodes/new", bytesBody('{"data":"', [0xe2, 0x82], '"}')), "MarshallingError"],
    ["create: a value in Latin-1", (zk) => send(zk, "POST", "/v1/znodes/new", bytesBody('{"data":"caf', [0xe9], '"}')), "MarshallingError"],
    ["create: an overlong encoding of /", (zk) => send(zk, "POST", "/v1/znodes/new", bytesBody('{"data":"', [0xc0, 0xaf], '"}')), "MarshallingError"],
    ["setData: invalid UTF-8", (zk) => send(zk, "PUT", "/v1/znodes/a", bytesBody('{"data":"', [0xff, 0xfe], '"}')), "MarshallingError"],
    ["multi: invalid UTF-8 in a setData", (zk) => send(zk, "POST", "/v1/multi", bytesBody('{"ops":[{"op":"setData","path":"/a","data":"', [0xed, 0xa0, 0x80], '"}]}')), "MarshallingError"],
    ["create: an unpaired surrogate escape", (zk) => send(zk, "POST", "/v1/znodes/new", '{"data":"x\\ud800y"}'), "MarshallingError"],
    ["setData: an unpaired low surrogate escape", (zk) => send(zk, "PUT", "/v1/znodes/a", '{"data":"\\udc00"}'), "MarshallingError"],
    ["multi: an unpaired surrogate in a create", (zk) => send(zk, "POST", "/v1/multi", '{"ops":[{"op":"create","path":"/new","data":"\\ud83d"}]}'), "MarshallingError"],
  ];
  it.each(cases)("%s", async (_, request, name) => {
    await refusedWithoutWrite(request, name);
  });

  it("stores a surrogate pair escape as the character it encodes", async () => {
    const zk = new HttpClient();
    expect((await send(zk, "POST", "/v1/znodes/emoji", '{"data":"\\ud83d\\ude00"}')).status).toBe(201);
    expect(await zk.mustGet("/emoji")).toMatchObject({ data: "\u{1f600}", stat: { dataLength: 4 } });
  });
});

describe("fields of the wrong type or value", () => {
  const cases: Case[] = [
    ["create: data as a number", (zk) => zk.create("/new", { data: 42 }), "MarshallingError"],
    ["create: data as an object", (zk) => zk.create("/new", { data: { a: 1 } }), "MarshallingError"],
    ["create: data as a list of bytes", (zk) => zk.create("/new", { data: [1, 2] }), "MarshallingError"],
    ["create: unknown encoding", (zk) => zk.create("/new", { data: "x", encoding: "hex" }), "MarshallingError"],
    ["create: data that is not base64", (zk) => zk.create("/new", { data: "***", encoding: "base64" }), "MarshallingError"],
    ["create: acl not a list", (zk) => zk.create("/new", { acl: { perms: 31, scheme: "world", id: "anyone" } }), "InvalidACL"],
    ["create: acl as a string", (zk) => zk.create("/new", { acl: "world:anyone:cdrwa" }), "InvalidACL"],
    ["create: an empty acl", (zk) => zk.create("/new", { acl: [] }), "InvalidACL"],
    ["create: acl with bad perms", (zk) => zk.create("/new", { acl: [{ perms: "xyz", scheme: "world", id: "anyone" }] }), "InvalidACL"],
    ["create: acl with an unknown scheme", (zk) => zk.create("/new", { acl: [{ perms: 31, scheme: "nope", id: "x" }] }), "InvalidACL"],
    ["create: acl entry missing its id", (zk) => zk.create("/new", { acl: [{ perms: 31, scheme: "world" }] }), "InvalidACL"],
    ["create: auth acl without an identity", (zk) => zk.create("/new", { acl: [{ perms: 31, scheme: "auth", id: "" }] }), "InvalidACL"],
    ["create: unknown mode", (zk) => zk.create("/new", { mode: "FOREVER" }), "BadArguments"],
    ["create: unknown mode number", (zk) => zk.create("/new", { mode: 9 }), "BadArguments"],
    ["create: mode as a list", (zk) => zk.create("/new", { mode: ["PERSISTENT"] }), "BadArguments"],
    ["create: an ephemeral without a session", (zk) => zk.create("/new", { mode: "EPHEMERAL" }), "BadArguments"],
    ["create: a TTL mode without ttlMs", (zk) => zk.create("/new", { mode: "PERSISTENT_WITH_TTL" }), "BadArguments"],
    ["create: ttlMs on a persistent node", (zk) => zk.create("/new", { ttlMs: 1000 }), "BadArguments"],
    ["create: ttlMs as a string", (zk) => zk.create("/new", { mode: "PERSISTENT_WITH_TTL", ttlMs: "1000" }), "MarshallingError"],
    ["create: under /zookeeper", (zk) => zk.create("/zookeeper/mine"), "BadArguments"],
    ["create: the root", (zk) => zk.create("/"), "NodeExists"],
    ["setData: data as a number", (zk) => zk.set("/a", { data: 7 }), "MarshallingError"],
    ["setData: data as a boolean", (zk) => zk.set("/a", { data: true }), "MarshallingError"],
    ["setData: version as a string", (zk) => zk.set("/a", { data: "x", version: "0" }), "MarshallingError"],
    ["setData: version as a fraction", (zk) => zk.set("/a", { data: "x", version: 0.5 }), "MarshallingError"],
    ["setData: ?version= not a number", (zk) => zk.set("/a", { data: "x" }, { query: { version: "zero" } }), "BadArguments"],
    ["setData: If-Match not a version", (zk) => zk.set("/a", { data: "x" }, { headers: { "If-Match": '"abc"' } }), "BadArguments"],
    ["setData: If-Match listing two ETags", (zk) => zk.set("/a", { data: "x" }, { headers: { "If-Match": '"0", "1"' } }), "BadArguments"],
    ["setData: unknown encoding", (zk) => zk.set("/a", { data: "x", encoding: "latin1" }), "MarshallingError"],
    ["setData: under /zookeeper", (zk) => zk.set("/zookeeper", { data: "x" }), "BadArguments"],
    ["setData: unknown view", (zk) => zk.set("/a", { data: "x" }, { query: { view: "stat" } }), "BadArguments"],
    ["setACL: acl not a list", (zk) => zk.set("/a", { acl: "open" }, { query: { view: "acl" } }), "InvalidACL"],
    ["setACL: acl missing", (zk) => zk.set("/a", { data: "x" }, { query: { view: "acl" } }), "InvalidACL"],
    ["setACL: If-Match (a data version) for the ACL version", (zk) => zk.set("/a", { acl: [{ perms: 31, scheme: "world", id: "anyone" }] }, { query: { view: "acl" }, headers: { "If-Match": '"0"' } }), "BadArguments"],
    ["setACL: version as a string", (zk) => zk.set("/a", { acl: [], version: "1" }, { query: { view: "acl" } }), "MarshallingError"],
    ["delete: ?version= not a number", (zk) => zk.delete("/a/child", { query: { version: "1.5" } }), "BadArguments"],
    ["delete: If-Match not a version", (zk) => zk.delete("/a/child", { headers: { "If-Match": "yes" } }), "BadArguments"],
    ["mount: prefix as a number", (zk) => zk.mount(5), "MarshallingError"],
    ["mount: no prefix", (zk) => zk.fetch("POST", "/v1/admin/mounts", { body: {} }), "MarshallingError"],
  ];
  it.each(cases)("%s", async (_, send, name) => {
    await refusedWithoutWrite(send, name);
  });
});

describe("bad paths", () => {
  const cases: Case[] = [
    ["get: a trailing slash", (zk) => raw(zk, "GET", "/a/"), "BadArguments"],
    ["create: a trailing slash", (zk) => raw(zk, "POST", "/a/", "{}"), "BadArguments"],
    ["create: a trailing slash under a missing parent", (zk) => raw(zk, "POST", "/b/", "{}"), "BadArguments"],
    ["setData: a trailing slash", (zk) => raw(zk, "PUT", "/a/", '{"data":"x"}'), "BadArguments"],
    ["delete: a trailing slash", (zk) => raw(zk, "DELETE", "/a/child/"), "BadArguments"],
    ["get: an empty component (//)", (zk) => raw(zk, "GET", "//a"), "BadArguments"],
    ["create: an empty component (//)", (zk) => raw(zk, "POST", "/a//b", "{}"), "BadArguments"],
    ["create: a leading //", (zk) => raw(zk, "POST", "//b", "{}"), "BadArguments"],
    ["delete: an empty component (//)", (zk) => raw(zk, "DELETE", "/a//child"), "BadArguments"],
    ["create: an encoded . component", (zk) => raw(zk, "POST", "/a%2F.", "{}"), "BadArguments"],
    ["create: an encoded .. component", (zk) => raw(zk, "POST", "/a%2F..%2Fb", "{}"), "BadArguments"],
    ["get: an encoded .. component", (zk) => raw(zk, "GET", "/a/child%2F.."), "BadArguments"],
    ["delete: an encoded .. component", (zk) => raw(zk, "DELETE", "/a%2F..%2Fa"), "BadArguments"],
    ["get: bad percent-encoding", (zk) => raw(zk, "GET", "/a%ZZ"), "BadArguments"],
    ["create: truncated percent-encoding", (zk) => raw(zk, "POST", "/a%E2%82", "{}"), "BadArguments"],
    ["create: a lone percent sign", (zk) => raw(zk, "POST", "/100%", "{}"), "BadArguments"],
    ["create: an encoded NUL", (zk) => raw(zk, "POST", "/a%00b", "{}"), "BadArguments"],
    ["create: a control character", (zk) => raw(zk, "POST", "/a%01b", "{}"), "BadArguments"],
    ["create: a path over maxPathBytes", (zk) => raw(zk, "POST", `/${"x".repeat(5000)}`, "{}"), "BadArguments"],
    ["multi: a relative path", (zk) => zk.multi([{ op: "create", path: "new" }]), "BadArguments"],
    ["multi: a trailing slash", (zk) => zk.multi([{ op: "create", path: "/a/" }]), "BadArguments"],
    ["multi: a lone surrogate", (zk) => zk.multi([{ op: "create", path: "/\ud800/x" }]), "BadArguments"],
    ["mount: a trailing slash", (zk) => zk.mount("/big/"), "BadArguments"],
    ["mount: a relative path", (zk) => zk.mount("big"), "BadArguments"],
  ];
  it.each(cases)("%s", async (_, send, name) => {
    await refusedWithoutWrite(send, name);
  });

  it("resolves literal dot segments in the URL before the API sees them, as URL parsing does", async () => {
    // A client's URL library turns /v1/znodes/a/../a into /v1/znodes/a: documented, not an error.
    const zk = await seeded();
    const res = await SELF.fetch(`${ORIGIN}/v1/znodes/a/child/../child`, { headers: { "X-Edgekeeper-Namespace": zk.namespace } });
    expect(await res.json()).toMatchObject({ path: "/a/child", data: "kid" });
  });
});

describe("values and bodies over the limits", () => {
  it("refuses a value over maxValueBytes on create and writes nothing", async () => {
    const body = await refusedWithoutWrite((zk) => zk.create("/big", { data: "x".repeat(MAX_VALUE_BYTES + 1) }), "BadArguments");
    expect(body.error.message).toMatch(/exceeds/);
  });

  it("refuses a base64 value over maxValueBytes", async () => {
    const bytes = new Uint8Array(MAX_VALUE_BYTES + 1).fill(0xff);
    await refusedWithoutWrite((zk) => zk.create("/big", { data: base64(bytes), encoding: "base64" }), "BadArguments");
  });

  it("refuses a value over maxValueBytes on setData and leaves the old value", async () => {
    await refusedWithoutWrite((zk) => zk.set("/a", { data: "é".repeat(Math.floor(MAX_VALUE_BYTES / 2) + 1) }), "BadArguments");
  });

  it("refuses a multi holding one value over the limit, writing none of it", async () => {
    await refusedWithoutWrite(
      (zk) =>
        zk.multi([
          { op: "create", path: "/ok", data: "small" },
          { op: "setData", path: "/a", data: "x".repeat(MAX_VALUE_BYTES + 1) },
        ]),
      "BadArguments",
    );
  });

  it("accepts a value of exactly maxValueBytes, also as base64 within the body limit", async () => {
    const zk = new HttpClient();
    expect((await zk.create("/max", { data: "x".repeat(MAX_VALUE_BYTES) })).status).toBe(201);
    expect((await zk.mustGet("/max", { view: "stat" })).stat.dataLength).toBe(MAX_VALUE_BYTES);
    const data = base64(new Uint8Array(MAX_VALUE_BYTES).fill(0xff));
    expect(JSON.stringify({ data, encoding: "base64" }).length).toBeLessThan(MAX_REQUEST_BYTES);
    expect((await zk.create("/max64", { data, encoding: "base64" })).status).toBe(201);
  });

  it("refuses a body over maxRequestBytes", async () => {
    const body = await refusedWithoutWrite((zk) => zk.create("/huge", { data: "x".repeat(MAX_REQUEST_BYTES) }), "BadArguments");
    expect(body.error.message).toMatch(/limit/);
    await refusedWithoutWrite((zk) => zk.multi([{ op: "create", path: "/huge", data: "x".repeat(MAX_REQUEST_BYTES) }]), "BadArguments");
  });

  it("refuses a streamed body (no Content-Length) over maxRequestBytes", async () => {
    const zk = await seeded();
    const before = await zk.snapshot();
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"data":"'));
      },
      pull(controller) {
        // An endless body: the Worker refuses it past the limit and stops reading it
        // where draining ends (so a body just over the limit still gets its answer).
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await SELF.fetch(`${ORIGIN}/v1/znodes/streamed`, {
      method: "POST",
      body: stream,
      headers: { "X-Edgekeeper-Namespace": zk.namespace },
      // @ts-expect-error duplex is needed by some runtimes for streamed request bodies
      duplex: "half",
    });
    await expectKeeperError(res, "BadArguments");
    expect(sent).toBeLessThan(drainLimitOf(MAX_REQUEST_BYTES) + MAX_REQUEST_BYTES);
    expect(await zk.snapshot()).toEqual(before);
  });
});

describe("unknown operations, views, encodings and endpoints", () => {
  const cases: Case[] = [
    ["multi: an unknown op", (zk) => zk.multi([{ op: "create", path: "/new" }, { op: "rename", path: "/a" }]), "Unimplemented"],
    ["multi: a read op", (zk) => zk.multi([{ op: "getData", path: "/a" }]), "Unimplemented"],
    ["multi: an op without a name", (zk) => zk.multi([{ path: "/a" }]), "Unimplemented"],
    ["multi: ops not a list", (zk) => zk.fetch("POST", "/v1/multi", { body: { ops: { op: "delete", path: "/a/child" } } }), "MarshallingError"],
    ["multi: no ops", (zk) => zk.fetch("POST", "/v1/multi", { body: {} }), "MarshallingError"],
    ["multi: an op that is not an object", (zk) => zk.multi(["delete /a/child"]), "MarshallingError"],
    ["multi: an op without a path", (zk) => zk.multi([{ op: "delete" }]), "MarshallingError"],
    ["multi: a path that is not a string", (zk) => zk.multi([{ op: "delete", path: 1 }]), "MarshallingError"],
    ["multi: version as a string", (zk) => zk.multi([{ op: "delete", path: "/a/child", version: "0" }]), "MarshallingError"],
    ["multi: more ops than maxMultiOps", (zk) => zk.multi(Array.from({ length: 1001 }, (_, i) => ({ op: "create", path: `/n${i}` }))), "BadArguments"],
    ["multi-read: an unknown op", (zk) => zk.multiRead([{ op: "setData", path: "/a" }]), "Unimplemented"],
    ["multi-read: unknown encoding", (zk) => zk.multiRead([{ op: "getData", path: "/a" }], { encoding: "hex" }), "BadArguments"],
    ["get: unknown view", (zk) => zk.get("/a", { view: "everything" }), "BadArguments"],
    ["get: unknown encoding", (zk) => zk.get("/a", { encoding: "hex" }), "BadArguments"],
  ];
  it.each(cases)("%s", async (_, send, name) => {
    await refusedWithoutWrite(send, name);
  });

  // Not an op the server lacks but a page that is not there: 404, still as a ZooKeeper error.
  const unknownEndpoints: [string, (zk: HttpClient) => Promise<Response>][] = [
    ["unknown endpoint under /v1", (zk) => zk.fetch("GET", "/v1/nodes/a")],
    ["unknown endpoint at the top", (zk) => zk.fetch("GET", "/v2/znodes/a")],
    ["unknown method on znodes", (zk) => zk.fetch("PATCH", "/v1/znodes/a", { body: { data: "x" } })],
    ["GET on /v1/multi", (zk) => zk.fetch("GET", "/v1/multi")],
    ["DELETE on /v1/admin/mounts", (zk) => zk.fetch("DELETE", "/v1/admin/mounts")],
  ];
  it.each(unknownEndpoints)("%s: 404 with Unimplemented in JSON, nothing written", async (_, send) => {
    const zk = await seeded();
    const before = await zk.snapshot();
    const res = await send(zk);
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ error: { name: "Unimplemented", code: -6 } });
    expect(await zk.snapshot()).toEqual(before);
  });

  it("redirects / to the console at /ui/", async () => {
    const res = await SELF.fetch(`${ORIGIN}/`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get("Location")!, ORIGIN).pathname).toBe("/ui/");
  });

  it("answers /ui/ with a 404 where no console is bound (deployed, its assets answer before the Worker)", async () => {
    const res = await SELF.fetch(`${ORIGIN}/ui/`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { name: string } }).error.name).toBe("Unimplemented");
  });
});

describe("bad headers", () => {
  const badNamespaces = ["", "has space", "slash/inside", "x".repeat(65), "semi;colon"];
  it.each(badNamespaces)("refuses the namespace header %j and writes nothing", async (namespace) => {
    const zk = await seeded();
    const before = await zk.snapshot();
    const headers = { "X-Edgekeeper-Namespace": namespace };
    const create = await SELF.fetch(`${ORIGIN}/v1/znodes/new`, { method: "POST", body: "{}", headers });
    await expectKeeperError(create, "BadArguments");
    const read = await SELF.fetch(`${ORIGIN}/v1/znodes/a`, { headers });
    await expectKeeperError(read, "BadArguments");
    expect(await zk.snapshot()).toEqual(before);
    // Nor in the default namespace.
    await expectKeeperError(await SELF.fetch(`${ORIGIN}/v1/znodes/new`), "NoNode");
  });

  const badAuth: [string, string][] = [
    ["no credentials", "digest"],
    ["no space", "digest:alice:pw"],
    ["an unknown scheme", "basic YWxpY2U6cHc="],
    ["digest without a colon", "digest alice"],
    ["digest without a user", "digest :pw"],
    ["an empty value", " "],
  ];
  it.each(badAuth)("refuses X-Edgekeeper-Auth with %s (401 AuthFailed) and writes nothing", async (_, auth) => {
    await refusedWithoutWrite((zk) => zk.create("/new", { data: "x" }, { "X-Edgekeeper-Auth": auth }), "AuthFailed");
    await refusedWithoutWrite((zk) => zk.set("/a", { data: "x" }, { headers: { "X-Edgekeeper-Auth": auth } }), "AuthFailed");
    await refusedWithoutWrite((zk) => zk.multi([]).then(() => zk.fetch("POST", "/v1/multi", { body: { ops: [{ op: "delete", path: "/a/child" }] }, headers: { "X-Edgekeeper-Auth": auth } })), "AuthFailed");
  });
});
