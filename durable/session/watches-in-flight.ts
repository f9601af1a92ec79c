/**
 * Watching requests of a host on their way, per delivery source (a copy's object id,
 * as deliveries are keyed). A shard's push of notifications and the answer to a read
 * that set a watch are two RPCs, never ordered: the push of an event for a change
 * just after the read may reach the host before the read's answer has recorded the
 * session's watch, and would then fire for nobody. So a push from a source waits
 * until every watching request sent there before the push arrived has its answer
 * recorded (or has failed); a request sent after the push arrived does not hold it.
 *
 * @example
 * const ended = inFlight.begin([sourceKey]); // as the watching read is sent
 * ended(); // its answer recorded, or it failed
 * await inFlight.before(sourceKey); // a push from sourceKey waits here
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
