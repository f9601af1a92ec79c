/**
 * A read replica of a mounted shard serves the subtree its leader serves (the root
 * comes with the leader's snapshot and log, not from the caller), and an unmount's
 * seal reaches it through the log: from then on it answers every read `moved`, as
 * its sealed leader does, and pulls no more.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OPEN_ACL_UNSAFE, type Outcome, type ShardRequest, makeZxid } from "../../protocol/index.ts";
import type { ReplicaReadAnswer } from "../../durable/shard/shard-do.ts";
import { ANON, type ShardStub, bytes, exec, ok } from "../harness/shard.ts";
import { type ShardPair, caughtUp, logZxids, newPair, readAt, rowsOf, znodes } from "../harness/replica.ts";

const MOUNT = "/m";

/** A pair whose leader serves the subtree at MOUNT, holding a few nodes. */
async function mountedPair(): Promise<ShardPair> {
  const pair = newPair();
  await pair.leader.initMount(MOUNT, [...OPEN_ACL_UNSAFE]);
  await ok(pair.leader, ANON, { op: "create", path: `${MOUNT}/a`, data: bytes("a") });
  await ok(pair.leader, ANON, { op: "create", path: `${MOUNT}/a/b`, data: bytes("b") });
  return pair;
}

/** Reads of the subtree, of its root, and of paths outside it. */
const READS: ShardRequest[] = [
  { op: "getData", path: `${MOUNT}/a` },
  { op: "getChildren", path: MOUNT },
  { op: "exists", path: `${MOUNT}/nope` },
  { op: "exists", path: "/" },
  { op: "getData", path: "/elsewhere" },
];

/** Each outcome as the router sees it: moved, an error's name, or the value. */
function shapes(outcomes: Outcome[]): unknown[] {
  return outcomes.map((o) => (o.ok ? o.value : o.moved ? "moved" : o.error.name));
}

/** The replica's answers to `requests` once it has applied `zxid` (it must be ready). */
async function replicaAnswers(pair: ShardPair, zxid: number, requests: ShardRequest[]): Promise<Outcome[]> {
  const answer = await readAt(pair.replica, zxid, requests);
  if (!answer.ready) expect.fail(`the replica applied only ${answer.appliedZxid} of ${zxid}`);
  return answer.outcomes;
}

/** The served-subtree rows of an object's meta. */
function servedRows(stub: ShardStub): Promise<Record<string, SqlStorageValue>[]> {
  return rowsOf(stub, "SELECT key, value FROM meta WHERE key IN ('root', 'sealed') ORDER BY key");
}

function alarmOf(stub: ShardStub): Promise<number | null> {
  return runInDurableObject(stub, (_, state) => state.storage.getAlarm());
}

describe("a read replica of a mounted shard", () => {
  it("created after data, learns its root from the snapshot and serves reads exactly as its leader", async () => {
    const pair = await mountedPair();
    // Past the log's entry bound (64 in the test pool): the log no longer holds the entry that set the root up.
    const requests: ShardRequest[] = Array.from({ length: 70 }, (_, i) => ({ op: "setData", path: `${MOUNT}/a`, data: bytes(`v${i}`) }));
    for (const outcome of await exec(pair.leader, ANON, ...requests)) expect(outcome.ok).toBe(true);
    expect((await logZxids(pair.leader))[0]).toBeGreaterThan(makeZxid(1, 0));

    const zxid = await caughtUp(pair);
    expect(await servedRows(pair.replica)).toEqual([{ key: "root", value: MOUNT }]);
    expect(await znodes(pair.replica)).toEqual(await znodes(pair.leader));
    // The router names the mount's prefix; the harness names "/": either way the replica serves its own root.
    for (const root of [MOUNT, "/"]) {
      // Typed by hand, as the harness's readAt: RPC typing cannot express Outcome's unknown value.
      const answer = (await pair.replica.replicaRead(root, ANON, READS, { minZxid: zxid, waitMs: 0 })) as unknown as ReplicaReadAnswer;
      if (!answer.ready) expect.fail("not ready");
      const atLeader = (await pair.leader.execute(root, ANON, READS)) as Outcome[];
      expect(shapes(answer.outcomes)).toEqual(shapes(atLeader));
    }
    const [data, children, missing, above, outside] = shapes(await replicaAnswers(pair, zxid, READS));
    expect(data).toMatchObject({ data: bytes("v69") });
    expect(children).toMatchObject({ children: ["a"] });
    expect(missing).toEqual({ stat: null });
    expect([above, outside]).toEqual(["moved", "moved"]);
  });

  it("answers every read moved once its leader is sealed for an unmount, and stops pulling", async () => {
    const pair = newPair();
    await pair.leader.initMount(MOUNT, [...OPEN_ACL_UNSAFE]);
    await caughtUp(pair);
    expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: true });

    const sealed = await pair.leader.sealForUnmount(MOUNT);
    expect(sealed.ok).toBe(true);
    // The seal comes through the log, as any write: once applied, the replica answers as its leader does.
    const answers = await replicaAnswers(pair, sealed.zxid, READS);
    expect(shapes(answers)).toEqual(READS.map(() => "moved"));
    expect(shapes((await pair.leader.execute(MOUNT, ANON, READS)) as Outcome[])).toEqual(READS.map(() => "moved"));
    expect(await servedRows(pair.replica)).toEqual(await servedRows(pair.leader));
    // Its pull loop ends at the seal (its leader still answers pulls), and its alarm goes.
    await expect.poll(async () => (await pair.replica.replicaStatus())?.pulling, { timeout: 20_000 }).toBe(false);
    expect(await alarmOf(pair.replica)).toBeNull();

    // Reads of a stale route are still answered moved, and start no pulling, before and after the leader is freed.
    const { pulls } = (await pair.replica.replicaStatus())!;
    await pair.leader.destroy();
    expect(shapes(await replicaAnswers(pair, 0, READS))).toEqual(READS.map(() => "moved"));
    expect(await pair.replica.replicaStatus()).toMatchObject({ pulling: false, pulls });
    expect(await alarmOf(pair.replica)).toBeNull();
  });

  it("that first reads after the seal learns it from the snapshot: it answers moved and does not pull on", async () => {
    const pair = await mountedPair();
    await ok(pair.leader, ANON, { op: "delete", path: `${MOUNT}/a/b` });
    await ok(pair.leader, ANON, { op: "delete", path: `${MOUNT}/a` });
    const sealed = await pair.leader.sealForUnmount(MOUNT);
    expect(sealed.ok).toBe(true);

    expect(shapes(await replicaAnswers(pair, sealed.zxid, READS))).toEqual(READS.map(() => "moved"));
    expect(await servedRows(pair.replica)).toEqual([{ key: "root", value: MOUNT }, { key: "sealed", value: 1 }]);
    await expect.poll(async () => (await pair.replica.replicaStatus())?.pulling, { timeout: 20_000 }).toBe(false);
    // A watchdog alarm left from its start finds nothing to do and clears itself.
    await runDurableObjectAlarm(pair.replica);
    expect(await alarmOf(pair.replica)).toBeNull();
  });
});
