/**
 * One log line per burst: the first event of a kind is logged at once, the others
 * within `windowMs` after it are counted and logged as one line when it ends. A
 * thousand clients that never finish their handshake make two lines, not a thousand.
 *
 * @example
 * const timeouts = new BurstLog((line) => console.error(line));
 * timeouts.note("bridge: closed 127.0.0.1:5000: no handshake within 10000 ms");
 */
export class BurstLog {
  private readonly log: (line: string) => void;
  private readonly windowMs: number;
  private more = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(log: (line: string) => void, windowMs = 10_000) {
    this.log = log;
    this.windowMs = windowMs;
  }

  note(line: string): void {
    if (this.timer !== undefined) {
      this.more++;
      return;
    }
    this.log(line);
    this.timer = setTimeout(() => this.flush(), this.windowMs);
    this.timer.unref?.();
  }

  /** Logs the count of the burst so far (at the window's end, or when the bridge stops). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.more > 0) this.log(`... and ${this.more} more like it within ${this.windowMs / 1000} s`);
    this.more = 0;
  }
}
