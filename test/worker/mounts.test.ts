/**
 * Routing across shards: a subtree mounted through the admin API lives in a Durable
 * Object of its own, and the Worker routes, lists and counts across the mount.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { MountTable } from "../../durable/directory/mount-table.ts";
import { shardObjectName } from "../../durable/env.ts";
import type { Caller, Outcome, ShardRequest } from "../../protocol/index.ts";
import { ShardRouter } from "../../durable/directory/shard-router.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { SessionSocket } from "../harness/socket.ts";

interface ShardStub {
  execute(root: string, caller: Caller, requests: ShardRequest[]): Promise<Outcome[]>;
}

const ANONYMOUS: Caller = { sessionId: 0, ids: [] };

/** The Durable Object that holds `shard` of `namespace`, as the router names it. */
function shardObject(namespace: string, shard: string): ShardStub {
  return env.SHARD.get(env.SHARD.idFromName(shardObjectName(namespace, shard))) as unknown as ShardStub;
}

/** A namespace with /big mounted on a shard of its own, and /small on the root shard. */
async function mounted() {
  const zk = new HttpClient();
  await zk.mustCreate("/small", { data: "root shard" });
  const res = await zk.mount("/big");
  expect(res.status).toBe(201);
  const body = await res.json<{ mount: { prefix: string; shard: string }; table: MountTable }>();
  return { zk, shard: body.mount.shard, body };
}

