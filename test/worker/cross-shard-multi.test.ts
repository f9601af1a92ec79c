/**
 * A multi across shards: checks on one and writes on another (a lock's fence, the
 * lock mounted apart from the data it guards), or writes on several; all of it or
 * none, over HTTP and over a session. A write to a checked or prepared node waits
 * until the multi is decided; a multi whose router never came back commits when
 * every part of it was prepared (its parts then apply on their own), and is given
 * up otherwise.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import type { CrossShardTxn, MultiWriteOp, Outcome, ShardRequest } from "../../protocol/index.ts";
import type { SessionOp } from "../../protocol/session-protocol.ts";
import { shardObjectName } from "../../durable/env.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { ANON } from "../harness/shard.ts";
import { SessionSocket, b64 } from "../harness/socket.ts";

/** The stub of a shard's object, with the calls a multi across shards makes of it. */
interface HoldingShard {
  prepareWrites(root: string, caller: typeof ANON, txn: CrossShardTxn, part: { op: "multi"; ops: MultiWriteOp[] }): Promise<Outcome>;
  releasePart(txnId: string): Promise<void>;
  resolveTxn(txnId: string): Promise<string>;
  execute(root: string, caller: typeof ANON, requests: ShardRequest[]): Promise<Outcome[]>;
  closeSession(root: string, sessionId: number): Promise<Outcome>;
}

/** A namespace with /lock on its root shard and /data mounted on a shard of its own; the objects of both. */
async function lockAndData(): Promise<{ zk: HttpClient; root: HoldingShard; data: HoldingShard; dataName: string; rootName: string }> {
  const zk = new HttpClient();
  expect((await zk.mount("/data")).status).toBe(201);
  await zk.mustCreate("/lock");
  await zk.mustCreate("/data/x", { data: "v0" });
  const { mounts } = await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>();
  const dataName = shardObjectName(zk.namespace, mounts.find((m) => m.prefix === "/data")!.shard);
  const rootName = shardObjectName(zk.namespace, "root");
  return { zk, root: shardStub(rootName), data: shardStub(dataName), dataName, rootName };
}

function shardStub(name: string): HoldingShard {
  return env.SHARD.get(env.SHARD.idFromName(name)) as unknown as HoldingShard;
}

async function valueOf(zk: HttpClient, path: string): Promise<string> {
  return (await zk.mustGet(path)).data;
}

it("applies a multi that checks a node on one shard and writes on another only when its checks hold, answering per op in order", async () => {
  const { zk } = await lockAndData();
  const fenced = await zk.multi([
    { op: "check", path: "/lock", version: 0 },
    { op: "setData", path: "/data/x", data: "v1" },
  ]);
  expect(fenced.status, await fenced.clone().text()).toBe(200);
  const { results } = await fenced.json<{ results: { op: string }[] }>();
  expect(results.map((r) => r.op)).toEqual(["check", "setData"]);
  expect(await valueOf(zk, "/data/x")).toBe("v1");

  // The lock changed hands: the fence's check fails, and nothing is written.
  expect((await zk.set("/lock", { data: "new owner" })).status).toBe(200);
  const refused = await zk.multi([
    { op: "setData", path: "/data/x", data: "v2" },
    { op: "check", path: "/lock", version: 0 },
    { op: "create", path: "/data/y" },
  ]);
  await expectKeeperError(refused.clone(), "BadVersion");
  const body = await refused.json<{ results: { op: string; error?: { name: string } }[] }>();
  expect(body.results.map((r) => r.error?.name)).toEqual(["Ok", "BadVersion", "RuntimeInconsistency"]);
  expect(await valueOf(zk, "/data/x")).toBe("v1");
  expect(await zk.exists("/data/y")).toBe(false);

  // A failing op of the writing shard: its error in its place, the check elsewhere Ok before it.
  const failedWrite = await zk.multi([
    { op: "check", path: "/lock", version: 1 },
    { op: "create", path: "/data/x" },
  ]);
  await expectKeeperError(failedWrite.clone(), "NodeExists");
  expect((await failedWrite.json<{ results: { error?: { name: string } }[] }>()).results.map((r) => r.error?.name)).toEqual(["Ok", "NodeExists"]);

});

