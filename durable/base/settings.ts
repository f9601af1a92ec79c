/**
 * The settings the objects read from their environment (wrangler.toml `[vars]`, or
 * `npm start`'s), each parsed once with its default and its bounds in this one
 * place. Every object class reads them through EdgekeeperObject (`this.settings`);
 * the Worker's own settings (tokens, origins) are the Worker's. Each is documented
 * in docs/api.md; an unset or invalid value keeps its default.
 */
import { type Limits, type LogLevel, limitsFromEnv, traceHopsOn } from "../../protocol/index.ts";
import type { EdgekeeperEnv } from "../env.ts";
import { DEFAULT_REPLICATION_SETTINGS, type ReplicationSettings } from "../replication/core/index.ts";
import { logLevelOf } from "../log.ts";

/** Limits of the session socket protocol; each a setting (docs/api.md). */
export interface SocketLimits {
  /** Largest frame a client may send, in bytes (room for a 1 MiB value as base64 plus JSON). */
  maxFrameBytes: number;
  /** Most messages in one frame. */
  maxMessagesPerFrame: number;
  /** Most sessions one socket may carry. */
  maxSessionsPerSocket: number;
  /** Most sessions one host may hold (so a namespace holds at most this x its hosts). */
  maxSessionsPerHost: number;
  /** Most watches one session may hold. */
  maxWatchesPerSession: number;
  /** Most requests of one session waiting for their answer (ZooKeeper's globalOutstandingLimit is 1000). */
  maxOutstandingPerSession: number;
  /** Most connects (new sessions or resumes) a host takes from one socket per second; more wait. */
  maxConnectsPerSecondPerSocket: number;
  /** Most connects a host takes per second from all its sockets; more wait. */
  maxConnectsPerSecondPerHost: number;
  /** Most connects of one socket waiting their turn; more are refused (Throttled). */
  maxWaitingConnectsPerSocket: number;
}

export const DEFAULT_SOCKET_LIMITS: Readonly<SocketLimits> = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxMessagesPerFrame: 1000,
  maxSessionsPerSocket: 1000,
  maxSessionsPerHost: 20_000,
  maxWatchesPerSession: 10_000,
  maxOutstandingPerSession: 1000,
  maxConnectsPerSecondPerSocket: 100,
  maxConnectsPerSecondPerHost: 500,
  maxWaitingConnectsPerSocket: 250,
};

const SOCKET_SETTINGS: Record<keyof SocketLimits, string> = {
  maxFrameBytes: "EDGEKEEPER_MAX_FRAME_BYTES",
  maxMessagesPerFrame: "EDGEKEEPER_MAX_MESSAGES_PER_FRAME",
  maxSessionsPerSocket: "EDGEKEEPER_MAX_SESSIONS_PER_SOCKET",
  maxSessionsPerHost: "EDGEKEEPER_MAX_SESSIONS_PER_HOST",
  maxWatchesPerSession: "EDGEKEEPER_MAX_WATCHES_PER_SESSION",
  maxOutstandingPerSession: "EDGEKEEPER_MAX_OUTSTANDING_PER_SESSION",
  maxConnectsPerSecondPerSocket: "EDGEKEEPER_MAX_CONNECTS_PER_SECOND_PER_SOCKET",
  maxConnectsPerSecondPerHost: "EDGEKEEPER_MAX_CONNECTS_PER_SECOND_PER_HOST",
  maxWaitingConnectsPerSocket: "EDGEKEEPER_MAX_WAITING_CONNECTS_PER_SOCKET",
};

/** ZooKeeper's tickTime: granted session timeouts lie in [2, 20] ticks. */
export const DEFAULT_TICK_MS = 2_000;
export const DEFAULT_CONTAINER_REAP_MS = 10_000;
export const DEFAULT_MAX_NAMESPACES = 1_000;
export const DEFAULT_MAX_MOUNTS = 100;
export const DEFAULT_MAX_LISTED_CONNECTIONS = 1_000;
export const DEFAULT_SNAPSHOT_PAGE_BYTES = 1024 * 1024;
/** A pull at the head of a shard's log waits this long for the next write before answering empty. */
export const DEFAULT_REPLICATION_LONG_POLL_MS = 10_000;
/** Pulls a replica keeps at its leader at once (each commit answers one), and the most it may be set to. */
export const DEFAULT_REPLICATION_PULLS_IN_FLIGHT = 8;
export const MAX_REPLICATION_PULLS_IN_FLIGHT = 64;
/** Entries a streaming pull keeps pushed and unanswered (each commit leaves at once while fewer are out), and the most it may be set to. */
export const DEFAULT_REPLICATION_PUSH_ENTRIES = 64;
export const MAX_REPLICATION_PUSH_ENTRIES = 4_096;
/** How long after its arrival a replica's pull may stream the commits after it (0: never; the default, its whole long poll), and the most it may be set to. */
export const DEFAULT_REPLICATION_STREAM_MS = DEFAULT_REPLICATION_LONG_POLL_MS;
export const MAX_REPLICATION_STREAM_MS = 60_000;
/** The most bytes of log entries or snapshot rows one pull page carries (at least one is sent). */
export const MAX_REPLICATION_PAGE_BYTES = 1024 * 1024;
/** A read replica's alarm fires this often, to restart its pull loop in a new instance. */
export const DEFAULT_REPLICA_WATCHDOG_MS = 30_000;
/** A geo-tier shard's leader silent this long, to the directory and its sync replicas, is failed over (longer than a restart or a deploy). */
export const DEFAULT_FAILOVER_DETECT_MS = 20_000;
/** A read replica with no read for this long stops pulling (its next read starts it again). */
export const DEFAULT_REPLICA_IDLE_MS = 600_000;