describe("mounting a subtree", () => {
  it("mounts /big on a new shard and lists it in the mount table", async () => {
    const { zk, shard, body } = await mounted();
    expect(body.mount.prefix).toBe("/big");
    expect(shard).not.toBe("root");
    expect(body.table.mounts).toEqual([
      { prefix: "/", shard: "root" },
      { prefix: "/big", shard },
    ]);
    const table = await (await zk.fetch("GET", "/v1/admin/mounts")).json<MountTable>();
    expect(table).toEqual(body.table);
    // Another namespace's table is untouched.
    const other = await (await new HttpClient().fetch("GET", "/v1/admin/mounts")).json<MountTable>();
    expect(other.mounts).toEqual([{ prefix: "/", shard: "root" }]);
  });

  it("serves creates and reads under the mount and elsewhere, and lists the mount point under /", async () => {
    const { zk } = await mounted();
    expect(await zk.mustGet("/big")).toMatchObject({ path: "/big", data: "" });
    await zk.mustCreate("/big/a", { data: "in big" });
    await zk.mustCreate("/big/a/b", { data: "deeper" });
    const seq = await zk.mustCreate("/big/job-", { mode: "PERSISTENT_SEQUENTIAL" });
    expect(seq.path).toBe("/big/job-0000000001");
    await zk.mustCreate("/small/x", { data: "elsewhere" });
    expect(await zk.mustGet("/big/a")).toMatchObject({ data: "in big" });
    expect(await zk.mustGet("/big/a/b")).toMatchObject({ data: "deeper" });
    expect(await zk.mustGet("/small/x")).toMatchObject({ data: "elsewhere" });
    expect((await zk.set("/big/a", { data: "changed", version: 0 })).status).toBe(200);
    expect((await zk.delete("/big/a/b")).status).toBe(200);

    const root = await (await zk.get("/", { view: "children" })).json<{ children: string[] }>();
    expect(root.children).toEqual(["big", "small", "zookeeper"]);
    const big = await (await zk.get("/big", { view: "children" })).json<{ children: string[] }>();
    expect(big.children).toEqual(["a", "job-0000000001"]);
  });

  it("counts the nodes of both shards in view=count", async () => {
    const { zk } = await mounted();
    const count = async (path: string) => (await (await zk.get(path, { view: "count" })).json<{ count: number }>()).count;
    const before = await count("/");
    await zk.mustCreate("/big/a");
    await zk.mustCreate("/big/a/b");
    await zk.mustCreate("/big/c");
    await zk.mustCreate("/small/x");
    expect(await count("/")).toBe(before + 4);
    expect(await count("/big")).toBe(3);
    expect(await count("/small")).toBe(1);
    // The root counts /zookeeper, its two children, /small and the /big mount point.
    expect(before).toBe(5);
  });

  it("keeps data of the mounted subtree in another Durable Object", async () => {
    const { zk, shard } = await mounted();
    await zk.mustCreate("/big/where", { data: "here" });

    const [own] = await shardObject(zk.namespace, shard).execute("/big", ANONYMOUS, [{ op: "getData", path: "/big/where" }]);
    expect(own?.ok).toBe(true);
    expect(new TextDecoder().decode((own as { value: { data: Uint8Array } }).value.data)).toBe("here");

    const [fromRoot] = await shardObject(zk.namespace, "root").execute("/", ANONYMOUS, [{ op: "getData", path: "/big/where" }]);
    expect(fromRoot).toMatchObject({ ok: false, moved: true });
    const [small] = await shardObject(zk.namespace, shard).execute("/big", ANONYMOUS, [{ op: "getData", path: "/small" }]);
    expect(small).toMatchObject({ ok: false, moved: true });
  });

  it("applies a multi writing to both shards as one, and refuses a multiRead reading both with Unimplemented", async () => {
    const { zk } = await mounted();
    await zk.mustCreate("/big/a", { data: "a" });
    const both = await zk.multi([
      { op: "create", path: "/small/new" },
      { op: "setData", path: "/big/a", data: "b" },
    ]);
    expect(both.status, await both.clone().text()).toBe(200);
    expect((await zk.mustGet("/big/a")).data).toBe("b");
    expect(await zk.exists("/small/new")).toBe(true);
    const before = await zk.snapshot();
    const body = await expectKeeperError(await zk.multiRead([{ op: "getData", path: "/small" }, { op: "getData", path: "/big/a" }]), "Unimplemented");
    expect(body.error.message).toContain("/big");
    expect(await zk.snapshot()).toEqual(before);
    // A multi inside one shard works.
    expect((await zk.multi([{ op: "create", path: "/big/b" }, { op: "setData", path: "/big/a", data: "c" }])).status).toBe(200);
  });

  it("refuses to mount an existing node, the root, /zookeeper, a mount again, or under a missing parent", async () => {
    const { zk } = await mounted();
    const before = await zk.snapshot();
    const tableBefore = await (await zk.fetch("GET", "/v1/admin/mounts")).json();
    await expectKeeperError(await zk.mount("/small"), "NodeExists");
    await expectKeeperError(await zk.mount("/"), "BadArguments");
    await expectKeeperError(await zk.mount("/zookeeper"), "BadArguments");
    await expectKeeperError(await zk.mount("/zookeeper/quota"), "BadArguments");
    await expectKeeperError(await zk.mount("/big"), "NodeExists");
    await expectKeeperError(await zk.mount("/nowhere/x"), "NoNode");
    expect(await (await zk.fetch("GET", "/v1/admin/mounts")).json()).toEqual(tableBefore);
    expect(await zk.snapshot()).toEqual(before);
  });

  it("refuses to delete the mount point, alone or in a multi", async () => {
    const { zk } = await mounted();
    const before = await zk.snapshot();
    await expectKeeperError(await zk.delete("/big"), "BadArguments");
    await expectKeeperError(await zk.multi([{ op: "delete", path: "/big" }]), "BadArguments");
    expect(await zk.snapshot()).toEqual(before);
    expect((await zk.get("/big")).status).toBe(200);
  });

  it("answers NodeExists to a create of the mount point", async () => {
    const { zk } = await mounted();
    await expectKeeperError(await zk.create("/big", { data: "again" }), "NodeExists");
  });

  it("creates a sequential sibling of the mount point on the parent's shard", async () => {
    const { zk, shard } = await mounted();
    // "/" has had creates of /small and the /big stub, so the next suffix is 2.
    const seq = await zk.mustCreate("/big", { mode: "PERSISTENT_SEQUENTIAL", data: "sibling" });
    expect(seq.path).toBe("/big0000000002");
    expect(await zk.mustGet("/big0000000002")).toMatchObject({ data: "sibling" });
    const [inMount] = await shardObject(zk.namespace, shard).execute("/big", ANONYMOUS, [{ op: "exists", path: "/big0000000002" }]);
    expect(inMount).toMatchObject({ ok: false, moved: true });
    const [inRoot] = await shardObject(zk.namespace, "root").execute("/", ANONYMOUS, [{ op: "exists", path: "/big0000000002" }]);
    expect(inRoot).toMatchObject({ ok: true, value: { stat: { dataLength: 7 } } });
    expect(await (await zk.get("/", { view: "children" })).json()).toMatchObject({ children: ["big", "big0000000002", "small", "zookeeper"] });
  });

  it("finishes a mount that an earlier instance left half done, before routing by the table", async () => {
    const zk = new HttpClient();
    // A mount recorded as pending, as if the directory had stopped right after writing it.
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    await directory.table();
    await runInDurableObject(directory, (_instance, state) => {
      state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('namespace', ?)", zk.namespace);
      state.storage.sql.exec("INSERT INTO mounts (prefix, shard, state) VALUES ('/half', 'm-half', 'pending')");
    });
    const table = await (await zk.fetch("GET", "/v1/admin/mounts")).json<MountTable>();
    expect(table.mounts).toContainEqual({ prefix: "/half", shard: "m-half" });
    await zk.mustCreate("/half/x", { data: "in the new shard" });
    const [stored] = await shardObject(zk.namespace, "m-half").execute("/half", ANONYMOUS, [{ op: "exists", path: "/half/x" }]);
    expect(stored).toMatchObject({ ok: true, value: { stat: { dataLength: 16 } } });
    expect(await (await zk.get("/", { view: "children" })).json()).toMatchObject({ children: ["half", "zookeeper"] });
  });

  it("answers NodeExists to a create of the mount point inside a multi, and writes nothing", async () => {
    const { zk } = await mounted();
    const before = await zk.snapshot();
    const res = await zk.multi([{ op: "create", path: "/small/y" }, { op: "create", path: "/big" }]);
    await expectKeeperError(res, "NodeExists");
    expect(await zk.snapshot()).toEqual(before);
  });

  it("mounts a subtree inside a mounted subtree", async () => {
    const { zk, shard } = await mounted();
    await zk.mustCreate("/big/x");
    const res = await zk.mount("/big/inner");
    expect(res.status).toBe(201);
    const inner = (await res.json<{ mount: { shard: string } }>()).mount.shard;
    expect(inner).not.toBe(shard);
    await zk.mustCreate("/big/inner/leaf", { data: "leaf" });
    expect(await zk.mustGet("/big/inner/leaf")).toMatchObject({ data: "leaf" });
    expect(await (await zk.get("/big", { view: "children" })).json()).toMatchObject({ children: ["inner", "x"] });
    expect(await (await zk.get("/big", { view: "count" })).json()).toMatchObject({ count: 3 });
    const [own] = await shardObject(zk.namespace, inner).execute("/big/inner", ANONYMOUS, [{ op: "exists", path: "/big/inner/leaf" }]);
    expect(own).toMatchObject({ ok: true, value: { stat: { dataLength: 4 } } });
  });
});

