/**
 * How a shard holding part of a multi across shards reaches the copy that decides it
 * (check-holds.ts asks it what became of the multi): the copy its router named, or,
 * when that copy cannot be reached (its region dark), its shard's leader now, as the
 * namespace's directory names it. A failover made that copy lead, and it holds every
 * decision the old leader had acknowledged (the decisions are replicated rows); it
 * gives up one it holds none of (ShardDO.resolveTxn).
 */
import { RegionLink } from "../base/region-link.ts";
import { leaderObjectName } from "../directory/mount-table.ts";
import type { EdgekeeperEnv } from "../env.ts";
import { replicaIdentityOf } from "../replication/replica-name.ts";
import type { AskDecider, TxnFate } from "./check-holds.ts";

/** A copy of the deciding shard, as asked (`decider`: the copy the router named; `waiter`: see AskDecider). */
interface TxnDecider {
  resolveTxn(txnId: string, decider?: string, waiter?: string): Promise<TxnFate>;
}

/** CheckHolds' way to ask deciders, from the shard object named `self`. */
export function askingDeciders(env: EdgekeeperEnv, self: string): AskDecider {
  const link = RegionLink.ofShard(env, self);
  return async (decider, txn, waiter) => {
    const ask = (name: string) => (link.shard(name) as unknown as TxnDecider).resolveTxn(txn, decider, waiter);
    try {
      return await ask(decider);
    } catch {
      const leader = await leaderNowOf(link, decider).catch(() => undefined);
      return leader === undefined || leader === decider ? "unknown" : ask(leader);
    }
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
