/**
 * A geo-tier shard's region going dark (workerd-geo project: regions enam, weur and
 * apac, the directory in enam, leaders silent for 2 s failed over). The root shard's
 * leader is moved to weur and set geo-tier, so its sync replicas are the copies in
 * enam and apac; then weur is cut off (`POST /v1/admin/sim/regions/weur/down`) under a
 * steady writer in apac. The directory fails the leader over to a sync replica, the
 * writes go on there, every write acknowledged before, during and after is there once
 * and seen once by a session watching from enam, and the old leader, once weur is
 * back, steps down to follow the new one. A multi across shards decided in the dark
 * region is settled from the new leader, and so is every multi of a stream of them
 * cut off midway by the outage. An operator's forced promotion of a
 * regional shard records the writes its cut-off leader acknowledged and then dropped.
 */
import { abortAllDurableObjects, env } from "cloudflare:test";
import { expect, it } from "vitest";
import type { CrossShardTxn, MultiWriteOp, Outcome, ShardRequest } from "../../protocol/index.ts";
import { shardObjectName } from "../../durable/env.ts";
import { ANON, sleep } from "../harness/shard.ts";
import { eventually } from "../harness/sessions.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { type Res, SessionSocket } from "../harness/socket.ts";

interface ShardRow {
  prefix: string;
  leader: { region: string | null; reachable: boolean };
  tier: string;
  syncReplicas: string[];
  failover: { step: string; from: string; to: string | null; epoch: number; pending: string[]; dropped: unknown; forced: boolean } | null;
}

async function rootShard(zk: HttpClient): Promise<ShardRow> {
  const res = await zk.fetch("GET", "/v1/admin/shards");
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json<{ shards: ShardRow[] }>()).shards.find((s) => s.prefix === "/")!;
}

/** A shard copy's object, with the calls a multi across shards makes of it. */
function shard(name: string) {
  return env.SHARD.get(env.SHARD.idFromName(name)) as unknown as {
    prepareWrites(root: string, caller: typeof ANON, txn: CrossShardTxn, part: { op: "multi"; ops: MultiWriteOp[] }): Promise<Outcome>;
    execute(root: string, caller: typeof ANON, requests: ShardRequest[]): Promise<Outcome[]>;
  };
}

/**
 * The status of a linearizable read of `path` at the root shard's leader, once one is
 * answered: just after the old leader's region is back, a read may time out (504)
 * while the leader waits for a sync replica's word that no later epoch began.
 */
async function statusAtLeader(zk: HttpClient, path: string): Promise<number> {
  let status = 504;
  await eventually(`a linearizable read of ${path} answered`, async () => (status = (await zk.get(path, {}, { "X-Edgekeeper-Consistency": "linearizable" })).status) !== 504, 30_000);
  return status;
}

function region(zk: HttpClient, name: string, state: "down" | "up"): Promise<Response> {
  return zk.fetch("POST", `/v1/admin/sim/regions/${name}/${state}`);
}