describe("a stale mount table", () => {
  it("is corrected by the shard's moved answer: the router retries with a fresh table", async () => {
    const zk = new HttpClient();
    const router = new ShardRouter(env, zk.namespace);
    expect((await router.table()).mounts).toHaveLength(1); // cached: the root alone

    // Mount behind the router's back, as another isolate would.
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    const mount = await directory.mount(zk.namespace, "/big", ANONYMOUS);
    if (!mount.ok) throw new Error(mount.error.message);
    expect((await router.table()).mounts).toHaveLength(1); // still stale

    const created = await router.execute(ANONYMOUS, { op: "create", path: "/big/fresh" });
    expect(created).toMatchObject({ ok: true, value: { path: "/big/fresh" } });
    expect((await router.table()).mounts).toHaveLength(2); // refreshed by the retry
    const [own] = await shardObject(zk.namespace, mount.mount.shard).execute("/big", ANONYMOUS, [{ op: "exists", path: "/big/fresh" }]);
    expect(own).toMatchObject({ ok: true, value: { stat: { version: 0 } } });
  });

  it("still counts the mounted subtree while the cached table is stale", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/a");
    const router = new ShardRouter(env, zk.namespace);
    await router.table();
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    const mount = await directory.mount(zk.namespace, "/big", ANONYMOUS);
    if (!mount.ok) throw new Error(mount.error.message);
    await shardObject(zk.namespace, mount.mount.shard).execute("/big", ANONYMOUS, [{ op: "create", path: "/big/one" }, { op: "create", path: "/big/two" }]);
    // /zookeeper x3, /a, /big, /big/one, /big/two
    expect(await router.countDescendants(ANONYMOUS, "/")).toMatchObject({ ok: true, value: { count: 7 } });
  });

  it("over HTTP: a Worker that cached the table before a mount still routes to the new shard", async () => {
    const zk = new HttpClient();
    await zk.mustGet("/"); // the Worker caches the namespace's table
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    const mount = await directory.mount(zk.namespace, "/big", ANONYMOUS);
    if (!mount.ok) throw new Error(mount.error.message);
    await zk.mustCreate("/big/x", { data: "routed" });
    expect(await zk.mustGet("/big/x")).toMatchObject({ data: "routed" });
    const [own] = await shardObject(zk.namespace, mount.mount.shard).execute("/big", ANONYMOUS, [{ op: "getData", path: "/big/x" }]);
    expect(own?.ok).toBe(true);
    expect(await (await zk.get("/", { view: "count" })).json()).toMatchObject({ count: 5 });
  });
});

