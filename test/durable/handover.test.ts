/**
 * A handover between real shard objects, driven step by step through their RPCs as
 * the directory drives a planned move (core/handover.ts): the leader seals, its
 * replica takes over the next epoch, the old leader follows it. The role is the one
 * each object's storage says, whatever its name: the replica's name no longer makes
 * it a replica once it leads, nor the leader's a leader once it follows.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { zxidEpoch } from "../../protocol/index.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { ANON, type ShardStub, bytes, exec, lastZxid, ok, run, session, text } from "../harness/shard.ts";
import { caughtUp, metaOf, newPair, readAt, stubsOf, znodes } from "../harness/replica.ts";

/** Stubs typed for the handover's calls (RPC typing cannot express their unions). */
interface HandoverStub {
  seal(epoch: number): Promise<number | { kind: "fenced"; role: string; epoch: number; leader?: string }>;
  takeOver(epoch: number, sealedZxid: number, waitMs: number): Promise<"led" | "behind" | { kind: "fenced"; role: string }>;
  follow(leader: string, epoch: number): Promise<true | { kind: "fenced"; role: string }>;
  reopen(epoch: number): Promise<"led" | { kind: "fenced"; role: string }>;
}
const calls = (stub: ShardStub): HandoverStub => stub as unknown as HandoverStub;

describe("a handover between a shard's leader and its replica", () => {
  it("moves the leader lossless: the old one seals, the replica leads the next epoch with every write and reply, the old one follows it", async () => {
    const pair = newPair();
    const newLeaderName = replicaObjectName(pair.leaderName, "weur");
    await ok(pair.leader, ANON, { op: "create", path: "/a", data: bytes("1") });
    // A session's write whose reply the new leader must hold: retried there, it is answered, not run again.
    const first = await run(pair.leader, session(0x61), { op: "create", path: "/s-", mode: "PERSISTENT_SEQUENTIAL", cxid: 7 });
    expect(first.ok).toBe(true);
    await caughtUp(pair);

    const sealed = await calls(pair.leader).seal(2);
    expect(sealed).toBe(await lastZxid(pair.leader));
    // Sealed, it writes nothing and says so; a retried seal answers the same zxid.
    const refused = await run(pair.leader, ANON, { op: "create", path: "/late" });
    expect(!refused.ok && refused.notLeader).toBe(true);
    expect(await calls(pair.leader).seal(2)).toBe(sealed);

    expect(await calls(pair.replica).takeOver(2, sealed as number, 5_000)).toBe("led");
    expect(await calls(pair.replica).takeOver(2, sealed as number, 5_000)).toBe("led");
    const retried = await run(pair.replica, session(0x61), { op: "create", path: "/s-", mode: "PERSISTENT_SEQUENTIAL", cxid: 7 });
    expect(retried).toEqual(first);
    await ok(pair.replica, ANON, { op: "setData", path: "/a", data: bytes("2") });
    const written = await lastZxid(pair.replica);
    expect(zxidEpoch(written)).toBe(2);
    expect((await metaOf(pair.replica)).role).toBe("leader");

    expect(await calls(pair.leader).follow(newLeaderName, 2)).toBe(true);
    expect((await metaOf(pair.leader)).role).toBe("replica");
    const stillRefused = await run(pair.leader, ANON, { op: "create", path: "/late" });
    expect(!stillRefused.ok && stillRefused.notLeader).toBe(true);
    // The old leader reads as a replica of the new one, up to its newest write.
    const read = await readAt(pair.leader, written, [{ op: "getData", path: "/a" }]);
    expect(read.ready).toBe(true);
    if (read.ready && read.outcomes[0]!.ok) expect(text((read.outcomes[0]!.value as { data: Uint8Array }).data)).toBe("2");
    expect(await znodes(pair.leader)).toEqual(await znodes(pair.replica));
    const children = await ok(pair.replica, ANON, { op: "getChildren", path: "/" });
    expect(children.children.filter((c) => c.startsWith("s-"))).toHaveLength(1);
  });

  it("a replica of the old leader follows the new one, named in the old leader's fenced answer", async () => {
    const pair = newPair();
    const third = env.SHARD.get(env.SHARD.idFromName(replicaObjectName(pair.leaderName, "apac")));
    await ok(pair.leader, ANON, { op: "create", path: "/a" });
    expect((await readAt(third, await lastZxid(pair.leader))).ready).toBe(true);
    const sealed = (await calls(pair.leader).seal(2)) as number;
    expect(await calls(pair.replica).takeOver(2, sealed, 5_000)).toBe("led");
    expect(await calls(pair.leader).follow(replicaObjectName(pair.leaderName, "weur"), 2)).toBe(true);
    await ok(pair.replica, ANON, { op: "create", path: "/after" });
    const answer = await readAt(third, await lastZxid(pair.replica), [{ op: "exists", path: "/after" }]);
    expect(answer.ready).toBe(true);
    expect((await third.replicaStatus())?.leader).toBe(replicaObjectName(pair.leaderName, "weur"));
  });

  it("the leader answers reads addressed to its region's copy at once, and a sealed one sends them to the leader", async () => {
    const pair = newPair();
    await ok(pair.leader, ANON, { op: "create", path: "/a" });
    const zxid = await lastZxid(pair.leader);
    expect(await readAt(pair.leader, zxid, [{ op: "exists", path: "/a" }], 0)).toMatchObject({ ready: true, zxid, msSinceContact: 0 });
    await calls(pair.leader).seal(2);
    expect(await readAt(pair.leader, zxid, [{ op: "exists", path: "/a" }], 0)).toMatchObject({ ready: false, appliedZxid: zxid });
  });

  it("an abandoned move leaves the old leader leading the epoch it was sealed for, and a late takeOver of it is refused", async () => {
    const pair = newPair();
    await ok(pair.leader, ANON, { op: "create", path: "/a" });
    await caughtUp(pair);
    const sealed = (await calls(pair.leader).seal(2)) as number;
    expect(await calls(pair.leader).reopen(2)).toBe("led");
    await ok(pair.leader, ANON, { op: "create", path: "/b" });
    expect(await calls(pair.replica).takeOver(2, sealed, 0)).toMatchObject({ kind: "fenced" });
    // Its replica goes on following it, into the reopened epoch.
    expect((await readAt(pair.replica, await lastZxid(pair.leader), [{ op: "exists", path: "/b" }])).ready).toBe(true);
  });

  it("after a restart of each, the new leader still leads and the old one resumes following it from its alarm", async () => {
    const pair = newPair();
    await ok(pair.leader, ANON, { op: "create", path: "/a" });
    await caughtUp(pair);
    const sealed = (await calls(pair.leader).seal(2)) as number;
    await calls(pair.replica).takeOver(2, sealed, 5_000);
    await calls(pair.leader).follow(replicaObjectName(pair.leaderName, "weur"), 2);
    for (const stub of [pair.leader, pair.replica]) await runInDurableObject(stub, (_, state) => state.abort("test")).catch(() => undefined);
    Object.assign(pair, stubsOf(pair.leaderName));
    await ok(pair.replica, ANON, { op: "create", path: "/after-restart" });
    // Nothing reads the old leader: its watchdog alarm alone starts its pulling again.
    await runDurableObjectAlarm(pair.leader);
    const answer = await readAt(pair.leader, await lastZxid(pair.replica), [{ op: "exists", path: "/after-restart" }]);
    expect(answer.ready).toBe(true);
    const [outcome] = await exec(pair.leader, ANON, { op: "create", path: "/x" });
    expect(!outcome!.ok && outcome!.notLeader).toBe(true);
  });
});