it("fails a geo-tier shard over when its leader's region goes dark: no acknowledged write is lost, and the old leader steps down when back", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  await zk.mustCreate("/w");
  expect((await zk.fetch("POST", "/v1/admin/shards/root/leader", { body: { region: "weur" } })).status).toBe(200);
  const set = await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "geo" } });
  expect(set.status, await set.clone().text()).toBe(200);
  // The two regions nearest weur, nearest first.
  expect(await set.json()).toMatchObject({ shard: "root", tier: "geo", syncReplicas: ["enam", "apac"] });
  expect(await rootShard(zk)).toMatchObject({ tier: "geo", syncReplicas: ["enam", "apac"], leader: { region: "weur", reachable: true }, failover: null });

  const acknowledged: string[] = [];
  let refused = 0;
  let next = 0;
  /** One create of a new node: counted when acknowledged; a write cut off by the outage may or may not have applied. */
  const write = async (): Promise<boolean> => {
    const path = `/w/${next++}`;
    const res = await zk.create(path);
    if (res.status === 201) acknowledged.push(path);
    else refused += 1;
    return res.status === 201;
  };
  // A session in enam watches every create under /w, through its host's copy there (a sync replica).
  const watcher = (await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "enam" })).keepAlive(100);
  const { sessionId: watcherSid } = await watcher.open(10_000);
  await watcher.ok(watcherSid, { op: "addWatch", path: "/w", mode: "recursive" });
  for (let i = 0; i < 10; i++) expect(await write()).toBe(true);

  expect((await region(zk, "weur", "down")).status).toBe(200);
  try {
    // Writes fail while the leader is cut off, then go on at a sync replica, promoted.
    await eventually("a write acknowledged by the new leader", async () => (await write()) && (await rootShard(zk)).leader.region !== "weur", 40_000);
    for (let i = 0; i < 10; i++) expect(await write()).toBe(true);
    const failedOver = await rootShard(zk);
    expect(["enam", "apac"]).toContain(failedOver.leader.region);
    expect(failedOver.failover).toMatchObject({ from: "weur", to: failedOver.leader.region, step: "led", pending: ["weur"] });
    // The new leader acknowledges through the other sync replica and the old leader, in its place.
    expect([...failedOver.syncReplicas].sort()).toEqual(["enam", "apac"].map((r) => (r === failedOver.leader.region ? "weur" : r)).sort());
  } finally {
    expect((await region(zk, "weur", "up")).status).toBe(200);
  }

  // Back, the old leader is told of the new one: it steps down, and the failover is done.
  await eventually("the old leader told", async () => (await rootShard(zk)).failover?.step === "done", 20_000);
  for (let i = 0; i < 5; i++) expect(await write()).toBe(true);
  const children = await zk.get("/w", { view: "children" }, { "X-Edgekeeper-Consistency": "linearizable" });
  expect(children.status).toBe(200);
  const listed = new Set(((await children.json()) as { children: string[] }).children.map((name) => `/w/${name}`));
  expect(acknowledged.filter((path) => !listed.has(path))).toEqual([]);
  // The watcher saw every acknowledged create, and none of a write the failover dropped.
  const created = () => new Set(watcher.events(watcherSid).filter(([event]) => event === "NodeCreated").map(([, path]) => path));
  await eventually("every acknowledged create's event", async () => acknowledged.every((path) => created().has(path)), 10_000);
  expect([...created()].filter((path) => !listed.has(path))).toEqual([]);
  // Ten before, one or more while the failover ran, ten after it, five once the old leader was back.
  expect(acknowledged.length).toBeGreaterThanOrEqual(26);
  expect(refused).toBeGreaterThan(0);
}, 120_000);

it("settles a multi across shards whose deciding copy's region went dark: from the shard's new leader, a committed part applies, a staged one commits, and an undecided one is dropped", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  expect((await zk.mount("/data")).status).toBe(201);
  for (const path of ["/data/committed", "/data/staged", "/data/open"]) await zk.mustCreate(path, { data: "0" });
  expect((await zk.fetch("POST", "/v1/admin/shards/root/leader", { body: { region: "weur" } })).status, "the move to weur").toBe(200);
  expect((await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "geo" } })).status, "geo tier").toBe(200);
  const { mounts } = await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>();
  const dataName = shardObjectName(zk.namespace, mounts.find((m) => m.prefix === "/data")!.shard);
  const data = shard(dataName);
  // Three multis whose router stopped, deciding at the root shard's leader in weur: of one only the mounted shard's
  // part prepared; every part of another prepared, and its part there applied; every part of the last prepared.
  const decider = `${zk.namespace}/root@weur`;
  const txn = (): CrossShardTxn => ({ id: crypto.randomUUID(), startedAt: Date.now(), decider });
  const [open, committed, staged] = [txn(), txn(), txn()];
  const multi = (op: MultiWriteOp) => ({ op: "multi" as const, ops: [op] });
  const prepare = async (t: CrossShardTxn, name: string, atRoot: string | undefined) => {
    const [atData, atDecider] = await Promise.all([
      data.prepareWrites("/data", ANON, t, multi({ op: "setData", path: `/data/${name}`, data: new TextEncoder().encode("multi") })),
      atRoot && shard(decider).prepareWrites("/", ANON, { ...t, parts: [dataName] }, multi({ op: "create", path: atRoot })),
    ]);
    expect(atData.ok, JSON.stringify(atData)).toBe(true);
    if (atDecider) expect(atDecider.ok, JSON.stringify(atDecider)).toBe(true);
  };
  await prepare(open, "open", undefined);
  await prepare(committed, "committed", "/decided");
  const decided = await shard(decider).execute("/", ANON, [{ ...multi({ op: "create", path: "/decided" }), txn: committed }]);
  expect(decided[0]!.ok, JSON.stringify(decided[0])).toBe(true);
  // The last is settled by whichever leader asks first: the old one (its alarm, or the mounted shard's) or the new one.
  await prepare(staged, "staged", "/staged");

  expect((await region(zk, "weur", "down")).status).toBe(200);
  try {
    await eventually("the root shard failed over", async () => (await rootShard(zk)).leader.region !== "weur", 40_000);
    // The data shard cannot reach the copy named: it asks the new leader, which holds the decision, or makes it.
    for (const name of ["open", "committed", "staged"]) expect((await zk.set(`/data/${name}`, { data: "after" })).status, `the write to /data/${name}`).toBe(200);
  } finally {
    expect((await region(zk, "weur", "up")).status).toBe(200);
  }
  expect((await zk.mustGet("/data/committed")).stat.version).toBe(2);
  expect((await zk.mustGet("/data/staged")).stat.version).toBe(2);
  expect((await zk.mustGet("/data/open")).stat.version).toBe(1);
  expect(await statusAtLeader(zk, "/decided")).toBe(200);
  expect(await statusAtLeader(zk, "/staged")).toBe(200);
  // The undecided one was given up for good: its part, sent late to the old copy, is refused.
  const late = await shard(decider).prepareWrites("/", ANON, { ...open, parts: [dataName] }, multi({ op: "create", path: "/late" }));
  expect(late.ok).toBe(false);
  expect(await statusAtLeader(zk, "/late")).toBe(404);
}, 120_000);