/** The rows left in a shard object's znode table (none once its storage is freed). */
async function znodeRows(namespace: string, shard: string): Promise<number> {
  const object = env.SHARD.get(env.SHARD.idFromName(shardObjectName(namespace, shard)));
  return runInDurableObject(object, (_instance, state) => {
    const tables = state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'znodes'").toArray();
    return tables.length === 0 ? 0 : state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM znodes").one().n;
  });
}

const ALL = 31;
const READ = 1;

describe("the mount point's ACLs", () => {
  it("a mount needs CREATE on the parent, and a refused one writes nothing", async () => {
    const alice = new HttpClient({ auth: "digest alice:pw" });
    await alice.mustCreate("/locked", { acl: [{ perms: ALL, scheme: "auth", id: "" }] });
    const anonymous = alice.as(undefined);
    const before = await alice.snapshot();
    const tableBefore = await (await anonymous.fetch("GET", "/v1/admin/mounts")).json();
    await expectKeeperError(await anonymous.mount("/locked/m"), "NoAuth");
    expect(await alice.snapshot()).toEqual(before);
    expect(await (await anonymous.fetch("GET", "/v1/admin/mounts")).json()).toEqual(tableBefore);
    expect((await alice.mount("/locked/m")).status).toBe(201);
  });

  it("gives the mount point the ACL the request names, else a create's default (open)", async () => {
    const zk = new HttpClient();
    expect((await zk.mount("/open")).status).toBe(201);
    expect(await (await zk.get("/open", { view: "acl" })).json()).toMatchObject({ acl: [{ perms: ALL, scheme: "world", id: "anyone" }] });

    const alice = zk.as("digest alice:pw");
    const acl = [{ perms: ALL, scheme: "auth", id: "" }, { perms: READ, scheme: "world", id: "anyone" }];
    expect((await alice.mount("/private", { acl })).status).toBe(201);
    const shown = await (await alice.get("/private", { view: "acl" })).json<{ acl: { perms: number; scheme: string; id: string }[] }>();
    expect(shown.acl).toHaveLength(2);
    expect(shown.acl[0]).toMatchObject({ perms: ALL, scheme: "digest", id: expect.stringMatching(/^alice:/) });
    expect(shown.acl[1]).toEqual({ perms: READ, scheme: "world", id: "anyone" });
    // Anyone reads it; only alice writes under it.
    expect((await zk.get("/private")).status).toBe(200);
    await expectKeeperError(await zk.create("/private/x"), "NoAuth");
    await expectKeeperError(await zk.set("/private", { data: "taken" }), "NoAuth");
    expect((await alice.create("/private/x")).status).toBe(201);
    await expectKeeperError(await zk.mount("/bad", { acl: [{ perms: ALL, scheme: "auth", id: "" }] }), "InvalidACL");
  });
});

