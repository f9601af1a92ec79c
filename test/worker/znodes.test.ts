/**
 * Each znode operation end to end through the Worker: create, read (every view),
 * setData, setACL, delete; values as UTF-8 and base64; ETag = version; conditional
 * writes; Location on create; sequential create.
 */
import { describe, expect, it } from "vitest";
import { HttpClient, ORIGIN, base64, expectKeeperError } from "../harness/http.ts";

describe("create and getData", () => {
  it("creates a node and reads it back as UTF-8 with its Stat", async () => {
    const zk = new HttpClient();
    const res = await zk.create("/config", { data: "héllo ✓" });
    expect(res.status).toBe(201);
    const created = await res.json<{ path: string; stat: Record<string, number> }>();
    expect(created.path).toBe("/config");
    expect(created.stat).toMatchObject({ version: 0, cversion: 0, aversion: 0, numChildren: 0, ephemeralOwner: 0 });
    expect(created.stat.dataLength).toBe(new TextEncoder().encode("héllo ✓").length);

    const read = await zk.get("/config");
    expect(read.status).toBe(200);
    const body = await read.json<Record<string, unknown>>();
    expect(body).toEqual({ path: "/config", data: "héllo ✓", encoding: "utf8", stat: created.stat });
  });

  it("answers Location with the created path and ETag with version 0", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/dir");
    const res = await zk.create("/dir/a b%c", { data: "x" });
    expect(res.status).toBe(201);
    expect(res.headers.get("Location")).toBe("/v1/znodes/dir/a%20b%25c");
    expect(res.headers.get("ETag")).toBe('"0"');
    // The Location can be followed as is.
    const followed = await zk.fetch("GET", `${ORIGIN}${res.headers.get("Location")}`);
    expect(await followed.json()).toMatchObject({ path: "/dir/a b%c", data: "x" });
  });

  it("creates with no body as an empty value", async () => {
    const zk = new HttpClient();
    const res = await zk.fetch("POST", "/v1/znodes/empty");
    expect(res.status).toBe(201);
    expect(await zk.mustGet("/empty")).toMatchObject({ data: "", encoding: "utf8", stat: { dataLength: 0 } });
  });

  it("keeps ZooKeeper's null value: data null reads back null, in a multi-read too; missing data stays empty", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/null", { data: null });
    const read = await (await zk.get("/null")).json<Record<string, unknown>>();
    expect(read).toMatchObject({ data: null, stat: { dataLength: 0 } });
    await zk.mustCreate("/was-empty");
    expect((await zk.set("/was-empty", { data: null })).status).toBe(200);
    const multi = await zk.fetch("POST", "/v1/multi-read", { body: { ops: [{ op: "getData", path: "/was-empty" }] } });
    expect(await multi.json()).toMatchObject({ results: [{ op: "getData", data: null }] });
    await zk.mustCreate("/empty-by-omission", {});
    expect(await zk.mustGet("/empty-by-omission")).toMatchObject({ data: "", stat: { dataLength: 0 } });
  });

  it("takes base64 values and returns bytes that are not UTF-8 as base64, saying so", async () => {
    const zk = new HttpClient();
    const bytes = new Uint8Array([0xff, 0x00, 0xfe, 0x80, 0x41]);
    await zk.mustCreate("/bin", { data: base64(bytes), encoding: "base64" });
    const read = await zk.mustGet("/bin");
    expect(read).toMatchObject({ data: base64(bytes), encoding: "base64", stat: { dataLength: 5 } });
    // Asking for base64 gets base64 even when the value is text.
    await zk.mustCreate("/text", { data: "aGk=", encoding: "base64" });
    expect(await zk.mustGet("/text")).toMatchObject({ data: "hi", encoding: "utf8" });
    expect(await zk.mustGet("/text", { encoding: "base64" })).toMatchObject({ data: "aGk=", encoding: "base64" });
    expect(await zk.mustGet("/text", { encoding: "utf8" })).toMatchObject({ data: "hi", encoding: "utf8" });
  });

  it("returns ETag = version on reads", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/e", { data: "1" });
    expect((await zk.get("/e")).headers.get("ETag")).toBe('"0"');
    await zk.set("/e", { data: "2" });
    await zk.set("/e", { data: "3" });
    expect((await zk.get("/e")).headers.get("ETag")).toBe('"2"');
    expect((await zk.get("/e", { view: "stat" })).headers.get("ETag")).toBe('"2"');
  });

  it("refuses a second create of the same path with NodeExists, and a create under a missing parent with NoNode", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/x", { data: "first" });
    const again = await expectKeeperError(await zk.create("/x", { data: "second" }), "NodeExists");
    expect(again.error.path).toBe("/x");
    expect(await zk.mustGet("/x")).toMatchObject({ data: "first" });
    const orphan = await expectKeeperError(await zk.create("/missing/child"), "NoNode");
    expect(orphan.error.path).toBe("/missing");
  });

  it("reads a missing node as 404 NoNode with its path", async () => {
    const zk = new HttpClient();
    const body = await expectKeeperError(await zk.get("/nope"), "NoNode");
    expect(body.error.path).toBe("/nope");
    await expectKeeperError(await zk.get("/nope", { view: "stat" }), "NoNode");
    await expectKeeperError(await zk.get("/nope", { view: "children" }), "NoNode");
  });
});

