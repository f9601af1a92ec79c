/**
 * Planned moves of a shard's leader between regions, as an operator starts them
 * (`POST /v1/admin/shards/{shard}/leader`; workerd-regions project: leaders start in
 * enam, a replica region apac): under a steady writer over HTTP and one over a
 * session, no acknowledged write is lost and none applies twice; the shard's
 * listing follows the move; bad requests are refused with nothing recorded; and the
 * leader moves back again.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm } from "cloudflare:test";
import { expect, it } from "vitest";
import { eventually } from "../harness/sessions.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { SessionSocket } from "../harness/socket.ts";

type ShardsPage = { shards: { shard: string; prefix: string; leader: { region: string | null; epoch: number }; replicas: { region: string }[]; move: { to: string; step: string } | null }[] };

function moveLeader(zk: HttpClient, shard: string, region: unknown): Promise<Response> {
  return zk.fetch("POST", `/v1/admin/shards/${shard}/leader`, { body: { region } });
}

async function rootShard(zk: HttpClient): Promise<ShardsPage["shards"][number]> {
  const res = await zk.fetch("GET", "/v1/admin/shards");
  expect(res.status).toBe(200);
  return (await res.json<ShardsPage>()).shards.find((s) => s.prefix === "/")!;
}

/**
 * Writes until `stop()` says so, each a create of a new node under /w (over HTTP) or
 * a sequential one under /s (over a session): answers the paths acknowledged.
 */
async function steadyWriters(zk: HttpClient, socket: SessionSocket, sid: number, stop: () => boolean): Promise<{ http: string[]; session: string[] }> {
  const http: string[] = [];
  const session: string[] = [];
  const overHttp = (async () => {
    for (let i = 0; !stop(); i++) {
      const res = await zk.create(`/w/${i}`);
      if (res.status === 201) http.push(`/w/${i}`);
      else throw new Error(`create /w/${i}: ${res.status} ${await res.text()}`);
    }
  })();
  const overSession = (async () => {
    while (!stop()) {
      const res = await socket.req(sid, { op: "create", path: "/s/n-", mode: "PERSISTENT_SEQUENTIAL" });
      if (!res.ok) throw new Error(`sequential create: ${JSON.stringify(res.error)}`);
      session.push((res.value as { path: string }).path);
    }
  })();
  await Promise.all([overHttp, overSession]);
  return { http, session };
}

