/**
 * What a session host reports to monitors: its sessions and their watches, kept as
 * counters by the writes that change them (durable/base/row-counters.ts), and the
 * requests it runs, timed in memory from receipt to answer (as ZooKeeper's server
 * statistics, they start again when the object does).
 */
import { type LatencyStats, emptyLatency, latencyBucket } from "../../protocol/index.ts";
import { type RowCounter, counterTriggers, initializeCounters, readCounters } from "../base/row-counters.ts";

const SESSION_COUNTERS: readonly RowCounter[] = [
  { key: "session_count", perRow: "ROW.state = 'open'" },
  { key: "connected_session_count", perRow: "ROW.state = 'open' AND ROW.socket_id IS NOT NULL" },
];
const WATCH_COUNTERS: readonly RowCounter[] = [{ key: "watch_count", perRow: "1" }];

/** Sets up the counters, once the sessions and session_watches tables exist. */
export function initializeHostCounters(sql: SqlStorage): void {
  for (const trigger of counterTriggers("sessions", SESSION_COUNTERS, ["state", "socket_id"])) sql.exec(trigger);
  for (const trigger of counterTriggers("session_watches", WATCH_COUNTERS)) sql.exec(trigger);
  initializeCounters(sql, "sessions", SESSION_COUNTERS);
  initializeCounters(sql, "session_watches", WATCH_COUNTERS);
}

export function readHostCounters(sql: SqlStorage): { sessions: number; connectedSessions: number; watches: number } {
  const c = readCounters(sql, ["session_count", "connected_session_count", "watch_count"]);
  return { sessions: c.session_count, connectedSessions: c.connected_session_count, watches: c.watch_count };
}

/** Requests in flight and their latency, from receipt to answer. */
export class RequestStats {
  outstanding = 0;
  readonly latency: LatencyStats = emptyLatency();

  /** Counts `requests` received now; call the answer when they are answered. */
  begin(requests: number): () => void {
    const started = Date.now();
    this.outstanding += requests;
    return () => {
      this.outstanding -= requests;
      if (requests === 0) return;
      const ms = Date.now() - started;
      const l = this.latency;
      l.min = l.count === 0 ? ms : Math.min(l.min, ms);
      l.max = Math.max(l.max, ms);
      l.total += ms * requests;
      l.count += requests;
      l.buckets[latencyBucket(ms)]! += requests;
    };
  }
}