it("answers a part prepared again, as the router's resend, only once its sync replicas hold it, as the first time", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  expect((await zk.mount("/data")).status).toBe(201);
  expect((await zk.fetch("POST", "/v1/admin/shards/root/leader", { body: { region: "weur" } })).status).toBe(200);
  expect((await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "geo" } })).status).toBe(200);
  const decider = shard(`${zk.namespace}/root@weur`);
  const txn: CrossShardTxn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: `${zk.namespace}/root@weur` };
  const part = { op: "multi" as const, ops: [{ op: "create" as const, path: "/prepared-twice" }] };
  // The second arrives while the first waits for a sync replica: it must not say "prepared" sooner,
  // or a failover dropping the row meanwhile could leave the multi committed without this part.
  const answered: string[] = [];
  const first = decider.prepareWrites("/", ANON, txn, part).then((outcome) => (answered.push("first"), outcome));
  await sleep(5);
  const second = decider.prepareWrites("/", ANON, txn, part).then((outcome) => (answered.push("second"), outcome));
  expect((await second).ok).toBe(true);
  expect((await first).ok).toBe(true);
  expect(answered).toEqual(["first", "second"]);
});

it("ends every multi across shards all or nothing when its deciding shard's region goes dark mid-stream and fails over", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  expect((await zk.mount("/data")).status).toBe(201);
  expect((await zk.fetch("POST", "/v1/admin/shards/root/leader", { body: { region: "weur" } })).status).toBe(200);
  expect((await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "geo" } })).status).toBe(200);
  // A session in apac sends multis writing on both shards, one every 100 ms; each decides at the root shard's leader.
  const socket = (await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "apac" })).keepAlive(100);
  const { sessionId } = await socket.open(30_000);
  const xids: number[] = [];
  const send = async (count: number) => {
    for (let k = 0; k < count; k++) {
      const i = xids.length;
      xids.push(socket.sendReqs(sessionId, { op: "multi", ops: [{ op: "create", path: `/a-${i}` }, { op: "create", path: `/data/b-${i}` }] })[0]!);
      await sleep(100);
    }
  };
  const answer = (xid: number) => socket.log.find((m): m is Res => m !== "pong" && m.t === "res" && m.sid === sessionId && m.xid === xid);
  await send(3);
  await eventually("the first multis answered", async () => xids.every((xid) => answer(xid)?.ok === true), 10_000);
  expect((await region(zk, "weur", "down")).status).toBe(200);
  try {
    await send(10);
    await eventually("the root shard failed over", async () => (await rootShard(zk)).leader.region !== "weur", 40_000);
    // Until the router's mount table names the new leader, a multi's part sent to the old one is lost (ConnectionLoss).
    await eventually("a multi applied after the failover", async () => {
      await send(1);
      const xid = xids[xids.length - 1]!;
      await eventually("its answer", async () => answer(xid) !== undefined, 30_000);
      return answer(xid)!.ok;
    }, 60_000);
    await send(3);
    await eventually("every multi answered", async () => xids.every((xid) => answer(xid) !== undefined), 60_000);
    // Still dark: what the cut-off multis left on /data (their creates hold its version) is settled by the new leader.
    expect((await zk.set("/data", { data: "settled" })).status).toBe(200);
  } finally {
    expect((await region(zk, "weur", "up")).status).toBe(200);
  }
  // Parts their routers could not settle are settled from the new leader: each multi whole or not at all.
  const both = async (i: number) => [await zk.exists(`/a-${i}`), await zk.exists(`/data/b-${i}`)];
  const all = xids.map((_, i) => i);
  await eventually("every multi all or nothing", async () => (await Promise.all(all.map(both))).every(([a, b]) => a === b), 30_000);
  const answeredOk = all.filter((i) => answer(xids[i]!)!.ok);
  for (const i of answeredOk) expect(await both(i), `multi ${i} was answered OK`).toEqual([true, true]);
  // Before the outage and after the failover, they applied.
  expect(answeredOk).toEqual(expect.arrayContaining([0, 1, 2, all.length - 1]));
}, 180_000);