it("applies a multi writing on two shards all or none, answering per op in order", async () => {
  const { zk } = await lockAndData();
  const both = await zk.multi([
    { op: "create", path: "/a", data: "A" },
    { op: "setData", path: "/data/x", data: "v1" },
    { op: "check", path: "/lock", version: 0 },
    { op: "create", path: "/data/b" },
  ]);
  expect(both.status, await both.clone().text()).toBe(200);
  const { results } = await both.json<{ results: { op: string; path?: string; stat?: { version: number } }[] }>();
  expect(results.map((r) => r.op)).toEqual(["create", "setData", "check", "create"]);
  expect(results[1]!.stat!.version).toBe(1);
  expect(results[3]!.path).toBe("/data/b");
  expect(await valueOf(zk, "/a")).toBe("A");
  expect(await valueOf(zk, "/data/x")).toBe("v1");

  // An op of the other writing shard fails: nothing anywhere, its error in its place.
  const refused = await zk.multi([{ op: "create", path: "/c" }, { op: "create", path: "/data/b" }, { op: "setData", path: "/a", data: "no" }]);
  await expectKeeperError(refused.clone(), "NodeExists");
  expect((await refused.json<{ results: { error?: { name: string } }[] }>()).results.map((r) => r.error?.name)).toEqual(["Ok", "NodeExists", "RuntimeInconsistency"]);
  expect(await zk.exists("/c")).toBe(false);
  expect(await valueOf(zk, "/a")).toBe("A");

  // The deciding shard's op fails: the part prepared on the other is dropped, and what it held is free at once.
  const decidedNot = await zk.multi([{ op: "setData", path: "/a", data: "no", version: 7 }, { op: "create", path: "/data/c" }]);
  await expectKeeperError(decidedNot.clone(), "BadVersion");
  const started = Date.now();
  expect((await zk.create("/data/c", { data: "later" })).status).toBe(201);
  expect(Date.now() - started).toBeLessThan(900);
  expect(await valueOf(zk, "/data/c")).toBe("later");
});

it("applies a session's multi writing on two shards, whose next reads show both parts", async () => {
  const { zk } = await lockAndData();
  const socket = (await SessionSocket.open(zk.namespace)).keepAlive(100);
  const { sessionId: sid } = await socket.open(10_000);
  const both = await socket.req(sid, { op: "multi", ops: [{ op: "setData", path: "/lock", data: b64("mine") }, { op: "create", path: "/data/e-", mode: "EPHEMERAL_SEQUENTIAL", data: b64("held") }] });
  if (!both.ok) throw new Error(JSON.stringify(both));
  const created = (both.value as { results: { path?: string }[] }).results[1]!.path!;
  expect(created).toMatch(/^\/data\/e-\d{10}$/);
  expect(atob((await socket.ok<{ data: string }>(sid, { op: "getData", path: created })).data)).toBe("held");
  expect(atob((await socket.ok<{ data: string }>(sid, { op: "getData", path: "/lock" })).data)).toBe("mine");
  // The ephemeral made by the other shard's part goes with the session.
  expect((await socket.req(sid, { op: "close" })).ok).toBe(true);
  expect(await zk.exists(created)).toBe(false);
});

it("does the same for a session: a refused fence writes nothing", async () => {
  const { zk } = await lockAndData();
  const socket = (await SessionSocket.open(zk.namespace)).keepAlive(100);
  const { sessionId: sid } = await socket.open(10_000);
  const fence: SessionOp = { op: "multi", ops: [{ op: "check", path: "/lock", version: 0 }, { op: "create", path: "/data/s-", mode: "PERSISTENT_SEQUENTIAL", data: b64("mine") }] };
  const first = await socket.req(sid, fence);
  expect(first.ok, JSON.stringify(first)).toBe(true);
  expect((await socket.req(sid, { op: "setData", path: "/lock", data: b64("taken") })).ok).toBe(true);
  const refused = await socket.req(sid, fence);
  expect(refused.ok).toBe(false);
  expect(!refused.ok && refused.error.name).toBe("BadVersion");
  const children = await socket.ok<{ children: string[] }>(sid, { op: "getChildren", path: "/data" });
  expect(children.children.filter((c) => c.startsWith("s-"))).toHaveLength(1);

  // In one frame with other requests, each answered in order.
  const [before, fenced, after] = socket.sendReqs(
    sid,
    { op: "setData", path: "/data/x", data: b64("first") },
    { op: "multi", ops: [{ op: "check", path: "/lock", version: 1 }, { op: "setData", path: "/data/x", data: b64("fenced") }] },
    { op: "getData", path: "/data/x" },
  );
  expect((await socket.response(sid, before!)).ok).toBe(true);
  expect((await socket.response(sid, fenced!)).ok).toBe(true);
  const read = await socket.response(sid, after!);
  expect(read.ok && atob((read.value as { data: string }).data)).toBe("fenced");
});

