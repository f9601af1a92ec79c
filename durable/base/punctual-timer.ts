/**
 * Waits that last as long as asked, on timers that fire late. workerd's setTimeout
 * fires about a millisecond after its delay (measured here: 0 ms took 1.2 on
 * average, 3 ms took 4.9, 6 ms took 7.8), more under load; the region link's two
 * waits per call made a simulated 6 ms round trip cost about 9. So each wait asks
 * its timer for the delay less how late this timer's recent firings were: their
 * median, so that one firing held up by load barely shortens the next waits.
 */

/** How many recent firings the lateness is taken from. */
const LATENESS_SAMPLES = 32;

/** The clock and the timer a PunctualTimer runs on; tests pass their own. */
export interface TimerPorts {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const WORKERD_TIMERS: TimerPorts = {
  now: Date.now,
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
};

/**
 * @example
 * const timer = new PunctualTimer();
 * await timer.wait(3); // asks setTimeout for about 2 ms once it has seen it fire 1 ms late
 */
export class PunctualTimer {
  private readonly ports: TimerPorts;
  /** How late recent firings were, in ms: a ring of LATENESS_SAMPLES. */
  private readonly lateness: number[] = [];
  private next = 0;
  /** The median of `lateness`, kept as it changes (read on every wait). */
  private expected = 0;

  constructor(ports: TimerPorts = WORKERD_TIMERS) {
    this.ports = ports;
  }

  /** Resolves `ms` after the call, as near as the timer allows. */
  async wait(ms: number): Promise<void> {
    const asked = Math.max(0, ms - this.expected);
    const start = this.ports.now();
    await this.ports.sleep(asked);
    this.record(Math.max(0, this.ports.now() - start - asked));
  }

  /** How late the timer is expected to fire, in ms (the median of its recent firings). */
  get expectedLateness(): number {
    return this.expected;
  }

  private record(late: number): void {
    this.lateness[this.next] = late;
    this.next = (this.next + 1) % LATENESS_SAMPLES;
    const sorted = [...this.lateness].sort((a, b) => a - b);
    // The lower median: with an even count, one late firing must not become the expectation.
    this.expected = sorted[(sorted.length - 1) >> 1]!;
  }
}