describe("sequential create", () => {
  it("returns the actual path, numbered by the parent's cversion", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/q");
    const first = await zk.create("/q/item-", { mode: "PERSISTENT_SEQUENTIAL", data: "a" });
    expect(first.status).toBe(201);
    expect((await first.json<{ path: string }>()).path).toBe("/q/item-0000000000");
    expect(first.headers.get("Location")).toBe("/v1/znodes/q/item-0000000000");
    const second = await zk.create("/q/item-", { mode: 2, data: "b" });
    expect((await second.json<{ path: string }>()).path).toBe("/q/item-0000000001");
    expect(await zk.mustGet("/q/item-0000000001")).toMatchObject({ data: "b" });
    const children = await (await zk.get("/q", { view: "children" })).json<{ children: string[] }>();
    expect(children.children).toEqual(["item-0000000000", "item-0000000001"]);
  });

  it("takes a parent path ending in / for children named by their number alone", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/n");
    expect((await zk.mustCreate("/n/", { mode: "PERSISTENT_SEQUENTIAL" })).path).toBe("/n/0000000000");
    const res = await zk.multi([{ op: "create", path: "/n/", mode: "PERSISTENT_SEQUENTIAL" }]);
    expect(await res.json()).toMatchObject({ results: [{ op: "create", path: "/n/0000000001" }] });
    // Not for a plain create.
    await expectKeeperError(await zk.create("/n/"), "BadArguments");
  });
});

describe("setData", () => {
  it("sets data, bumps the version and answers the new Stat and ETag", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/s", { data: "v0" });
    const res = await zk.set("/s", { data: "v1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("ETag")).toBe('"1"');
    const body = await res.json<{ path: string; stat: { version: number } }>();
    expect(body).toMatchObject({ path: "/s", stat: { version: 1, dataLength: 2 } });
    expect(await zk.mustGet("/s")).toMatchObject({ data: "v1", stat: { version: 1 } });
  });

  it("sets a base64 value", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/b");
    const res = await zk.set("/b", { data: base64(new Uint8Array([1, 2, 255])), encoding: "base64" });
    expect(res.status).toBe(200);
    expect(await zk.mustGet("/b")).toMatchObject({ data: "AQL/", encoding: "base64" });
  });

  it("is conditional on If-Match, ?version= or the body's version: a mismatch is 412 BadVersion and changes nothing", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/c", { data: "v0" });

    await expectKeeperError(await zk.set("/c", { data: "no" }, { headers: { "If-Match": '"5"' } }), "BadVersion");
    await expectKeeperError(await zk.set("/c", { data: "no" }, { query: { version: "5" } }), "BadVersion");
    const viaBody = await expectKeeperError(await zk.set("/c", { data: "no", version: 5 }), "BadVersion");
    expect(viaBody.error.path).toBe("/c");
    expect(await zk.mustGet("/c")).toMatchObject({ data: "v0", stat: { version: 0 } });

    // The ETag of a read is what If-Match takes back.
    const etag = (await zk.get("/c")).headers.get("ETag")!;
    const ok = await zk.set("/c", { data: "v1" }, { headers: { "If-Match": etag } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ETag")).toBe('"1"');
    // The old ETag is now stale.
    await expectKeeperError(await zk.set("/c", { data: "v2" }, { headers: { "If-Match": etag } }), "BadVersion");
    expect((await zk.set("/c", { data: "v2" }, { query: { version: "1" } })).status).toBe(200);
    expect((await zk.set("/c", { data: "v3", version: 2 })).status).toBe(200);
    // Weak ETags and -1 (any version) are accepted.
    expect((await zk.set("/c", { data: "v4" }, { headers: { "If-Match": 'W/"3"' } })).status).toBe(200);
    expect((await zk.set("/c", { data: "v5", version: -1 })).status).toBe(200);
    expect(await zk.mustGet("/c")).toMatchObject({ data: "v5", stat: { version: 5 } });
  });

  it("accepts If-Match: * as any version", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/star", { data: "a" });
    await zk.set("/star", { data: "b" });
    const res = await zk.set("/star", { data: "c" }, { headers: { "If-Match": "*" } });
    expect(res.status).toBe(200);
    expect(await zk.mustGet("/star")).toMatchObject({ data: "c", stat: { version: 2 } });
  });

  it("answers NoNode for a missing node", async () => {
    const zk = new HttpClient();
    await expectKeeperError(await zk.set("/missing", { data: "x" }), "NoNode");
    await expectKeeperError(await zk.get("/missing"), "NoNode");
  });
});

