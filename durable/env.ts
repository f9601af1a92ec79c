/**
 * The bindings and settings the objects and the Worker share (wrangler.toml). The
 * objects parse their settings in one place: durable/base/settings.ts.
 */
import type { DirectoryDO } from "./directory/directory-do.ts";
import type { SessionHost } from "./session/session-host.ts";
import type { ShardDO } from "./shard/shard-do.ts";

export interface EdgekeeperEnv {
  SHARD: DurableObjectNamespace<ShardDO>;
  DIRECTORY: DurableObjectNamespace<DirectoryDO>;
  SESSION_HOST: DurableObjectNamespace<SessionHost>;
  /** The admin bearer token for every namespace; a deployed Worker without any token refuses all. */
  EDGEKEEPER_TOKEN?: string;
  /** Scoped bearer tokens, a JSON list of {token, namespaces, scope} (worker/tokens.ts). */
  EDGEKEEPER_TOKENS?: string;
  /** Most namespaces a deployment holds (default 1,000). */
  EDGEKEEPER_MAX_NAMESPACES?: string;
  /** Most subtrees mounted in one namespace (default 100). */
  EDGEKEEPER_MAX_MOUNTS?: string;
  /** "1" when running locally (npm start, tests): no token needed, loopback only. */
  EDGEKEEPER_LOCAL?: string;
  /**
   * "0": each sessionless HTTP request makes its own shard RPC, rather than sharing
   * one with concurrent requests (worker/app.ts). For runtimes that run a promise's
   * continuations in the context of the request that resolved it (the test pool).
   */
  EDGEKEEPER_SHARED_RPCS?: string;
  /** Comma-separated origins (`https://app.example.com`) whose pages may use the API, with CORS. */
  EDGEKEEPER_ALLOWED_ORIGINS?: string;
  /** Comma-separated host names, besides loopback ones, by which the local API may be reached. */
  EDGEKEEPER_ALLOWED_HOSTS?: string;
  /** "super:BASE64(SHA1(super:password))": the digest identity that passes every ACL. */
  EDGEKEEPER_SUPER_DIGEST?: string;
  /** How long an emptied container waits before it is reaped (ZooKeeper checks every 60 s). */
  EDGEKEEPER_CONTAINER_REAP_MS?: string;
  /** ZooKeeper's tickTime: session timeouts are granted within [2, 20] ticks (default 2000). */
  EDGEKEEPER_TICK_MS?: string;
  /** How many session hosts new sessions spread over, per location (default 4). */
  EDGEKEEPER_HOSTS_PER_LOCATION?: string;
  /** Most sessions the `connections` (cons) admin command lists (default 1,000). */
  EDGEKEEPER_MAX_LISTED_CONNECTIONS?: string;
  /** Which log lines are written: debug, info, warn, error or off (durable/log.ts; default info). */
  EDGEKEEPER_LOG_LEVEL?: string;
  /** About how many bytes of nodes one page of a snapshot save answers (default 1 MiB; at least one node). */
  EDGEKEEPER_SNAPSHOT_PAGE_BYTES?: string;
  /** Most bytes of log entries or snapshot rows in one page a shard's replica pulls (default and limit 1 MiB; at least one). */
  EDGEKEEPER_REPLICATION_PAGE_BYTES?: string;
  /** How long a replica's pull at the head of its shard's log waits for the next write (default 10,000 ms). */
  EDGEKEEPER_REPLICATION_LONG_POLL_MS?: string;
  /** Pulls a replica keeps at its leader at once (default 8, 1-64). */
  EDGEKEEPER_REPLICATION_PULLS_IN_FLIGHT?: string;
  /** How long after its arrival a replica's pull may stream later commits to it (default 10,000 ms, 0-60,000; 0: never). */
  EDGEKEEPER_REPLICATION_STREAM_MS?: string;
  /** Entries a streaming pull keeps pushed and unanswered: each write is pushed at once while fewer are out (default 64, 1-4,096). */
  EDGEKEEPER_REPLICATION_PUSH_ENTRIES?: string;
  /** A replica that has not pulled for this long no longer holds its leader's log back (default 120,000 ms). */
  EDGEKEEPER_REPLICA_LEASE_MS?: string;
  /** How often a read replica's alarm checks that its pull loop runs (default 30,000 ms). */
  EDGEKEEPER_REPLICA_WATCHDOG_MS?: string;
  EDGEKEEPER_REPLICA_IDLE_MS?: string;
  /** How long a geo-tier shard's leader may be silent, to the directory and its sync replicas, before it is failed over (default 20,000 ms; directory/geo-tier.ts). */
  EDGEKEEPER_FAILOVER_DETECT_MS?: string;
  /** "1": session answers carry hop timestamps (protocol/hops.ts), for `npm run bench -- --trace-hops`. Default off. */
  EDGEKEEPER_TRACE_HOPS?: string;
  /** How long a session host's home for a shard stays the leader after its replica fell behind, before the replica is tried again (default 10,000 ms; session-homes.ts). */
  EDGEKEEPER_HOME_RETRY_MS?: string;
  /** The regions simulated on one machine, leader's first (`npm start -- --regions`; durable/base/region-link.ts). Default none. */
  EDGEKEEPER_REGIONS?: string;
  /** Limits (protocol/limits.ts) are read from EDGEKEEPER_MAX_* settings too. */
  [setting: string]: unknown;
}

/** The name of the object that holds `shard` of `namespace`. */
export function shardObjectName(namespace: string, shard: string): string {
  return `${namespace}/${shard}`;
}