it("moves the root shard's leader to apac and back under steady writers: every acknowledged write is there once, and the listing follows", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  await zk.mustCreate("/w");
  await zk.mustCreate("/s");
  const socket = (await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "apac" })).keepAlive(100);
  const { sessionId: sid } = await socket.open(10_000);
  // Sessions in both regions watch /w across the moves (the enam one's watch at the
  // leader, the apac one's at its home, the replica there).
  const enam = (await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "enam" })).keepAlive(100);
  const { sessionId: enamSid } = await enam.open(10_000);
  await zk.mustCreate("/watched");
  await enam.ok(enamSid, { op: "getData", path: "/watched", watch: true });
  await zk.mustCreate("/lasting");
  await enam.ok(enamSid, { op: "addWatch", path: "/lasting", mode: "persistent" });
  // The apac replica starts at its first read: the move's target catches up from there.
  expect((await zk.get("/w")).status).toBe(200);
  await eventually("the apac session's watching read served", async () => (await socket.req(sid, { op: "exists", path: "/watched", watch: true })).ok);
  expect((await rootShard(zk)).leader.region).toBe("enam");

  let moving = true;
  const writes = steadyWriters(zk, socket, sid, () => !moving);
  const there = moveLeader(zk, "root", "apac");
  // While it runs (its calls to the copies cross regions), it is listed, and a second
  // move of the shard is refused (asked of the directory straight, without the delays).
  const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
  await eventually("the move listed as under way", async () => (await directory.movesUnderWay()).root !== undefined);
  expect((await directory.moveLeader(zk.namespace, "root", "enam")) as unknown).toMatchObject({ ok: false, error: { name: "ReconfigInProgress" } });
  expect((await rootShard(zk)).move).toMatchObject({ from: "enam", to: "apac" });
  const moved = await there;
  expect(moved.status, await moved.clone().text()).toBe(200);
  expect(await moved.json()).toMatchObject({ shard: "root", leader: { region: "apac" } });
  await new Promise((resolve) => setTimeout(resolve, 300));
  moving = false;
  const acknowledged = await writes;
  expect(acknowledged.http.length).toBeGreaterThan(0);
  expect(acknowledged.session.length).toBeGreaterThan(0);

  const after = await rootShard(zk);
  expect(after.leader.region).toBe("apac");
  expect(after.leader.epoch).toBeGreaterThanOrEqual(2);
  expect(after.move).toBeNull();
  expect(after.replicas.map((r) => r.region)).toEqual(["enam"]);

  // Every acknowledged write is there, and each sequential create of the session once.
  const children = async (path: string) => (await (await zk.get(path, { view: "children" }, { "X-Edgekeeper-Consistency": "linearizable" })).json<{ children: string[] }>()).children;
  expect((await children("/w")).sort()).toEqual(acknowledged.http.map((p) => p.slice(3)).sort());
  expect((await children("/s")).sort()).toEqual(acknowledged.session.map((p) => p.slice(3)).sort());

  // Reads are served near their callers by where the leader is now: in enam by the copy
  // that led there, now a replica; in apac by the new leader.
  const fromEnam = new HttpClient({ namespace: zk.namespace, headers: { "X-Edgekeeper-Region": "enam" } });
  await eventually("a read in enam served by its replica", async () => (await fromEnam.get("/w")).headers.get("X-Edgekeeper-Served-By") === "enam/replica");
  expect((await zk.get("/w")).headers.get("X-Edgekeeper-Served-By")).toBe("apac/leader");

  // Each session's watch fires once, for the first change after the move.
  expect((await zk.set("/watched", { data: "changed at the new leader" })).status).toBe(200);
  await eventually("both watches fired", async () => enam.events(enamSid).length > 0 && socket.events(sid).length > 0);
  expect(enam.events(enamSid)).toEqual([["NodeDataChanged", "/watched", "data"]]);
  expect(socket.events(sid)).toEqual([["NodeDataChanged", "/watched", "data"]]);
  // A persistent watch set before the move fires for each change after it, once.
  for (const value of ["one", "two"]) expect((await zk.set("/lasting", { data: value })).status).toBe(200);
  await eventually("both changes of /lasting seen", async () => enam.events(enamSid).filter(([, path]) => path === "/lasting").length >= 2);

  // And back, with a write after it at the leader in enam.
  const back = await moveLeader(zk, "root", "enam");
  expect(back.status, await back.clone().text()).toBe(200);
  expect(await back.json()).toMatchObject({ leader: { region: "enam" } });
  expect((await zk.set("/w", { data: "after both moves" })).status).toBe(200);
  expect((await socket.req(sid, { op: "getData", path: "/w" })).ok).toBe(true);
  expect((await rootShard(zk)).leader.region).toBe("enam");
  // One-shot watches: none fired again, from either copy, by the move back or since; the
  // persistent one fired once per change.
  expect(enam.events(enamSid).filter(([, path]) => path === "/watched")).toHaveLength(1);
  expect(enam.events(enamSid).filter(([, path]) => path === "/lasting")).toEqual([
    ["NodeDataChanged", "/lasting", "persistent"],
    ["NodeDataChanged", "/lasting", "persistent"],
  ]);
  expect(socket.events(sid)).toHaveLength(1);
}, 60_000);

it("refuses a move to an unknown region, of an unknown shard, or to where the leader is, with nothing recorded", async () => {
  const zk = new HttpClient();
  await zk.mustCreate("/a");
  await expectKeeperError(await moveLeader(zk, "root", "mars"), "BadArguments");
  await expectKeeperError(await moveLeader(zk, "root", 7), "MarshallingError");
  await expectKeeperError(await moveLeader(zk, "nope", "apac"), "NoNode");
  await expectKeeperError(await moveLeader(zk, "root", "enam"), "BadArguments");
  const shard = await rootShard(zk);
  expect(shard.move).toBeNull();
  expect(shard.leader.region).toBe("enam");
  expect((await zk.set("/a", { data: "still writable" })).status).toBe(200);
});

