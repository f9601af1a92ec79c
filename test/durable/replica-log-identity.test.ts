/**
 * A replica applies only from the log its rows came from. A namespace reset destroys
 * its shards and makes them again under the same names: the leader's new log starts
 * again at zxids the replica has applied from the old one, and the replica must take
 * a snapshot of the new log rather than follow it from its old zxid.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ShardRequest } from "../../protocol/index.ts";
import { ANON, bytes, exec, lastZxid } from "../harness/shard.ts";
import { type ShardPair, caughtUp, createMany, metaOf, newPair, znodes } from "../harness/replica.ts";

/** Frees the leader (as a reset does) and waits until its replica has stopped pulling the freed log. */
async function destroyLeader(pair: ShardPair): Promise<void> {
  await pair.leader.destroy();
  await expect.poll(async () => (await pair.replica.replicaStatus())?.pulling, { timeout: 20_000 }).toBe(false);
}

/** Removes the log identity from an object's replication meta, as meta stored before identities existed. */
async function forgetLogId(pair: ShardPair, which: "leader" | "replica"): Promise<void> {
  await runInDurableObject(pair[which], (_, state) => {
    state.storage.sql.exec("UPDATE replication_meta SET row = json_remove(row, '$.logId')");
  });
}

describe("a replica whose leader is recreated under the same name", () => {
  it("takes a snapshot of the new log, and ends with the new leader's rows, though the new log reaches past its zxid", async () => {
    const pair = newPair();
    await createMany(pair, 12, "old");
    const appliedFromOld = await caughtUp(pair);
    const { logId: oldLogId } = await metaOf(pair.replica);
    expect(oldLogId).toBe((await metaOf(pair.leader)).logId);

    await destroyLeader(pair);
    // The new leader (its root made again at its first request) writes past the zxid the replica applied.
    await createMany(pair, 12 + 5, "new");
    expect(await lastZxid(pair.leader)).toBeGreaterThan(appliedFromOld);

    await caughtUp(pair);
    expect(await znodes(pair.replica)).toEqual(await znodes(pair.leader));
    const { logId } = await metaOf(pair.leader);
    expect(logId).not.toBe(oldLogId);
    expect((await metaOf(pair.replica)).logId).toBe(logId);
  });
});

describe("meta stored before logs had identities", () => {
  it("gets one at the leader's next answer; its replica resyncs once and follows on", async () => {
    const pair = newPair();
    await createMany(pair, 5, "before");
    await caughtUp(pair);
    await forgetLogId(pair, "leader");
    await forgetLogId(pair, "replica");

    await createMany(pair, 3, "after");
    await caughtUp(pair);
    const { logId } = await metaOf(pair.leader);
    expect(logId).toEqual(expect.any(String));
    expect((await metaOf(pair.replica)).logId).toBe(logId);
    expect(await znodes(pair.replica)).toEqual(await znodes(pair.leader));

    // The identity made stays: the replica follows the log from here without another snapshot.
    const { readableZxid } = await metaOf(pair.replica);
    await createMany(pair, 3, "later");
    await caughtUp(pair);
    expect(await metaOf(pair.replica)).toMatchObject({ logId, readableZxid });
    expect(await znodes(pair.replica)).toEqual(await znodes(pair.leader));
  });
});
