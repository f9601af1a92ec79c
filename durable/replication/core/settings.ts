/** The core's limits; the Durable Object adapter reads them from settings documented in docs/api.md. */
export interface ReplicationSettings {
  /** Log entries kept beyond which the oldest are trimmed, unless a live replica has not applied them yet. */
  logMaxEntries: number;
  /** Bytes of log entries kept, trimmed the same way. */
  logMaxBytes: number;
  /** Bytes of entries, or of snapshot rows, in one pull page (at least one entry is sent). */
  pageMaxBytes: number;
  /** How long a pull at the head of the log waits for the next commit. */
  longPollMs: number;
  /**
   * Pulls a replica keeps at its leader at once, so each commit leaves at once rather
   * than waiting for a pull's return; a streaming pull pushes nothing more while
   * its pushes unanswered hold this many pages' bytes.
   */
  pullsInFlight: number;
  /**
   * Entries a streaming pull keeps pushed and unanswered: while fewer are out, each
   * commit is pushed at once; beyond, commits wait and go together in the next push.
   */
  pushEntriesInFlight: number;
  /**
   * How long after its arrival a pull may stream (0: never; at most until its long
   * poll ends): rather than answering with the first commit it is woken by, it
   * pushes that commit and each after it to its replica, and is answered once this
   * long has passed (pull-streams.ts).
   */
  streamMs: number;
  /** A replica that has not pulled for this long no longer holds the log back (it resyncs by snapshot). */
  replicaLeaseMs: number;
  /** A replica's wait before pulling again after a failed pull. */
  retryMs: number;
}

export const DEFAULT_REPLICATION_SETTINGS: ReplicationSettings = {
  logMaxEntries: 256,
  logMaxBytes: 8 * 1024 * 1024,
  pageMaxBytes: 1024 * 1024,
  longPollMs: 30_000,
  pullsInFlight: 8,
  pushEntriesInFlight: 64,
  streamMs: 30_000,
  replicaLeaseMs: 120_000,
  retryMs: 1_000,
};