it("a move cut short by a restart of every object is finished by the directory's alarm, with one leader and every acknowledged write", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  await zk.mustCreate("/a", { data: "before" });
  expect((await zk.get("/a")).status).toBe(200);
  const directoryOf = () => env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
  const moving = directoryOf().moveLeader(zk.namespace, "root", "apac").catch(() => "cut short");
  await eventually("the move listed as under way", async () => (await directoryOf().movesUnderWay()).root !== undefined);
  await abortAllDurableObjects();
  await moving;
  // Cut at its first step (its target catching up): the alarm set as it was recorded runs it to its end.
  await runDurableObjectAlarm(directoryOf());
  expect(await directoryOf().movesUnderWay()).toEqual({});
  const copies = [`${zk.namespace}/root`, `${zk.namespace}/root@apac`].map((name) => env.SHARD.get(env.SHARD.idFromName(name)));
  const roles = await Promise.all(copies.map(async (copy) => (await copy.handoverState()).role));
  expect(roles.filter((role) => role === "leader")).toHaveLength(1);
  expect((await rootShard(zk)).leader.region).toBe(roles[0] === "leader" ? "enam" : "apac");
  expect((await zk.mustGet("/a")).data).toBe("before");
  expect((await zk.set("/a", { data: "after" })).status).toBe(200);
}, 60_000);

it("moves a leader set to move by itself to its preferred region at the directory's next check, and leaves it there", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  await zk.mustCreate("/a", { data: "before" });
  expect((await zk.get("/a")).status).toBe(200);
  const directory = () => env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
  const configure = (body: unknown) => zk.fetch("PUT", "/v1/admin/shards/root", { body });

  const set = await configure({ autoMove: true, preferredRegion: "apac" });
  expect(set.status, await set.clone().text()).toBe(200);
  expect(await set.json()).toEqual({ shard: "root", tier: "regional", syncReplicas: [], autoMove: true, preferredRegion: "apac" });
  const before = await rootShard(zk);
  expect(before).toMatchObject({ autoMove: true, preferredRegion: "apac", leader: { region: "enam" } });
  expect((before as unknown as { advice: { region: string; move: boolean; reason: string } }).advice).toMatchObject({ region: "apac", move: true, reason: "the preferred region is apac" });

  // The check the setting scheduled, run now: the leader moves, and the next check leaves it.
  expect(await runDurableObjectAlarm(directory())).toBe(true);
  const moved = await rootShard(zk);
  expect(moved.leader.region).toBe("apac");
  expect(await runDurableObjectAlarm(directory())).toBe(true);
  expect((await rootShard(zk)).leader).toEqual(moved.leader);
  expect((await zk.mustGet("/a")).data).toBe("before");

  // Back to the default: no setting stored, and no check scheduled by it.
  const cleared = await configure({ autoMove: false, preferredRegion: null });
  expect(await cleared.json()).toEqual({ shard: "root", tier: "regional", syncReplicas: [], autoMove: false, preferredRegion: null });
  expect(await rootShard(zk)).toMatchObject({ autoMove: false, preferredRegion: null });
});

it("refuses bad placement settings with nothing changed: an unknown region or shard, a malformed field or tier, the geo tier with two regions", async () => {
  const zk = new HttpClient();
  const configure = (shard: string, body: unknown) => zk.fetch("PUT", `/v1/admin/shards/${shard}`, { body });
  await expectKeeperError(await configure("root", { preferredRegion: "mars" }), "BadArguments");
  await expectKeeperError(await configure("root", { autoMove: "yes" }), "MarshallingError");
  await expectKeeperError(await configure("root", { tier: "geo" }), "BadArguments");
  await expectKeeperError(await configure("root", { tier: "global" }), "BadArguments");
  await expectKeeperError(await configure("nope", { autoMove: true }), "NoNode");
  expect(await rootShard(zk)).toMatchObject({ autoMove: false, preferredRegion: null, tier: "regional", syncReplicas: [] });
});

