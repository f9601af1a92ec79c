/**
 * The numbers a namespace reports to monitors (GET /metrics, the admin commands,
 * the four-letter words), as the objects answer them: each shard its tree's
 * counters and last zxid, each session host its sessions, watches, requests in
 * flight and request latency.
 */

/** The ZooKeeper version edgekeeper answers as (four-letter words, admin commands). */
export const SERVER_VERSION = "3.8.0-edgekeeper";

/** One shard's tree, from counters its writes keep (durable/shard/schema.ts). */
export interface ShardStats {
  /** The object's name within the namespace: `root`, or a mount's shard. */
  shard: string;
  /** The subtree it serves. */
  prefix: string;
  nodes: number;
  ephemerals: number;
  /** Each node's path length plus its data's bytes, as ZooKeeper's approximate_data_size. */
  dataBytes: number;
  lastZxid: number;
}

/** The upper bounds (ms) of the latency histogram's buckets; one more bucket holds the rest. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/**
 * Request latency in ms, as ZooKeeper's min/avg/max (`total / count` is the average),
 * and a histogram: `buckets[i]` counts requests that took at most LATENCY_BUCKETS_MS[i]
 * (and more than the bound before); the last, one longer, counts the slower ones.
 * Histograms of several hosts add up exactly, which quantiles would not.
 */
export interface LatencyStats {
  min: number;
  max: number;
  total: number;
  count: number;
  buckets: number[];
}

/** The histogram bucket a latency falls in. */
export function latencyBucket(ms: number): number {
  const index = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? LATENCY_BUCKETS_MS.length : index;
}

/** One session host: its sessions and their watches, and the requests it ran since it started. */
export interface HostStats {
  /** The host number (a session id names its host: id / 2^32). */
  host: number;
  sessions: number;
  /** Sessions carried by a socket now (the rest wait for a resume, or are HTTP leases). */
  connectedSessions: number;
  watches: number;
  /** Requests received and not yet answered. */
  outstanding: number;
  latency: LatencyStats;
}

/** A session carried by a socket now, as ZooKeeper's `cons` lists a connection. */
export interface ConnectionStats {
  /** The client's address (the Worker sees no port). */
  remote: string;
  sessionId: number;
  timeoutMs: number;
  lastCxid: number;
}

/** A namespace's numbers: every shard of its mount table, every session host it has used. */
export interface NamespaceStats {
  namespace: string;
  shards: ShardStats[];
  hosts: HostStats[];
}

/** An empty latency record (min is 0 until a request is timed, as ZooKeeper shows it). */
export function emptyLatency(): LatencyStats {
  return { min: 0, max: 0, total: 0, count: 0, buckets: Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
}

/** Latencies of several sources taken together. */
export function combineLatency(all: readonly LatencyStats[]): LatencyStats {
  const timed = all.filter((l) => l.count > 0);
  if (timed.length === 0) return emptyLatency();
  return {
    min: Math.min(...timed.map((l) => l.min)),
    max: Math.max(...timed.map((l) => l.max)),
    total: timed.reduce((n, l) => n + l.total, 0),
    count: timed.reduce((n, l) => n + l.count, 0),
    buckets: emptyLatency().buckets.map((_, i) => timed.reduce((n, l) => n + (l.buckets[i] ?? 0), 0)),
  };
}

/** The totals a ZooKeeper server's mntr reports, summed over a namespace. */
export interface NamespaceTotals {
  znodeCount: number;
  ephemeralsCount: number;
  approximateDataSize: number;
  watchCount: number;
  sessions: number;
  connectedSessions: number;
  outstandingRequests: number;
  latency: LatencyStats;
}

export function totalsOf(stats: NamespaceStats): NamespaceTotals {
  const sum = <T>(items: readonly T[], of: (item: T) => number) => items.reduce((n, item) => n + of(item), 0);
  return {
    znodeCount: sum(stats.shards, (s) => s.nodes),
    ephemeralsCount: sum(stats.shards, (s) => s.ephemerals),
    approximateDataSize: sum(stats.shards, (s) => s.dataBytes),
    watchCount: sum(stats.hosts, (h) => h.watches),
    sessions: sum(stats.hosts, (h) => h.sessions),
    connectedSessions: sum(stats.hosts, (h) => h.connectedSessions),
    outstandingRequests: sum(stats.hosts, (h) => h.outstanding),
    latency: combineLatency(stats.hosts.map((h) => h.latency)),
  };
}
