/**
 * The namespace's numbers for the four-letter words (stat, srvr, mntr), asked of the
 * Worker's `monitor` admin command: the bridge holds no data, so node counts, data
 * size, sessions and watches come from the shards and session hosts. The command
 * needs the admin right: with a token that lacks it (or a Worker that does not
 * answer within a second or two) the words report what the bridge itself knows.
 */

/** The fields of the monitor command the four-letter words use. */
export interface UpstreamMonitor {
  znode_count: number;
  ephemerals_count: number;
  approximate_data_size: number;
  watch_count: number;
  global_sessions: number;
  outstanding_requests: number;
  shards: { shard: string; prefix: string; last_zxid: number }[];
}

const MONITOR_TIMEOUT_MS = 2_000;

/**
 * @example
 * const monitor = await fetchMonitor({ url: "http://127.0.0.1:8787", namespace: "default" });
 */
export async function fetchMonitor(options: { url: string; namespace: string; token?: string }): Promise<UpstreamMonitor> {
  const headers: Record<string, string> = { "X-Edgekeeper-Namespace": options.namespace };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const res = await fetch(new URL("/v1/admin/commands/monitor", options.url), { headers, signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`the Worker's monitor command answered ${res.status}`);
  }
  return res.json() as Promise<UpstreamMonitor>;
}