/** A multi's part of one op. */
function part(op: MultiWriteOp): { op: "multi"; ops: MultiWriteOp[] } {
  return { op: "multi", ops: [op] };
}

/** A transaction decided at the root shard, and the root shard's view of it (listing the data shard's part). */
function rootDecides(rootName: string, dataName: string): { txn: CrossShardTxn; atDecider: CrossShardTxn } {
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: rootName };
  return { txn, atDecider: { ...txn, parts: [dataName] } };
}

it("holds a checked node until the multi is decided: a write to it waits for the release", async () => {
  const { zk, root, dataName } = await lockAndData();
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: dataName };
  expect((await root.prepareWrites("/", ANON, txn, part({ op: "check", path: "/lock", version: 0 }))).ok).toBe(true);
  let answered = false;
  const write = zk.set("/lock", { data: "meanwhile" }).then((res) => {
    answered = true;
    return res;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(answered).toBe(false);
  // A read is not held, nor another multi's check of the node, or its create of a sibling.
  expect((await zk.get("/lock")).status).toBe(200);
  const other: CrossShardTxn = { ...txn, id: crypto.randomUUID() };
  const started = Date.now();
  expect((await root.prepareWrites("/", ANON, other, { op: "multi", ops: [{ op: "check", path: "/lock", version: 0 }, { op: "create", path: "/sibling" }] })).ok).toBe(true);
  expect(Date.now() - started).toBeLessThan(900);
  await root.releasePart(other.id);
  expect(answered).toBe(false);
  await root.releasePart(txn.id);
  expect((await write).status).toBe(200);
  expect(await zk.exists("/sibling")).toBe(false);
});

it("makes a write that waited with a multi's prepare for one release wait again when the prepare holds the node first: the multi's part still applies", async () => {
  const { zk, data, rootName, dataName } = await lockAndData();
  const first = rootDecides(rootName, dataName).txn;
  expect((await data.prepareWrites("/data", ANON, first, part({ op: "check", path: "/data/x", version: 0 }))).ok).toBe(true);
  // A multi setting the node at the version it read, and a plain write of it, both wait for the first multi.
  const { txn } = rootDecides(rootName, dataName);
  const set = part({ op: "setData", path: "/data/x", data: new TextEncoder().encode("multi"), version: 0 });
  const prepared = data.prepareWrites("/data", ANON, txn, set);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const plain = zk.set("/data/x", { data: "plain" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  // Released, the prepare goes first and holds the node: the plain write waits for it again.
  await data.releasePart(first.id);
  expect((await prepared).ok).toBe(true);
  expect((await data.execute("/data", ANON, [{ ...set, txn }]))[0]).toMatchObject({ ok: true, value: { results: [{ op: "setData" }] } });
  expect((await plain).status).toBe(200);
  expect(await valueOf(zk, "/data/x")).toBe("plain");
  expect((await zk.mustGet("/data/x")).stat.version).toBe(2);
});

it("gives up a multi whose router left its checks held before its deciding shard prepared: the write to the checked node goes on, and the multi never commits after", async () => {
  const { zk, root, data, dataName, rootName } = await lockAndData();
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: dataName };
  expect((await root.prepareWrites("/", ANON, txn, part({ op: "check", path: "/lock", version: 0 }))).ok).toBe(true);
  // Nobody releases it: after a second the root shard asks the data shard, which gives the multi up.
  const started = Date.now();
  expect((await zk.set("/lock", { data: "after" })).status).toBe(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  const set = part({ op: "setData", path: "/data/x", data: new TextEncoder().encode("late") });
  expect(await data.prepareWrites("/data", ANON, { ...txn, parts: [rootName] }, set)).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  expect((await data.execute("/data", ANON, [{ ...set, txn }]))[0]).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  expect(await valueOf(zk, "/data/x")).toBe("v0");
});

it("drops a part prepared for a multi whose router stopped before its deciding shard prepared: the held node is written after, the multi never", async () => {
  const { zk, root, data, rootName, dataName } = await lockAndData();
  const { txn, atDecider } = rootDecides(rootName, dataName);
  const prepared = await data.prepareWrites("/data", ANON, txn, part({ op: "setData", path: "/data/x", data: new TextEncoder().encode("prepared") }));
  expect(prepared.ok, JSON.stringify(prepared)).toBe(true);
  // Prepared again (a router's retry): nothing more.
  expect((await data.prepareWrites("/data", ANON, txn, part({ op: "setData", path: "/data/x", data: new TextEncoder().encode("prepared") }))).ok).toBe(true);
  // The router stops here. A write to the prepared node waits, the data shard asks the root shard after a second, which gives the multi up.
  const started = Date.now();
  expect((await zk.set("/data/x", { data: "after" })).status).toBe(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  expect(await root.prepareWrites("/", ANON, atDecider, part({ op: "create", path: "/late" }))).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  expect((await root.execute("/", ANON, [{ ...part({ op: "create", path: "/late" }), txn }]))[0]).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  expect(await zk.exists("/late")).toBe(false);
  expect(await valueOf(zk, "/data/x")).toBe("after");
});

it("commits a multi whose every part was prepared when its router stopped before sending any to apply: its deciding shard asks, applies its part, and the other part applies, before any write to what it holds", async () => {
  const { zk, root, data, rootName, dataName } = await lockAndData();
  const { txn, atDecider } = rootDecides(rootName, dataName);
  const dataPart = { op: "multi" as const, ops: [{ op: "setData" as const, path: "/data/x", data: new TextEncoder().encode("committed") }, { op: "create" as const, path: "/data/new" }] };
  expect((await data.prepareWrites("/data", ANON, txn, dataPart)).ok).toBe(true);
  expect((await root.prepareWrites("/", ANON, atDecider, part({ op: "create", path: "/decided" }))).ok).toBe(true);
  // A create of a node the part creates waits too; a read does not.
  expect(await valueOf(zk, "/data/x")).toBe("v0");
  // The router stops here: nobody sends a part to apply. The data shard asks the root shard, which asks the data shard: every part is prepared.
  const racing = zk.create("/data/new", { data: "racing" });
  expect((await zk.set("/data/x", { data: "after" })).status).toBe(200);
  await expectKeeperError(await racing, "NodeExists");
  expect(await valueOf(zk, "/data/x")).toBe("after");
  expect((await zk.mustGet("/data/x")).stat.version).toBe(2);
  expect(await zk.exists("/data/new")).toBe(true);
  expect(await zk.exists("/decided")).toBe(true);
  // Sent again once applied (a router's retry): answered with what each applied, once; the decider's names the transaction.
  const again = await data.execute("/data", ANON, [{ ...dataPart, txn }]);
  expect(again[0]).toMatchObject({ ok: true, value: { results: [{ op: "setData" }, { op: "create", path: "/data/new" }] } });
  const decided = await root.execute("/", ANON, [{ ...part({ op: "create", path: "/decided" }), txn }]);
  expect(decided[0]).toMatchObject({ ok: true, value: { results: [{ op: "create", path: "/decided" }], txn: txn.id } });
  expect((await zk.mustGet("/data/x")).stat.version).toBe(2);
});

it("closes a session whose multi prepared an ephemeral only once that multi is decided: the node is made, then goes with the session", async () => {
  const { zk, root, data, rootName, dataName } = await lockAndData();
  const caller = { ...ANON, sessionId: 0x7e57 };
  const { txn, atDecider } = rootDecides(rootName, dataName);
  const dataPart = part({ op: "create", path: "/data/mine", mode: "EPHEMERAL" });
  expect((await data.prepareWrites("/data", caller, txn, dataPart)).ok).toBe(true);
  expect((await root.prepareWrites("/", caller, atDecider, part({ op: "create", path: "/decided" }))).ok).toBe(true);
  // The session closes (it expired) while its multi is being decided.
  const closing = data.closeSession("/data", caller.sessionId);
  const decided = await root.execute("/", caller, [{ ...part({ op: "create", path: "/decided" }), txn }]);
  expect(decided[0]!.ok, JSON.stringify(decided[0])).toBe(true);
  expect(await closing).toMatchObject({ ok: true, value: { deleted: ["/data/mine"] } });
  // The whole multi applied: its part here too, before the closure removed its node.
  expect(await zk.exists("/decided")).toBe(true);
  expect(await zk.exists("/data/mine")).toBe(false);
  const again = await data.execute("/data", caller, [{ ...dataPart, txn }]);
  expect(again[0]).toMatchObject({ ok: true, value: { results: [{ op: "create", path: "/data/mine" }] } });
});

it("settles what multis of an earlier version left across an upgrade: a part whose decider logged its decision applies, a check held without a part is let go", async () => {
  const { zk, data, rootName, dataName } = await lockAndData();
  const committed: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: rootName };
  expect((await data.prepareWrites("/data", ANON, committed, part({ op: "setData", path: "/data/x", data: new TextEncoder().encode("multi") }))).ok).toBe(true);
  const checked: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: dataName };
  // As the earlier version stored them: the root shard's decision, written by its own part's write; its hold of a check.
  await runInDurableObject(shardStub(rootName) as unknown as DurableObjectStub, (_instance, state) => {
    const now = Date.now();
    const decided = { kind: "decided", decision: "committed", zxid: 1, at: now, outcome: { ok: true, zxid: 1, value: { results: [], txn: committed.id } } };
    state.storage.sql.exec("INSERT INTO txn_rows (txn, kind, row, at) VALUES (?, 'decided', ?, ?)", committed.id, JSON.stringify(decided), now);
    state.storage.sql.exec("INSERT INTO check_holds (txn, path, decider, held_at) VALUES (?, '/lock', ?, ?)", checked.id, checked.decider, now);
  });
  // Each write waits for its node's hold, whose shard asks the decider after a second.
  expect((await zk.set("/lock", { data: "after" })).status).toBe(200);
  expect((await zk.set("/data/x", { data: "after" })).status).toBe(200);
  expect((await zk.mustGet("/data/x")).stat.version).toBe(2);
});

it("refuses a multi's part sent to apply where none is prepared, and prepares none that would fail or is not the shard's", async () => {
  const { zk, data, rootName } = await lockAndData();
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: rootName };
  const unprepared = await data.execute("/data", ANON, [{ op: "multi", ops: [{ op: "create", path: "/data/y" }], txn }]);
  expect(unprepared[0]).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  const set = { op: "setData" as const, path: "/data/x", data: new TextEncoder().encode("no") };
  const wouldFail = await data.prepareWrites("/data", ANON, txn, { op: "multi", ops: [set, { op: "create", path: "/data/none/y" }] });
  expect(wouldFail).toMatchObject({ ok: false, error: { name: "NoNode" } });
  expect((wouldFail as { results: { error: { name: string } }[] }).results.map((r) => r.error.name)).toEqual(["Ok", "NoNode"]);
  const elsewhere = await data.prepareWrites("/data", ANON, txn, { op: "multi", ops: [{ op: "create", path: "/z" }] });
  expect(elsewhere).toMatchObject({ ok: false, moved: true });
  // Nothing was prepared: the node is written at once.
  const started = Date.now();
  expect((await zk.set("/data/x", { data: "free" })).status).toBe(200);
  expect(Date.now() - started).toBeLessThan(900);
});

it("ends a multi writing on two shards all or nothing when every object restarts after each of its steps and its router is gone", async () => {
  // How far the router got: the data shard's part prepared; the root shard's too; the root shard's applied.
  for (const steps of [1, 2, 3]) {
    const { zk, dataName, rootName } = await lockAndData();
    const { txn, atDecider } = rootDecides(rootName, dataName);
    const rootPart = part({ op: "create", path: "/both" });
    expect((await shardStub(dataName).prepareWrites("/data", ANON, txn, part({ op: "setData", path: "/data/x", data: new TextEncoder().encode("both") }))).ok).toBe(true);
    await abortAllDurableObjects();
    if (steps >= 2) {
      expect((await shardStub(rootName).prepareWrites("/", ANON, atDecider, rootPart)).ok).toBe(true);
      await abortAllDurableObjects();
    }
    if (steps >= 3) {
      expect((await shardStub(rootName).execute("/", ANON, [{ ...rootPart, txn }]))[0]!.ok).toBe(true);
      await abortAllDurableObjects();
    }
    // Past a second, the mounted shard's alarm asks the root shard, and applies or drops its part.
    const committed = steps >= 2;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await runDurableObjectAlarm(shardStub(dataName) as unknown as DurableObjectStub);
    expect(await zk.exists("/both"), `${steps} steps: /both`).toBe(committed);
    expect(await valueOf(zk, "/data/x")).toBe(committed ? "both" : "v0");
    // Decided either way: a late part applies nothing (given up, or answered as the first), and the node is free to write at once.
    const late = await shardStub(rootName).execute("/", ANON, [{ ...part({ op: "create", path: "/late" }), txn }]);
    if (committed) expect(late[0]).toMatchObject({ ok: true, value: { results: [{ op: "create", path: "/both" }] } });
    else expect(late[0]).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
    expect(await zk.exists("/late")).toBe(false);
    const started = Date.now();
    expect((await zk.set("/data/x", { data: "after" })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(900);
  }
});

it("settles two multis whose prepares wait for each other around three shards: the one of the lower id applies", async () => {
  const { zk, root, data, rootName } = await lockAndData();
  expect((await zk.mount("/more")).status).toBe(201);
  await zk.mustCreate("/more/y", { data: "v0" });
  const { mounts } = await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>();
  const moreName = shardObjectName(zk.namespace, mounts.find((m) => m.prefix === "/more")!.shard);
  const more = shardStub(moreName);
  const dataName = shardObjectName(zk.namespace, mounts.find((m) => m.prefix === "/data")!.shard);
  const set = (path: string, value: string) => part({ op: "setData", path, data: new TextEncoder().encode(value) });
  const low: CrossShardTxn = { id: "00000000-0000-4000-8000-000000000000", startedAt: Date.now(), decider: rootName };
  const high: CrossShardTxn = { id: "ffffffff-ffff-4fff-bfff-ffffffffffff", startedAt: Date.now(), decider: rootName };
  // Each prepared one part, and its other part waits for the other's; neither's deciding part is prepared yet.
  expect((await data.prepareWrites("/data", ANON, low, set("/data/x", "low"))).ok).toBe(true);
  expect((await more.prepareWrites("/more", ANON, high, set("/more/y", "high"))).ok).toBe(true);
  const lowSecond = more.prepareWrites("/more", ANON, low, set("/more/y", "low"));
  const highSecond = data.prepareWrites("/data", ANON, high, set("/data/x", "high"));
  // The higher id is given up where the lower waits; the lower is spared where the higher waits.
  expect((await lowSecond).ok, "the lower id's part prepared").toBe(true);
  const lowRoot = part({ op: "create", path: "/low" });
  expect((await root.prepareWrites("/", ANON, { ...low, parts: [dataName, moreName] }, lowRoot)).ok).toBe(true);
  const lowDecided = await root.execute("/", ANON, [{ ...lowRoot, txn: low }]);
  expect(lowDecided[0]!.ok, JSON.stringify(lowDecided[0])).toBe(true);
  // Its parts apply once asked of (the alarm, or a write waiting); the higher id's part then prepares, and never commits.
  await highSecond;
  expect(await root.prepareWrites("/", ANON, { ...high, parts: [dataName, moreName] }, part({ op: "create", path: "/high" }))).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  await data.releasePart(high.id);
  expect((await zk.set("/more/y", { data: "after" })).status).toBe(200);
  expect(await valueOf(zk, "/data/x")).toBe("low");
  expect((await zk.mustGet("/more/y")).stat.version).toBe(2);
  expect(await zk.exists("/high")).toBe(false);
});

it("settles two multis crossing two shards in opposite orders: one applies whole, the other whole or not at all", async () => {
  const { zk } = await lockAndData();
  for (let round = 0; round < 3; round++) {
    const [first, second] = await Promise.all([
      zk.multi([{ op: "setData", path: "/lock", data: `a${round}` }, { op: "setData", path: "/data/x", data: `a${round}` }]),
      zk.multi([{ op: "setData", path: "/data/x", data: `b${round}` }, { op: "setData", path: "/lock", data: `b${round}` }]),
    ]);
    // Each may wait for what the other holds: then one is given up (send it again), never both.
    const given = [first, second].filter((res) => res.status !== 200);
    expect(given.length).toBeLessThan(2);
    for (const res of given) await expectKeeperError(res, "OperationTimeout");
    const [lock, data] = [await zk.mustGet("/lock"), await zk.mustGet("/data/x")];
    expect(lock.data).toBe(data.data);
    expect(lock.stat.version).toBe(data.stat.version);
  }
});
