/**
 * A namespace's numbers, as its objects answer them: the directory names the shards
 * (its mount table) and the session hosts in use; each answers from counters its
 * writes keep, so a scrape costs one small call per object, whatever the tree's size.
 * Bounded: at most EDGEKEEPER_MAX_MOUNTS + 1 shards, and the hosts sessions were
 * opened on (EDGEKEEPER_HOSTS_PER_LOCATION per location used).
 */
import type { ConnectionStats, HostStats, NamespaceStats, ShardStats } from "../../protocol/index.ts";
import { RegionLink } from "../base/region-link.ts";
import { settingsFromEnv } from "../base/settings.ts";
import { type EdgekeeperEnv, shardObjectName } from "../env.ts";
import { copiesOf } from "../replication/replica-name.ts";
import type { SessionHostApi } from "../session/session-host.ts";
import { type Mount, leaderObjectName } from "./mount-table.ts";

/**
 * Asks the directory, then every shard and session host of `namespace`, at once.
 *
 * @example
 * const stats = await namespaceStats(env, "default"); // { namespace, shards: [...], hosts: [...] }
 */
export async function namespaceStats(env: EdgekeeperEnv, namespace: string): Promise<NamespaceStats> {
  const { mounts, hostNumbers } = await objectsOf(env, namespace);
  const [shards, hosts] = await Promise.all([
    Promise.all(mounts.map(async (mount): Promise<ShardStats> => ({ shard: mount.shard, prefix: mount.prefix, ...(await leaderStub(env, namespace, mount).stats(mount.prefix)) }))),
    Promise.all(hostNumbers.map(async (host): Promise<HostStats> => ({ host, ...(await hostStub(env, namespace, host).stats()) }))),
  ]);
  return { namespace, shards, hosts };
}

/**
 * ZooKeeper's watch summary for `namespace`: sessions holding a watch (each lives on
 * one host), paths watched (each lies on one shard), and watches. A session's watch is
 * held where it reads, at its shard's leader or at the replica in its region, so the
 * paths are counted at each: a path watched from two regions counts once in each, as
 * an ensemble's servers each count the watches of their own clients.
 */
export async function namespaceWatchSummary(env: EdgekeeperEnv, namespace: string): Promise<{ sessions: number; paths: number; watches: number }> {
  const link = RegionLink.at(env);
  const { mounts, hostNumbers } = await objectsOf(env, namespace);
  // Each shard's copy in each region, its leader and its replicas (one not started answers 0).
  const copies = mounts.flatMap(({ shard }) => copiesOf(shardObjectName(namespace, shard), link.regions));
  const [paths, hosts] = await Promise.all([
    Promise.all(copies.map((name) => link.shard(name).watchedPaths())),
    Promise.all(
      hostNumbers.map(async (host) => {
        const stub = hostStub(env, namespace, host);
        const [sessions, { watches }] = await Promise.all([stub.watchingSessions(), stub.stats()]);
        return { sessions, watches };
      }),
    ),
  ]);
  const sum = (values: number[]) => values.reduce((n, v) => n + v, 0);
  return { sessions: sum(hosts.map((h) => h.sessions)), paths: sum(paths), watches: sum(hosts.map((h) => h.watches)) };
}

/**
 * The sessions carried by a socket now, over every host of `namespace`, by id: at
 * most EDGEKEEPER_MAX_LISTED_CONNECTIONS (`truncated` says when there were more).
 */
export async function namespaceConnections(env: EdgekeeperEnv, namespace: string): Promise<{ connections: ConnectionStats[]; truncated: boolean }> {
  const max = settingsFromEnv(env).maxListedConnections;
  const { hostNumbers } = await objectsOf(env, namespace);
  // Each host's first `max + 1` tell whether the whole holds more than `max`.
  const lists = await Promise.all(hostNumbers.map((host) => hostStub(env, namespace, host).connections(max + 1)));
  const all = lists.flat().sort((a, b) => a.sessionId - b.sessionId);
  return { connections: all.slice(0, max), truncated: all.length > max };
}

/** The shards (the mount table) and the session hosts `namespace` has, from its directory. */
async function objectsOf(env: EdgekeeperEnv, namespace: string): Promise<{ mounts: Mount[]; hostNumbers: number[] }> {
  const directory = RegionLink.at(env).directory(namespace);
  const [table, hostNumbers] = await Promise.all([directory.table(), directory.sessionHosts()]);
  return { mounts: table.mounts, hostNumbers };
}

/** The shard's leader, wherever a move put it. */
function leaderStub(env: EdgekeeperEnv, namespace: string, mount: Mount) {
  const link = RegionLink.at(env);
  return link.shard(leaderObjectName(namespace, mount, link.regions));
}

function hostStub(env: EdgekeeperEnv, namespace: string, host: number): SessionHostApi {
  return RegionLink.at(env).host(namespace, host) as unknown as SessionHostApi;
}
