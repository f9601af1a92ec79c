/**
 * Hop tracing, for the benchmark only (`npm start -- --trace-hops`, setting
 * EDGEKEEPER_TRACE_HOPS=1): each `res` then carries when the session host took the
 * request's frame, began running it, and answered it, so that one request's time
 * can be split by hop. With tracing off nothing is stamped and nothing extra is sent.
 *
 * All stamps are milliseconds since the epoch on one machine. In workerd the clock
 * only moves across I/O, so the host's stamps are taken where an event begins or an
 * await returns: `in` when the frame's event began, `run` when the request's turn in
 * the session's pipeline came, `out` when the shard's answer came back (the shard's
 * own work, its SQLite statements and commit are one figure, `out - run`: no clock
 * moves inside them).
 */
export interface HostHops {
  in: number;
  run: number;
  out: number;
}

/** A traced request as the relaying side saw it, stamps in milliseconds since the epoch. */
export interface HopRecord {
  /** The request was issued (client) or its packet read (bridge). */
  sent: number;
  /** Its answer reached the client (or was written to the ZooKeeper client by the bridge). */
  received: number;
  /**
   * Bridge only: `in`, when the request left the bridge for the session host (its
   * link's frame was sent); `out`, when the host's answer was back at the bridge's
   * connection (its link's frame read). The bridge's own time is `in - sent` plus
   * `received - out`: decoding, planning, waiting for the link's flush, encoding.
   */
  bridge?: { in: number; out: number };
  host: HostHops;
}

/** Whether a setting value turns tracing on ("1" or "true"). */
export const traceHopsOn = (value: string | undefined): boolean => value === "1" || value === "true";

/**
 * Now, in milliseconds since the epoch, comparable across processes of one machine
 * (sub-millisecond where the runtime allows it; in workerd, Date.now()'s frozen clock).
 */
export const hopClock = (): number => performance.timeOrigin + performance.now();