/** What the objects read from their environment, parsed. */
export interface ObjectSettings {
  /** The data model's limits (protocol/limits.ts, EDGEKEEPER_MAX_*). */
  limits: Limits;
  /** The session socket protocol's limits (EDGEKEEPER_MAX_*). */
  socketLimits: SocketLimits;
  /** EDGEKEEPER_TICK_MS: session timeouts are granted within [2, 20] ticks. */
  tickMs: number;
  /** EDGEKEEPER_SUPER_DIGEST: the digest identity that passes every ACL, if any. */
  superDigest: string | undefined;
  /** EDGEKEEPER_TRACE_HOPS: session answers carry hop timestamps (benchmarks only). */
  traceHops: boolean;
  /** EDGEKEEPER_CONTAINER_REAP_MS: how long an emptied container waits before it is reaped (0: at once). */
  containerReapMs: number;
  /** EDGEKEEPER_MAX_NAMESPACES: most namespaces a deployment holds. */
  maxNamespaces: number;
  /** EDGEKEEPER_MAX_MOUNTS: most subtrees mounted in one namespace. */
  maxMounts: number;
  /** EDGEKEEPER_MAX_LISTED_CONNECTIONS: most sessions the `connections` (cons) command lists. */
  maxListedConnections: number;
  /** EDGEKEEPER_SNAPSHOT_PAGE_BYTES: about how many bytes of nodes one page of a snapshot save answers. */
  snapshotPageBytes: number;
  /** EDGEKEEPER_LOG_LEVEL: which log lines are written. */
  logLevel: LogLevel;
  /**
   * A shard's replication log: kept within EDGEKEEPER_CHANGE_LOG_WINDOW entries and
   * EDGEKEEPER_MAX_CHANGE_LOG_BYTES (never past a live replica), pages of
   * EDGEKEEPER_REPLICATION_PAGE_BYTES, long polls of EDGEKEEPER_REPLICATION_LONG_POLL_MS,
   * EDGEKEEPER_REPLICATION_PULLS_IN_FLIGHT pulls out per replica, each streaming for EDGEKEEPER_REPLICATION_STREAM_MS
   * after its arrival with EDGEKEEPER_REPLICATION_PUSH_ENTRIES entries pushed and unanswered at most,
   * replicas live while they pulled within EDGEKEEPER_REPLICA_LEASE_MS.
   */
  replication: ReplicationSettings;
  /** EDGEKEEPER_REPLICA_WATCHDOG_MS: how often a read replica's alarm checks that its pull loop runs. */
  replicaWatchdogMs: number;
  /** EDGEKEEPER_REPLICA_IDLE_MS: a read replica with no read for this long stops pulling and clears its alarm. */
  replicaIdleMs: number;
  /** EDGEKEEPER_FAILOVER_DETECT_MS: how long a geo-tier shard's leader may be silent before the directory fails it over. */
  failoverDetectMs: number;
}

/**
 * A positive integer setting, or its default when unset or invalid.
 *
 * @example
 * positiveSetting(env, "EDGEKEEPER_MAX_MOUNTS", DEFAULT_MAX_MOUNTS);
 */
export function positiveSetting(env: Record<string, unknown>, name: string, fallback: number): number {
  return integerSetting(env, name, fallback, 1, Number.MAX_SAFE_INTEGER);
}

/**
 * A whole-number setting within [min, max], or its default when unset or invalid.
 *
 * @example
 * integerSetting(env, "EDGEKEEPER_SEQUENTIAL_WAIT_MS", 50, 0, 5_000);
 */
