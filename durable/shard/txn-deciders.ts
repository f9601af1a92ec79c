/**
 * How a shard holding part of a multi across shards reaches the other shards of the
 * multi: its decider (replication/core/txn-holds.ts asks it what became of the
 * multi), and the decider the other parts (ShardDO.resolveTxn asks each where its part stands). Each
 * is asked at the copy the router named or, when that copy cannot be reached (its
 * region dark) or cannot say (it no longer leads), at its shard's leader now, as the
 * namespace's directory names it: a move or a failover made that copy lead, and it
 * holds every part and decision the old leader had acknowledged (replicated rows).
 */
import { RegionLink } from "../base/region-link.ts";
import { leaderObjectName } from "../directory/mount-table.ts";
import type { EdgekeeperEnv } from "../env.ts";
import type { PartState, TxnFate } from "../replication/core/index.ts";
import { replicaIdentityOf } from "../replication/replica-name.ts";

/** A copy of a shard holding part of a multi, as asked (`waiter`: see AskDecider in replication/core/txn-holds.ts). */
export interface TxnShard {
  resolveTxn(txnId: string, waiter?: string): Promise<TxnFate>;
  partOfTxn(txnId: string): Promise<PartState>;
}

/** Asks the copy `copyName` of a shard, or its shard's leader now, as the module comment says. */
export type AskTxnShard = <T extends TxnFate | PartState>(copyName: string, ask: (shard: TxnShard) => Promise<T>) => Promise<T | "unknown">;

/** The way to ask shards of a multi, from the shard object named `self`. */
export function askingTxnShards(env: EdgekeeperEnv, self: string): AskTxnShard {
  const link = RegionLink.ofShard(env, self);
  const stub = (name: string) => link.shard(name) as unknown as TxnShard;
  return async (copyName, ask) => {
    const answer = await ask(stub(copyName)).catch(() => "unknown" as const);
    if (answer !== "unknown") return answer;
    const leader = await leaderNowOf(link, copyName).catch(() => undefined);
    return leader === undefined || leader === copyName ? "unknown" : ask(stub(leader)).catch(() => "unknown" as const);
  };
}

/** The object leading the shard whose copy is `copyName` now, as its namespace's directory says (undefined: unmounted). */
async function leaderNowOf(link: RegionLink, copyName: string): Promise<string | undefined> {
  const first = replicaIdentityOf(copyName)?.leader ?? copyName;
  const slash = first.lastIndexOf("/");
  const namespace = first.slice(0, slash);
  const mount = (await link.directory(namespace).table()).mounts.find((m) => m.shard === first.slice(slash + 1));
  return mount && leaderObjectName(namespace, mount, link.regions);
}
