/**
 * Multis writing on two shards, each from a session (so its router runs in the
 * session's host object), while every object is aborted at a random moment of each
 * (workerd-chaos project: leaders in enam, replicas in weur and apac, so each multi
 * takes several simulated round trips to abort in the middle of): each multi ends all
 * or nothing, once the shards have asked its deciding shard about the parts its
 * router left; and each one answered OK is there whole. Pairs of multis crossing two
 * nodes in opposite orders, with aborts, leave them written only together.
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { expect, it } from "vitest";
import { HttpClient } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";
import { sleep } from "../harness/shard.ts";
import { SessionSocket, b64 } from "../harness/socket.ts";
import { Prng } from "../sim/prng.ts";

const ROUNDS = 30;
const CROSSING_ROUNDS = 20;
/** The abort comes this long at most after the multi is sent: its round trips between regions take longer. */
const ABORT_WITHIN_MS = 400;

it("ends every multi writing on two shards all or nothing when every object is aborted during it", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "weur" } });
  expect((await zk.mount("/m")).status).toBe(201);
  const prng = new Prng(20261204);
  const answeredOk: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const socket = await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "weur" });
    const { sessionId } = await socket.open(10_000);
    const [xid] = socket.sendReqs(sessionId, { op: "multi", ops: [{ op: "create", path: `/a-${i}` }, { op: "create", path: `/m/b-${i}` }] });
    void socket.response(sessionId, xid!).then((res) => res.ok && answeredOk.push(i), () => undefined);
    await sleep(prng.int(0, ABORT_WITHIN_MS));
    await abortAllDurableObjects();
    socket.drop();
  }
  // A part its router left is applied or dropped once its shard asks the deciding one (after a second, from its alarm).
  const both = async (i: number) => [await zk.exists(`/a-${i}`), await zk.exists(`/m/b-${i}`)];
  const rounds = Array.from({ length: ROUNDS }, (_, i) => i);
  await eventually("every multi all or nothing", async () => (await Promise.all(rounds.map(both))).every(([a, b]) => a === b), 30_000);
  for (const i of answeredOk) expect(await both(i), `multi ${i} was answered OK`).toEqual([true, true]);
  // Some committed and some did not: the aborts came at different steps.
  const applied = (await Promise.all(rounds.map(both))).filter(([a]) => a).length;
  expect(applied).toBeGreaterThan(0);
  expect(applied).toBeLessThan(ROUNDS);
}, 120_000);

it("keeps two shards' nodes written only together when multis cross them in opposite orders while every object is aborted", async () => {
  const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "weur" } });
  expect((await zk.mount("/m")).status).toBe(201);
  await zk.mustCreate("/a");
  await zk.mustCreate("/m/b");
  const prng = new Prng(20261205);
  const sessions = async () => {
    const socket = await SessionSocket.open(zk.namespace, {}, { "X-Edgekeeper-Region": "weur" });
    return { socket, sessionId: (await socket.open(10_000)).sessionId };
  };
  for (let i = 0; i < CROSSING_ROUNDS; i++) {
    // One decides on the root shard, the other on /m's: each waits for what the other holds.
    const [x, y] = await Promise.all([sessions(), sessions()]);
    x.socket.sendReqs(x.sessionId, { op: "multi", ops: [{ op: "setData", path: "/a", data: b64(`x${i}`) }, { op: "setData", path: "/m/b", data: b64(`x${i}`) }] });
    y.socket.sendReqs(y.sessionId, { op: "multi", ops: [{ op: "setData", path: "/m/b", data: b64(`y${i}`) }, { op: "setData", path: "/a", data: b64(`y${i}`) }] });
    await sleep(prng.int(0, ABORT_WITHIN_MS * 3));
    if (prng.int(0, 1) === 1) await abortAllDurableObjects();
    x.socket.drop();
    y.socket.drop();
  }
  // Every multi applied on both nodes or neither, one after another: both changed as often, last by the same multi.
  const both = async () => [await zk.mustGet("/a"), await zk.mustGet("/m/b")];
  await eventually("the two nodes written together", async () => {
    const [a, b] = await both();
    return a!.stat.version === b!.stat.version && a!.data === b!.data;
  }, 30_000);
  const [a] = await both();
  expect(a!.stat.version).toBeGreaterThan(0);
}, 180_000);