export function integerSetting(env: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = Number(env[name]);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : fallback;
}

/** A finite number setting of at least `min` (`strict`: above it), or its default. */
function numberSetting(env: Record<string, unknown>, name: string, fallback: number, min: number, strict: boolean): number {
  const value = Number(env[name]);
  return Number.isFinite(value) && (strict ? value > min : value >= min) ? value : fallback;
}

/** The socket limits from string settings; unset or invalid ones keep their defaults. */
export function socketLimitsFromEnv(env: Record<string, unknown>): SocketLimits {
  const limits: SocketLimits = { ...DEFAULT_SOCKET_LIMITS };
  for (const key of Object.keys(SOCKET_SETTINGS) as (keyof SocketLimits)[]) limits[key] = positiveSetting(env, SOCKET_SETTINGS[key], limits[key]);
  return limits;
}

/**
 * Every setting an object reads, parsed.
 *
 * @example
 * const { limits, tickMs } = settingsFromEnv(env);
 */
export function settingsFromEnv(env: EdgekeeperEnv): ObjectSettings {
  const limits = limitsFromEnv(env);
  return {
    limits,
    socketLimits: socketLimitsFromEnv(env),
    tickMs: numberSetting(env, "EDGEKEEPER_TICK_MS", DEFAULT_TICK_MS, 0, true),
    superDigest: env.EDGEKEEPER_SUPER_DIGEST,
    traceHops: traceHopsOn(env.EDGEKEEPER_TRACE_HOPS),
    containerReapMs: numberSetting(env, "EDGEKEEPER_CONTAINER_REAP_MS", DEFAULT_CONTAINER_REAP_MS, 0, false),
    maxNamespaces: positiveSetting(env, "EDGEKEEPER_MAX_NAMESPACES", DEFAULT_MAX_NAMESPACES),
    maxMounts: positiveSetting(env, "EDGEKEEPER_MAX_MOUNTS", DEFAULT_MAX_MOUNTS),
    maxListedConnections: positiveSetting(env, "EDGEKEEPER_MAX_LISTED_CONNECTIONS", DEFAULT_MAX_LISTED_CONNECTIONS),
    snapshotPageBytes: positiveSetting(env, "EDGEKEEPER_SNAPSHOT_PAGE_BYTES", DEFAULT_SNAPSHOT_PAGE_BYTES),
    logLevel: logLevelOf(env),
    replication: replicationSettingsFromEnv(env, limits),
    replicaWatchdogMs: positiveSetting(env, "EDGEKEEPER_REPLICA_WATCHDOG_MS", DEFAULT_REPLICA_WATCHDOG_MS),
    replicaIdleMs: positiveSetting(env, "EDGEKEEPER_REPLICA_IDLE_MS", DEFAULT_REPLICA_IDLE_MS),
    failoverDetectMs: positiveSetting(env, "EDGEKEEPER_FAILOVER_DETECT_MS", DEFAULT_FAILOVER_DETECT_MS),
  };
}

function replicationSettingsFromEnv(env: EdgekeeperEnv, limits: Limits): ReplicationSettings {
  return {
    ...DEFAULT_REPLICATION_SETTINGS,
    logMaxEntries: limits.changeLogWindow,
    logMaxBytes: limits.maxChangeLogBytes,
    pageMaxBytes: Math.min(positiveSetting(env, "EDGEKEEPER_REPLICATION_PAGE_BYTES", MAX_REPLICATION_PAGE_BYTES), MAX_REPLICATION_PAGE_BYTES),
    longPollMs: positiveSetting(env, "EDGEKEEPER_REPLICATION_LONG_POLL_MS", DEFAULT_REPLICATION_LONG_POLL_MS),
    pullsInFlight: Math.min(positiveSetting(env, "EDGEKEEPER_REPLICATION_PULLS_IN_FLIGHT", DEFAULT_REPLICATION_PULLS_IN_FLIGHT), MAX_REPLICATION_PULLS_IN_FLIGHT),
    pushEntriesInFlight: Math.min(positiveSetting(env, "EDGEKEEPER_REPLICATION_PUSH_ENTRIES", DEFAULT_REPLICATION_PUSH_ENTRIES), MAX_REPLICATION_PUSH_ENTRIES),
    streamMs: integerSetting(env, "EDGEKEEPER_REPLICATION_STREAM_MS", DEFAULT_REPLICATION_STREAM_MS, 0, MAX_REPLICATION_STREAM_MS),
    replicaLeaseMs: positiveSetting(env, "EDGEKEEPER_REPLICA_LEASE_MS", DEFAULT_REPLICATION_SETTINGS.replicaLeaseMs),
  };
}