it("after a move, what goes to a shard's leader finds it: a closed session's ephemerals go, a mount and unmount, a save and a restore", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  const socket = (await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "enam" })).keepAlive(100);
  const { sessionId: sid } = await socket.open(10_000);
  await socket.ok(sid, { op: "create", path: "/e", mode: "EPHEMERAL" });
  await zk.mustCreate("/kept", { data: "saved" });
  expect((await zk.get("/kept")).status).toBe(200);
  expect((await moveLeader(zk, "root", "apac")).status).toBe(200);

  await socket.ok(sid, { op: "close" });
  expect(await zk.exists("/e")).toBe(false);

  expect((await zk.mount("/m")).status).toBe(201);
  await zk.mustCreate("/m/x");
  expect((await zk.delete("/m/x")).status).toBe(200);
  expect((await zk.unmount("/m")).status).toBe(200);

  // Saved from the leader in apac, restored into a namespace whose root leads in apac too.
  const begun = await (await zk.fetch("POST", "/v1/admin/snapshot")).json<{ id: string; shards: { prefix: string; zxid: number }[] }>();
  const page = await (await zk.fetch("GET", `/v1/admin/snapshot/${begun.id}/page?prefix=/&after=`)).json<{ nodes: { path: string }[]; done: boolean }>();
  expect(page.done).toBe(true);
  const copy = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  expect((await copy.get("/")).status).toBe(200);
  expect((await moveLeader(copy, "root", "apac")).status).toBe(200);
  const header = { format: "edgekeeper-snapshot", version: 1, namespace: zk.namespace, created: new Date().toISOString(), shards: begun.shards };
  for (const [route, body] of [["/v1/admin/restore", { header }], ["/v1/admin/restore/nodes", { nodes: page.nodes }], ["/v1/admin/restore/finish", {}]] as const) {
    const res = await copy.fetch("POST", route, { body });
    expect(res.status, `${route}: ${await res.clone().text()}`).toBe(200);
  }
  expect((await copy.mustGet("/kept")).data).toBe("saved");
}, 60_000);

it("moves a mounted shard's leader, waiting to seal it while it holds a part of a multi across shards", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  expect((await zk.mount("/data")).status).toBe(201);
  await zk.mustCreate("/data/lock");
  await zk.mustCreate("/guarded", { data: "0" });
  expect((await zk.get("/data/lock")).status).toBe(200);
  const { mounts } = await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>();
  const shard = mounts.find((m) => m.prefix === "/data")!.shard;
  const dataLeader = env.SHARD.get(env.SHARD.idFromName(`${zk.namespace}/${shard}`)) as unknown as {
    prepareWrites(root: string, caller: unknown, txn: unknown, part: unknown): Promise<{ ok: boolean }>;
    releasePart(txnId: string): Promise<void>;
  };
  // A multi across shards holds /data/lock at the mounted shard's leader (its part checks it): its seal waits for the release.
  const txn = { id: crypto.randomUUID(), startedAt: Date.now(), decider: `${zk.namespace}/root` };
  expect((await dataLeader.prepareWrites("/data", { sessionId: 0, ids: [] }, txn, { op: "multi", ops: [{ op: "check", path: "/data/lock", version: 0 }] })).ok).toBe(true);
  const moving = moveLeader(zk, shard, "apac");
  await eventually("the move waiting at its seal", async () => (await env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace)).movesUnderWay())[shard]?.step === "sealing");
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace)).movesUnderWay())[shard]?.step).toBe("sealing");
  await dataLeader.releasePart(txn.id);
  const moved = await moving;
  expect(moved.status, await moved.clone().text()).toBe(200);
  expect(await moved.json()).toMatchObject({ shard, leader: { region: "apac" } });

  // The fence across shards works with the data's leader moved: all or nothing.
  expect((await zk.multi([{ op: "check", path: "/data/lock", version: 0 }, { op: "setData", path: "/guarded", data: "1" }])).status).toBe(200);
  expect((await zk.set("/data/lock", { data: "taken" })).status).toBe(200);
  await expectKeeperError(await zk.multi([{ op: "check", path: "/data/lock", version: 0 }, { op: "setData", path: "/guarded", data: "2" }]), "BadVersion");
  expect((await zk.mustGet("/guarded")).data).toBe("1");
}, 60_000);