describe("delete", () => {
  it("deletes a node; it is gone afterwards", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/d");
    const res = await zk.delete("/d");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: "/d" });
    await expectKeeperError(await zk.get("/d"), "NoNode");
    await expectKeeperError(await zk.delete("/d"), "NoNode");
  });

  it("is conditional on ?version= or If-Match", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/d", { data: "x" });
    await zk.set("/d", { data: "y" });
    await expectKeeperError(await zk.delete("/d", { query: { version: "0" } }), "BadVersion");
    await expectKeeperError(await zk.delete("/d", { headers: { "If-Match": '"0"' } }), "BadVersion");
    expect(await zk.mustGet("/d")).toMatchObject({ data: "y" });
    expect((await zk.delete("/d", { headers: { "If-Match": '"1"' } })).status).toBe(200);
    await zk.mustCreate("/d2");
    expect((await zk.delete("/d2", { query: { version: "0" } })).status).toBe(200);
  });

  it("refuses to delete a node with children (NotEmpty) or the root", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/p");
    await zk.mustCreate("/p/c");
    await expectKeeperError(await zk.delete("/p"), "NotEmpty");
    expect((await zk.get("/p/c")).status).toBe(200);
    await expectKeeperError(await zk.delete("/"), "BadArguments");
  });
});

describe("views", () => {
  it("lists children, counts descendants, and shows the Stat alone", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/app");
    await zk.mustCreate("/app/b");
    await zk.mustCreate("/app/a");
    await zk.mustCreate("/app/a/deep");

    const children = await (await zk.get("/app", { view: "children" })).json<Record<string, unknown>>();
    expect(children).toMatchObject({ path: "/app", children: ["a", "b"], stat: { numChildren: 2 } });
    expect(await (await zk.get("/app", { view: "count" })).json()).toEqual({ path: "/app", count: 3 });
    const stat = await (await zk.get("/app", { view: "stat" })).json<Record<string, unknown>>();
    expect(stat).toMatchObject({ path: "/app", stat: { numChildren: 2, cversion: 2 } });
    expect(stat).not.toHaveProperty("data");
    // The root lists ZooKeeper's own node too.
    const root = await (await zk.get("/", { view: "children" })).json<{ children: string[] }>();
    expect(root.children).toEqual(["app", "zookeeper"]);
    expect((await zk.get("/zookeeper", { view: "children" })).status).toBe(200);
  });

  it("reads /v1/znodes and /v1/znodes/ as the root", async () => {
    const zk = new HttpClient();
    expect(await (await zk.fetch("GET", "/v1/znodes")).json()).toMatchObject({ path: "/" });
    expect(await (await zk.fetch("GET", "/v1/znodes/?view=children")).json()).toMatchObject({ path: "/", children: ["zookeeper"] });
  });

  it("gets and sets the ACL, conditional on the ACL version", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/acl");
    const before = await (await zk.get("/acl", { view: "acl" })).json<Record<string, unknown>>();
    expect(before).toMatchObject({ path: "/acl", acl: [{ perms: 31, scheme: "world", id: "anyone" }], stat: { aversion: 0 } });

    const open = [{ perms: 31, scheme: "world", id: "anyone" }];
    const readOnly = [{ perms: "r", scheme: "world", id: "anyone" }];
    await expectKeeperError(await zk.set("/acl", { acl: readOnly, version: 3 }, { query: { view: "acl" } }), "BadVersion");
    await expectKeeperError(await zk.set("/acl", { acl: readOnly }, { query: { view: "acl", version: "1" } }), "BadVersion");
    const viaQuery = await zk.set("/acl", { acl: open }, { query: { view: "acl", version: "0" } });
    expect(await viaQuery.json()).toMatchObject({ path: "/acl", stat: { aversion: 1, version: 0 } });
    const res = await zk.set("/acl", { acl: readOnly, version: 1 }, { query: { view: "acl" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ path: "/acl", stat: { aversion: 2, version: 0 } });
    expect(await (await zk.get("/acl", { view: "acl" })).json()).toMatchObject({ acl: [{ perms: 1, scheme: "world", id: "anyone" }] });
    // World may now only read: a write is NoAuth.
    await expectKeeperError(await zk.set("/acl", { data: "x" }), "NoAuth");
  });
});
