/**
 * Watching requests of a host on their way, per delivery source (a copy's object id,
 * as deliveries are keyed). A copy's notifications (pushed, or riding on the answer
 * to another request) and the answer to a read that set a watch are two RPCs, never
 * ordered: an event for a change just after the read may reach the host before the
 * read's answer has recorded the session's watch, and would then fire for nobody. So
 * notifications from a source wait until every watching request sent there before
 * they arrived has its answer recorded (or has failed); a request sent after they
 * arrived does not hold them.
 *
 * A watch fires only for changes past the zxid of the answer that set it
 * (SessionWatches), so notifications need not wait for a request whose answer is
 * known to show their highest zxid. An answer's own notifications (at or below its
 * zxid, and taken before it records its watches: they may fire the watches it sets
 * again) say so of their request before they wait. Without that, two answers in at
 * once, each carrying notifications, would each wait for the other's watches for
 * ever; with it, only the one showing more waits for the other.
 *
 * @example
 * const ended = inFlight.begin([sourceKey]); // as the watching read is sent
 * ended(); // its answer recorded, or it failed
 * await inFlight.before(sourceKey, 42); // notifications from sourceKey, up to zxid 42, wait here
 * await inFlight.before(sourceKey, 42, ended); // those riding on that request's own answer
 */
export class WatchesInFlight {
  /** Each request on its way, by its end function: where it went, and the zxid its answer is known to show (-1 until it is in). */
  private readonly sends = new Map<() => void, { sources: readonly string[]; shows: number }>();
  /** Resolved, and replaced, whenever a request ends or its answer comes in: waiters look again. */
  private changed = signal();

  /** A watching request is sent to `sources`; the function returned ends it (calling it again does nothing). */
  begin(sources: readonly string[]): () => void {
    const end = (): void => {
      if (this.sends.delete(end)) this.wake();
    };
    this.sends.set(end, { sources, shows: -1 });
    return end;
  }

  /**
   * Resolves once no watching request to `source` on its way may have set a watch that
   * notifications up to zxid `through` fire. `own`: the request (its end function)
   * whose answer carried them, which shows at least `through` and is not waited for.
   */
  async before(source: string, through: number, own?: () => void): Promise<void> {
    const mine = own && this.sends.get(own);
    if (mine && mine.shows < through) {
      mine.shows = through;
      this.wake();
    }
    while (this.mayFire(source, through, own)) await this.changed.promise;
  }

  private mayFire(source: string, through: number, own: (() => void) | undefined): boolean {
    for (const [end, send] of this.sends) if (end !== own && send.shows < through && send.sources.includes(source)) return true;
    return false;
  }

  private wake(): void {
    this.changed.resolve();
    this.changed = signal();
  }
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
