/**
 * The namespace's numbers for the four-letter words (stat, srvr, mntr, wchs), asked
 * of the Worker's admin commands (`monitor`, `watch_summary`): the bridge holds no
 * data, so node counts, data size, sessions and watches come from the shards and
 * session hosts. The commands need the admin right: with a token that lacks it (or a
 * Worker that does not answer within 2 s) the words report what the bridge knows.
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

/** The fields of the watch_summary command wchs uses. */
export interface UpstreamWatchSummary {
  num_connections: number;
  num_paths: number;
  num_total_watches: number;
}

/** What each command answers, as far as the words use it. */
export interface UpstreamCommands {
  monitor: UpstreamMonitor;
  watch_summary: UpstreamWatchSummary;
}

const COMMAND_TIMEOUT_MS = 2_000;

/**
 * @example
 * const monitor = await fetchAdminCommand({ url: "http://127.0.0.1:8787", namespace: "default" }, "monitor");
 */
export async function fetchAdminCommand<K extends keyof UpstreamCommands>(options: { url: string; namespace: string; token?: string }, command: K): Promise<UpstreamCommands[K]> {
  const headers: Record<string, string> = { "X-Edgekeeper-Namespace": options.namespace };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const res = await fetch(new URL(`/v1/admin/commands/${command}`, options.url), { headers, signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`the Worker's ${command} command answered ${res.status}`);
  }
  return res.json() as Promise<UpstreamCommands[K]>;
}
