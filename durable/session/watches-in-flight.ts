/**
 * Watching requests of a host on their way, per delivery source (a copy's object id,
 * as deliveries are keyed). A copy's notifications (pushed, or riding on the answer
 * to another request) and the answer to a read that set a watch are two RPCs, never
 * ordered: an event for a change just after the read may reach the host before the
 * read's answer has recorded the session's watch, and would then fire for nobody. So
 * notifications from a source wait until every watching request sent there before
 * they arrived has its answer recorded (or has failed); a request sent after they
 * arrived does not hold them. An answer's own notifications, taken before it records
 * its watches (they are at or below its zxid, and may fire the watches it sets
 * again), wait for every other request but not for it.
 *
 * @example
 * const ended = inFlight.begin([sourceKey]); // as the watching read is sent
 * ended(); // its answer recorded, or it failed
 * await inFlight.before(sourceKey); // notifications from sourceKey wait here
 * await inFlight.before(sourceKey, ended); // those riding on that request's own answer
 */
export class WatchesInFlight {
  /** Per source, each request's end function and the promise it resolves. */
  private readonly pending = new Map<string, Map<() => void, Promise<void>>>();

  /** A watching request is sent to `sources`; the function returned ends it (calling it again does nothing). */
  begin(sources: readonly string[]): () => void {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      for (const source of sources) {
        const requests = this.pending.get(source);
        requests?.delete(end);
        if (requests?.size === 0) this.pending.delete(source);
      }
      resolve();
    };
    for (const source of sources) {
      let requests = this.pending.get(source);
      if (!requests) this.pending.set(source, (requests = new Map()));
      requests.set(end, done);
    }
    return end;
  }

  /** Resolves once the watching requests to `source` on their way now have ended, but for the one `except` ends. */
  async before(source: string, except?: () => void): Promise<void> {
    const requests = this.pending.get(source);
    if (requests) await Promise.all([...requests].filter(([end]) => end !== except).map(([, done]) => done));
  }
}