describe("unmounting", () => {
  it("removes an empty mount: its stub, its row and its shard's storage; the prefix can be mounted again", async () => {
    const { zk, shard } = await mounted();
    await zk.mustCreate("/big/gone");
    expect((await zk.delete("/big/gone")).status).toBe(200);
    const res = await zk.unmount("/big");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ unmounted: { prefix: "/big", shard }, table: { mounts: [{ prefix: "/", shard: "root" }] } });
    await expectKeeperError(await zk.get("/big"), "NoNode");
    expect(await (await zk.get("/", { view: "children" })).json()).toMatchObject({ children: ["small", "zookeeper"] });
    expect(await (await zk.fetch("GET", "/v1/admin/mounts")).json<MountTable>()).toMatchObject({ mounts: [{ prefix: "/", shard: "root" }] });
    expect(await znodeRows(zk.namespace, shard)).toBe(0);
    expect((await zk.mount("/big")).status).toBe(201);
    await zk.mustCreate("/big/again");
  });

  it("shows the mount point's watchers its deletion, and its parent's watchers the child going", async () => {
    const { zk } = await mounted();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    await socket.ok(s.sessionId, { op: "exists", path: "/big", watch: true });
    await socket.ok(s.sessionId, { op: "getChildren", path: "/", watch: true });
    expect((await zk.unmount("/big")).status).toBe(200);
    await socket.next((m) => m !== "pong" && m.t === "event" && m.event === "NodeDeleted" && m.path === "/big");
    await socket.next((m) => m !== "pong" && m.t === "event" && m.event === "NodeChildrenChanged" && m.path === "/");
    socket.drop();
  });

  it("refuses a mount with children or mounts below it (NotEmpty) and a path that is no mount (NoNode), writing nothing", async () => {
    const { zk, shard } = await mounted();
    await zk.mustCreate("/big/child");
    expect((await zk.mount("/big/inner")).status).toBe(201);
    const before = await zk.snapshot();
    const tableBefore = await (await zk.fetch("GET", "/v1/admin/mounts")).json();
    await expectKeeperError(await zk.unmount("/big"), "NotEmpty");
    expect((await zk.unmount("/big/inner")).status).toBe(200);
    await expectKeeperError(await zk.unmount("/big"), "NotEmpty");
    await expectKeeperError(await zk.unmount("/small"), "NoNode");
    await expectKeeperError(await zk.unmount("/nowhere"), "NoNode");
    await expectKeeperError(await zk.fetch("DELETE", "/v1/admin/mounts/big/"), "BadArguments");
    const after = await zk.snapshot();
    delete (before as Record<string, unknown>)["/big/inner"];
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(after["/big/child"]).toEqual(before["/big/child"]);
    expect((await (await zk.fetch("GET", "/v1/admin/mounts")).json<MountTable>()).mounts).toEqual([{ prefix: "/", shard: "root" }, { prefix: "/big", shard }]);
    expect(tableBefore).toMatchObject({ mounts: [{ prefix: "/" }, { prefix: "/big" }, { prefix: "/big/inner" }] });
    expect(await zk.mustGet("/big/child")).toMatchObject({ path: "/big/child" });
  });

  it("needs DELETE on the parent, as deleting the node would", async () => {
    const alice = new HttpClient({ auth: "digest alice:pw" });
    await alice.mustCreate("/mine", { acl: [{ perms: ALL, scheme: "auth", id: "" }, { perms: ALL & ~8, scheme: "world", id: "anyone" }] });
    const anonymous = alice.as(undefined);
    expect((await anonymous.mount("/mine/m")).status).toBe(201);
    await expectKeeperError(await anonymous.unmount("/mine/m"), "NoAuth");
    expect((await anonymous.get("/mine/m")).status).toBe(200);
    expect((await alice.unmount("/mine/m")).status).toBe(200);
  });

  it("finishes an unmount that an earlier instance left half done, before routing by the table", async () => {
    const { zk, shard } = await mounted();
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    await runInDurableObject(directory, (_instance, state) => {
      state.storage.sql.exec("UPDATE mounts SET state = 'unmounting' WHERE prefix = '/big'");
    });
    const table = await (await zk.fetch("GET", "/v1/admin/mounts")).json<MountTable>();
    expect(table.mounts).toEqual([{ prefix: "/", shard: "root" }]);
    await expectKeeperError(await zk.get("/big"), "NoNode");
    expect(await znodeRows(zk.namespace, shard)).toBe(0);
  });

  it("answers a router whose table still shows the freed shard by routing it anew", async () => {
    const { zk, shard } = await mounted();
    const router = new ShardRouter(env, zk.namespace);
    expect((await router.table()).mounts).toHaveLength(2); // cached with /big
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    expect((await directory.unmount("/big", ANONYMOUS)).ok).toBe(true);
    expect((await router.table()).mounts).toHaveLength(2); // still stale
    const created = await router.execute(ANONYMOUS, { op: "create", path: "/big/x" });
    expect(created).toMatchObject({ ok: false, error: { name: "NoNode" } });
    expect(await znodeRows(zk.namespace, shard)).toBe(0);
  });
});

describe("the mount limit (EDGEKEEPER_MAX_MOUNTS, 3 in the tests)", () => {
  it("refuses one mount more with QuotaExceeded, and takes one again after an unmount", async () => {
    const zk = new HttpClient();
    for (const prefix of ["/a", "/b", "/c"]) expect((await zk.mount(prefix)).status).toBe(201);
    const body = await expectKeeperError(await zk.mount("/d"), "QuotaExceeded");
    expect(body.error.message).toMatch(/EDGEKEEPER_MAX_MOUNTS/);
    expect((await zk.get("/d")).status).toBe(404);
    expect((await zk.unmount("/a")).status).toBe(200);
    expect((await zk.mount("/d")).status).toBe(201);
  });
});