it("keeps what a multi across shards decided through a move of its deciding shard's leader: its part prepared elsewhere applies, and the old leader and the new answer from their rows", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  expect((await zk.mount("/data")).status).toBe(201);
  await zk.mustCreate("/data/x", { data: "0" });
  await zk.mustCreate("/data/y", { data: "0" });
  const { mounts } = await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>();
  const shard = mounts.find((m) => m.prefix === "/data")!.shard;
  type Txn = { id: string; startedAt: number; decider: string; parts?: string[] };
  const stub = <T>(name: string) => env.SHARD.get(env.SHARD.idFromName(name)) as unknown as T;
  type Preparing = { prepareWrites(root: string, caller: unknown, txn: Txn, part: unknown): Promise<{ ok: boolean }> };
  const dataLeader = stub<Preparing>(`${zk.namespace}/${shard}`);
  const oldRoot = stub<Preparing & { execute(root: string, caller: unknown, requests: unknown[]): Promise<{ ok: boolean; notLeader?: boolean }[]>; resolveTxn(txn: string): Promise<string> }>(`${zk.namespace}/root`);
  const anon = { sessionId: 0, ids: [] };
  const multi = (op: unknown) => ({ op: "multi", ops: [op] });
  const txn = (): Txn => ({ id: crypto.randomUUID(), startedAt: Date.now(), decider: `${zk.namespace}/root` });
  const [committed, staged] = [txn(), txn()];
  // Two multis writing on both shards, every part prepared, their router stopped: the root shard's leader applied its part of one, of the other not.
  for (const [t, node, path] of [[committed, "/decided", "/data/x"], [staged, "/staged", "/data/y"]] as const) {
    expect((await dataLeader.prepareWrites("/data", anon, t, multi({ op: "setData", path, data: new TextEncoder().encode("1") }))).ok).toBe(true);
    expect((await oldRoot.prepareWrites("/", anon, { ...t, parts: [`${zk.namespace}/${shard}`] }, multi({ op: "create", path: node }))).ok).toBe(true);
  }
  expect((await oldRoot.execute("/", anon, [{ ...multi({ op: "create", path: "/decided" }), txn: committed }]))[0]!.ok).toBe(true);
  const moved = await moveLeader(zk, "root", "apac");
  expect(moved.status, await moved.clone().text()).toBe(200);
  // The old leader, a replica now, says what it decided from its rows: committed; of one it never saw, it cannot say (it no longer leads).
  expect(await oldRoot.resolveTxn(committed.id)).toBe("committed");
  const unseen = txn();
  expect(await oldRoot.resolveTxn(unseen.id)).toBe("unknown");
  expect((await oldRoot.execute("/", anon, [{ ...multi({ op: "create", path: "/late" }), txn: unseen }]))[0]).toMatchObject({ ok: false, notLeader: true });
  // A prepare it holds the row of, delivered again, is answered from that row: prepared, not "not the leader" (which
  // the router takes for a part never prepared, and runs the multi again while this one may commit). One it holds none of: not the leader.
  expect(await oldRoot.prepareWrites("/", anon, { ...staged, parts: [`${zk.namespace}/${shard}`] }, multi({ op: "create", path: "/staged" }))).toMatchObject({ ok: true });
  expect(await oldRoot.prepareWrites("/", anon, { ...unseen, parts: [`${zk.namespace}/${shard}`] }, multi({ op: "create", path: "/late" }))).toMatchObject({ ok: false, notLeader: true });
  // The new leader says the same from its rows; one it holds no part of it gives up by a logged row, which the old leader,
  // following it, holds too; one whose every part was prepared it commits, having asked the mounted shard.
  const newRoot = stub<{ resolveTxn(txn: string): Promise<string> }>(`${zk.namespace}/root@apac`);
  expect(await newRoot.resolveTxn(committed.id)).toBe("committed");
  expect(await newRoot.resolveTxn(unseen.id)).toBe("aborted");
  await eventually("the old leader holds the logged decision", async () => (await oldRoot.resolveTxn(unseen.id)) === "aborted");
  expect(await newRoot.resolveTxn(staged.id)).toBe("committed");
  expect(await zk.exists("/staged")).toBe(true);
  // The mounted shard applied its parts, once each: every part is there.
  const linearizable = async (path: string) => (await (await zk.get(path, {}, { "X-Edgekeeper-Consistency": "linearizable" })).json<{ data: string; stat: { version: number } }>());
  await eventually("the prepared parts applied", async () => (await linearizable("/data/x")).data === "1" && (await linearizable("/data/y")).data === "1");
  expect((await linearizable("/data/x")).stat.version).toBe(1);
  expect((await linearizable("/data/y")).stat.version).toBe(1);
  expect(await zk.exists("/decided")).toBe(true);
  expect(await zk.exists("/late")).toBe(false);
}, 60_000);
