/**
 * Counters for the four-letter words: per connection (cons, stat) and for the
 * whole bridge (srvr, mntr), as ZooKeeper's ServerStats and ServerCnxn keep them.
 */

export class Latency {
  min = 0;
  max = 0;
  count = 0;
  total = 0;

  add(ms: number): void {
    const rounded = Math.max(0, Math.round(ms));
    if (this.count === 0 || rounded < this.min) this.min = rounded;
    if (rounded > this.max) this.max = rounded;
    this.count++;
    this.total += rounded;
  }

  /** ZooKeeper prints the average as a double rounded to 4 places ("3.0", "2.7273"). */
  get avgText(): string {
    return formatDouble(this.count === 0 ? 0 : this.total / this.count);
  }

  reset(): void {
    this.min = this.max = this.count = this.total = 0;
  }
}

/** A double as Java prints it after rounding to 4 decimals: always with a fraction. */
export function formatDouble(value: number): string {
  const rounded = Math.round(value * 10_000) / 10_000;
  return Number.isInteger(rounded) ? `${rounded}.0` : String(rounded);
}

export class ServerCounters {
  readonly startedAt = Date.now();
  received = 0;
  sent = 0;
  authFailed = 0;
  readonly latency = new Latency();

  reset(): void {
    this.received = this.sent = 0;
    this.latency.reset();
  }
}

export class ConnectionCounters {
  readonly establishedAt = Date.now();
  received = 0;
  sent = 0;
  lastOp = "NA";
  lastCxid = 0;
  lastZxid = 0;
  lastResponseAt = 0;
  lastLatency = 0;
  readonly latency = new Latency();
}
