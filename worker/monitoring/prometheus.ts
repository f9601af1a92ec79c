/**
 * A namespace's numbers in Prometheus' text format (version 0.0.4): ZooKeeper
 * 3.6+'s metric names where one exists (its PrometheusMetricsProvider's), so its
 * dashboards and alerts work unchanged, then edgekeeper's own per shard and per
 * session host, prefixed `edgekeeper_`. Labels name the namespace, shards and
 * mounted prefixes: only callers with the admin right get here.
 */
import { LATENCY_BUCKETS_MS, type LatencyStats, type NamespaceStats, totalsOf } from "../../protocol/index.ts";

type Labels = Record<string, string | number>;

/** A label value escaped as the format requires (backslash, quote, newline). */
const escape = (value: string) => value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

const labelText = (labels: Labels) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escape(String(v))}"`)
    .join(",")}}`;

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: "gauge" | "counter", help: string, samples: [Labels, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labelText(labels)} ${value}`);
  }

  /** A histogram: cumulative `_bucket{le}` counts, `_sum` and `_count`. */
  histogram(name: string, help: string, samples: [Labels, LatencyStats][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const [labels, l] of samples) {
      let cumulative = 0;
      l.buckets.forEach((n, i) => {
        cumulative += n;
        const le = i < LATENCY_BUCKETS_MS.length ? String(LATENCY_BUCKETS_MS[i]) : "+Inf";
        this.lines.push(`${name}_bucket${labelText({ ...labels, le })} ${cumulative}`);
      });
      this.lines.push(`${name}_sum${labelText(labels)} ${l.total}`, `${name}_count${labelText(labels)} ${l.count}`);
    }
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/**
 * @example
 * renderPrometheus(await namespaceStats(env, "default"));
 * // # HELP znode_count ...\n# TYPE znode_count gauge\nznode_count{namespace="default"} 4 ...
 */
export function renderPrometheus(stats: NamespaceStats): string {
  const out = new Exposition();
  const ns = { namespace: stats.namespace };
  const t = totalsOf(stats);
  const avg = t.latency.count === 0 ? 0 : t.latency.total / t.latency.count;
  out.family("znode_count", "gauge", "Nodes in the namespace's tree, every shard", [[ns, t.znodeCount]]);
  out.family("ephemerals_count", "gauge", "Ephemeral nodes", [[ns, t.ephemeralsCount]]);
  out.family("approximate_data_size", "gauge", "Sum over nodes of path length plus data bytes", [[ns, t.approximateDataSize]]);
  out.family("watch_count", "gauge", "Watches held by sessions", [[ns, t.watchCount]]);
  out.family("global_sessions", "gauge", "Open sessions", [[ns, t.sessions]]);
  out.family("num_alive_connections", "gauge", "Sessions carried by a socket now", [[ns, t.connectedSessions]]);
  out.family("outstanding_requests", "gauge", "Requests received by session hosts and not yet answered", [[ns, t.outstandingRequests]]);
  out.family("min_latency", "gauge", "Fastest request, ms, since the session hosts started", [[ns, t.latency.min]]);
  out.family("avg_latency", "gauge", "Mean request latency, ms, since the session hosts started", [[ns, avg]]);
  out.family("max_latency", "gauge", "Slowest request, ms, since the session hosts started", [[ns, t.latency.max]]);
  out.histogram("edgekeeper_request_latency_ms", "Request latency at the session hosts, receipt to answer, ms", [[ns, t.latency]]);

  const shard = (s: NamespaceStats["shards"][number]) => ({ ...ns, shard: s.shard, prefix: s.prefix });
  out.family("edgekeeper_shard_znode_count", "gauge", "Nodes a shard holds (a mount point counts in its own shard)", stats.shards.map((s) => [shard(s), s.nodes]));
  out.family("edgekeeper_shard_ephemerals_count", "gauge", "Ephemeral nodes a shard holds", stats.shards.map((s) => [shard(s), s.ephemerals]));
  out.family("edgekeeper_shard_approximate_data_size", "gauge", "Path lengths plus data bytes of a shard's nodes", stats.shards.map((s) => [shard(s), s.dataBytes]));
  out.family("edgekeeper_shard_last_zxid", "gauge", "A shard's last committed zxid (zxids are per shard)", stats.shards.map((s) => [shard(s), s.lastZxid]));

  const host = (h: NamespaceStats["hosts"][number]) => ({ ...ns, host: h.host });
  out.family("edgekeeper_host_sessions", "gauge", "Open sessions a session host holds", stats.hosts.map((h) => [host(h), h.sessions]));
  out.family("edgekeeper_host_connected_sessions", "gauge", "Sessions of a host carried by a socket now", stats.hosts.map((h) => [host(h), h.connectedSessions]));
  out.family("edgekeeper_host_watch_count", "gauge", "Watches a host's sessions hold", stats.hosts.map((h) => [host(h), h.watches]));
  out.family("edgekeeper_host_outstanding_requests", "gauge", "Requests a host received and has not answered", stats.hosts.map((h) => [host(h), h.outstanding]));
  out.histogram("edgekeeper_host_request_latency_ms", "Request latency at a host, receipt to answer, ms, since it started", stats.hosts.map((h) => [host(h), h.latency]));
  return out.text();
}