it("fails nothing over when every object restarts: a geo-tier leader acknowledges again once its sync replicas pull", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  await zk.mustCreate("/r");
  expect((await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "geo" } })).status).toBe(200);
  for (let i = 0; i < 5; i++) await zk.mustCreate(`/r/before-${i}`);
  await abortAllDurableObjects();
  // Writes answer again (the restarted leader waits for its sync replicas' next pulls), and stay answered past the detection time.
  await eventually("a write after the restart", async () => (await zk.create("/r/after-0")).status === 201, 10_000);
  const until = Date.now() + 3_000;
  for (let i = 1; Date.now() < until; i++) await zk.mustCreate(`/r/after-${i}`);
  expect(await rootShard(zk)).toMatchObject({ leader: { region: "enam" }, tier: "geo", failover: null });
}, 60_000);

it("forces a regional shard's copy to lead only when told it may lose writes, and records the writes its old leader dropped", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  const inWeur = new HttpClient({ namespace: zk.namespace, headers: { "X-Edgekeeper-Region": "weur" } });
  const promote = (body: unknown) => zk.fetch("POST", "/v1/admin/shards/root/promote", { body });
  await zk.mustCreate("/kept");
  expect((await zk.fetch("POST", "/v1/admin/shards/root/leader", { body: { region: "weur" } })).status).toBe(200);
  // The apac copy, read from there, holds /kept (a snapshot after the move included: the promotion takes a whole copy).
  await eventually("the apac replica serving /kept", async () => {
    const read = await zk.get("/kept");
    return read.status === 200 && read.headers.get("X-Edgekeeper-Served-By") === "apac/replica";
  }, 20_000);

  expect((await region(zk, "weur", "down")).status).toBe(200);
  try {
    // Inside weur the cut-off leader of a regional shard still acknowledges writes: this one is lost.
    expect((await inWeur.create("/lost")).status).toBe(201);
    await expectKeeperError(await promote({ region: "apac" }), "BadArguments");
    await expectKeeperError(await promote({ region: "weur", acceptDataLoss: true }), "BadArguments");
    await expectKeeperError(await promote({ region: "mars", acceptDataLoss: true }), "BadArguments");
    expect((await rootShard(zk)).failover).toBeNull();
    const forced = await promote({ region: "apac", acceptDataLoss: true });
    expect(forced.status, await forced.clone().text()).toBe(200);
    expect(await forced.json()).toMatchObject({ shard: "root", leader: { region: "apac" }, pending: ["weur"], warning: expect.stringContaining("lost") });
    await eventually("a write acknowledged by the promoted copy", async () => (await zk.create("/after")).status === 201, 20_000);
  } finally {
    expect((await region(zk, "weur", "up")).status).toBe(200);
  }
  await eventually("the old leader told", async () => (await rootShard(zk)).failover?.step === "done", 20_000);
  const { failover, tier, leader } = await rootShard(zk);
  expect({ tier, leader: leader.region }).toEqual({ tier: "regional", leader: "apac" });
  expect(failover).toMatchObject({ forced: true, from: "weur", to: "apac", dropped: { fromZxid: expect.any(Number), toZxid: expect.any(Number) } });
  const linearizable = { "X-Edgekeeper-Consistency": "linearizable" };
  expect((await zk.get("/lost", {}, linearizable)).status).toBe(404);
  expect((await zk.get("/kept", {}, linearizable)).status).toBe(200);
  expect((await zk.get("/after", {}, linearizable)).status).toBe(200);
}, 120_000);

it("sets a shard geo-tier and back; refuses an outage of a region not simulated", async () => {
  const zk = new HttpClient();
  await expectKeeperError(await region(zk, "mars", "down"), "BadArguments");
  expect((await zk.fetch("POST", "/v1/admin/sim/regions/weur/sideways")).status).toBe(404);
  const geo = await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "geo" } });
  expect(await geo.json()).toMatchObject({ tier: "geo", syncReplicas: ["weur", "apac"] });
  expect((await zk.fetch("PUT", "/v1/admin/shards/root", { body: { tier: "regional" } })).status).toBe(200);
  expect(await rootShard(zk)).toMatchObject({ tier: "regional", syncReplicas: [] });
});
