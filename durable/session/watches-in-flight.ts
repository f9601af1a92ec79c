/**
 * Watching requests of a host on their way, per delivery source (a copy's object id,
 * as deliveries are keyed). A copy's notifications (pushed, or riding on the answer
 * to another request) and the answer to a read that set a watch are two RPCs, never
 * ordered: an event for a change just after the read may reach the host before the
 * read's answer has recorded the session's watch, and would then fire for nobody. So
 * notifications from a source wait until every watching request sent there before
 * they arrived has its answer recorded (or has failed); a request sent after they
 * arrived does not hold them. An answer records its own watches before its
 * notifications are taken, so no answer waits for itself.
 *
 * @example
 * const ended = inFlight.begin([sourceKey]); // as the watching read is sent
 * ended(); // its answer recorded, or it failed
 * await inFlight.before(sourceKey); // notifications from sourceKey wait here
 */
export class WatchesInFlight {
  private readonly pending = new Map<string, Set<Promise<void>>>();

  /** A watching request is sent to `sources`; the function returned ends it (calling it again does nothing). */
  begin(sources: readonly string[]): () => void {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    for (const source of sources) {
      let requests = this.pending.get(source);
      if (!requests) this.pending.set(source, (requests = new Set()));
      requests.add(done);
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      for (const source of sources) {
        const requests = this.pending.get(source);
        requests?.delete(done);
        if (requests?.size === 0) this.pending.delete(source);
      }
      resolve();
    };
  }

  /** Resolves once the watching requests to `source` on their way now have ended. */
  async before(source: string): Promise<void> {
    const requests = this.pending.get(source);
    if (requests) await Promise.all([...requests]);
  }
}
