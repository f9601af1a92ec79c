/**
 * A multi whose writes lie on one shard and whose checks lie on another (a lock's
 * fence, the lock mounted apart from the data it guards): all of it or none, over
 * HTTP and over a session; a write to a checked node waits until the multi is
 * decided; a multi whose router never came back is given up, and then never commits.
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import type { CheckOp, CrossShardTxn, Outcome, ShardRequest } from "../../protocol/index.ts";
import type { SessionOp } from "../../protocol/session-protocol.ts";
import { shardObjectName } from "../../durable/env.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { ANON } from "../harness/shard.ts";
import { SessionSocket, b64 } from "../harness/socket.ts";

/** The stub of a shard's object, with the calls a multi across shards makes of it. */
interface HoldingShard {
  holdChecks(root: string, caller: typeof ANON, txn: CrossShardTxn, checks: CheckOp[]): Promise<Outcome>;
  releaseChecks(txnId: string): Promise<void>;
  execute(root: string, caller: typeof ANON, requests: ShardRequest[]): Promise<Outcome[]>;
}

/** A namespace with /lock on its root shard and /data mounted on a shard of its own; the objects of both. */
async function lockAndData(): Promise<{ zk: HttpClient; root: HoldingShard; data: HoldingShard; dataName: string }> {
  const zk = new HttpClient();
  expect((await zk.mount("/data")).status).toBe(201);
  await zk.mustCreate("/lock");
  await zk.mustCreate("/data/x", { data: "v0" });
  const { mounts } = await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>();
  const dataName = shardObjectName(zk.namespace, mounts.find((m) => m.prefix === "/data")!.shard);
  const stub = (name: string) => env.SHARD.get(env.SHARD.idFromName(name)) as unknown as HoldingShard;
  return { zk, root: stub(shardObjectName(zk.namespace, "root")), data: stub(dataName), dataName };
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

  // Writes on two shards stay refused, with nothing applied.
  await expectKeeperError(await zk.multi([{ op: "create", path: "/a" }, { op: "create", path: "/data/b" }]), "Unimplemented");
  expect(await zk.exists("/a")).toBe(false);
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

it("holds a checked node until the multi is decided: a write to it waits for the release", async () => {
  const { zk, root, dataName } = await lockAndData();
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: dataName };
  expect((await root.holdChecks("/", ANON, txn, [{ op: "check", path: "/lock", version: 0 }])).ok).toBe(true);
  let answered = false;
  const write = zk.set("/lock", { data: "meanwhile" }).then((res) => {
    answered = true;
    return res;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(answered).toBe(false);
  // A read is not held.
  expect((await zk.get("/lock")).status).toBe(200);
  await root.releaseChecks(txn.id);
  expect((await write).status).toBe(200);
});

it("gives up a multi whose router left its holds: the write to the checked node goes on, and the multi never commits after", async () => {
  const { zk, root, data, dataName } = await lockAndData();
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: dataName };
  expect((await root.holdChecks("/", ANON, txn, [{ op: "check", path: "/lock", version: 0 }])).ok).toBe(true);
  // Nobody releases it: after a second the root shard asks the data shard, which gives the multi up.
  const started = Date.now();
  expect((await zk.set("/lock", { data: "after" })).status).toBe(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  const late = await data.execute("/data", ANON, [{ op: "multi", ops: [{ op: "setData", path: "/data/x", data: new TextEncoder().encode("late") }], txn }]);
  expect(late[0]).toMatchObject({ ok: false, error: { name: "OperationTimeout" } });
  expect(await valueOf(zk, "/data/x")).toBe("v0");
});
