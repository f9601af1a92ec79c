/**
 * ZooKeeper's AdminServer commands (GET /commands/<name> there, /v1/admin/commands/<name>
 * here) in the JSON shapes ZooKeeper 3.8 answers, for scripts written against it:
 * the fields edgekeeper can report truly, for one namespace. Fields of a JVM or a
 * disk (file descriptors, fsync, snapshot times) are left out rather than made up.
 */
import { type ConnectionStats, type NamespaceStats, SERVER_VERSION, totalsOf } from "../../protocol/index.ts";

type Json = Record<string, unknown>;

/** Command names and the aliases ZooKeeper accepts, to the command's canonical name. */
const NAMES: Record<string, string> = {
  monitor: "monitor",
  mntr: "monitor",
  stats: "stats",
  stat: "stats",
  server_stats: "server_stats",
  srvr: "server_stats",
  watch_summary: "watch_summary",
  wchs: "watch_summary",
  ruok: "ruok",
  connections: "connections",
  cons: "connections",
};

/** The canonical name of a command, or undefined for one not answered. */
export function adminCommandName(name: string): string | undefined {
  return Object.hasOwn(NAMES, name) ? NAMES[name] : undefined;
}

/** `watch_summary` (wchs): sessions holding a watch, paths watched, watches. */
export function watchSummaryCommand(summary: { sessions: number; paths: number; watches: number }): Json {
  return { num_connections: summary.sessions, num_paths: summary.paths, num_total_watches: summary.watches, command: "watch_summary", error: null };
}

/**
 * `connections` (cons): the sessions on a socket now, with the fields ZooKeeper's
 * connection entries have that edgekeeper knows (no port, packets or per-session
 * latency); `truncated` (edgekeeper's) when the list was cut at its limit.
 */
export function connectionsCommand(list: { connections: ConnectionStats[]; truncated: boolean }): Json {
  return {
    connections: list.connections.map((c) => ({ remote_socket_address: c.remote, session_id: c.sessionId, session_timeout: c.timeoutMs, last_cxid: c.lastCxid })),
    secure_connections: [],
    ...(list.truncated ? { truncated: true } : {}),
    command: "connections",
    error: null,
  };
}

function latency(stats: NamespaceStats) {
  const l = totalsOf(stats).latency;
  return { avg_latency: l.count === 0 ? 0 : l.total / l.count, max_latency: l.max, min_latency: l.min };
}

function serverStats(stats: NamespaceStats): Json {
  const t = totalsOf(stats);
  return {
    server_state: "standalone",
    last_processed_zxid: stats.shards.find((s) => s.prefix === "/")?.lastZxid ?? 0,
    outstanding_requests: t.outstandingRequests,
    ...latency(stats),
    num_alive_client_connections: t.connectedSessions,
  };
}

/**
 * The answer to a command made of the namespace's numbers (monitor, stats,
 * server_stats), as ZooKeeper's CommandResponse: its fields,
 * then `command` and `error` (null).
 *
 * @example
 * adminCommand("monitor", stats); // { version, server_state, znode_count, ..., command: "monitor", error: null }
 */
export function adminCommand(command: string, stats: NamespaceStats): Json {
  return { ...commandFields(command, stats), command, error: null };
}

function commandFields(command: string, stats: NamespaceStats): Json {
  const t = totalsOf(stats);
  switch (command) {
    case "monitor":
      return {
        version: SERVER_VERSION,
        server_state: "standalone",
        ephemerals_count: t.ephemeralsCount,
        num_alive_connections: t.connectedSessions,
        ...latency(stats),
        outstanding_requests: t.outstandingRequests,
        znode_count: t.znodeCount,
        global_sessions: t.sessions,
        local_sessions: 0,
        watch_count: t.watchCount,
        approximate_data_size: t.approximateDataSize,
        // edgekeeper's own: zxids are per shard.
        shards: stats.shards.map((s) => ({ shard: s.shard, prefix: s.prefix, znode_count: s.nodes, ephemerals_count: s.ephemerals, approximate_data_size: s.dataBytes, last_zxid: s.lastZxid })),
        session_hosts: stats.hosts.map((h) => ({ host: h.host, global_sessions: h.sessions, num_alive_connections: h.connectedSessions, watch_count: h.watches, outstanding_requests: h.outstanding })),
      };
    case "stats":
    case "server_stats":
      return { version: SERVER_VERSION, read_only: false, server_stats: serverStats(stats), node_count: t.znodeCount };
    default:
      return {};
  }
}
