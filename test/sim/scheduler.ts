/**
 * The simulator's logical clock and event queue. Each event belongs to an owner (a
 * node's incarnation); a crashed owner's events never run, which is how a crash at
 * any await abandons everything the incarnation was waiting for.
 */
import type { Clock } from "../../durable/replication/core/index.ts";

/** Something whose events run only while it lives: a node's incarnation, or a client. */
export interface Owner {
  alive: boolean;
}

interface SimEvent {
  at: number;
  seq: number;
  owner: Owner;
  run: () => void;
}

export class Scheduler {
  now = 0;
  private seq = 0;
  private readonly heap: SimEvent[] = [];

  at(time: number, owner: Owner, run: () => void): void {
    this.push({ at: Math.max(time, this.now), seq: this.seq++, owner, run });
  }

  after(ms: number, owner: Owner, run: () => void): void {
    this.at(this.now + ms, owner, run);
  }

  /** A promise resolved `ms` from now, unless the owner dies first (then never). */
  sleep(ms: number, owner: Owner): Promise<void> {
    return new Promise((resolve) => this.after(ms, owner, resolve));
  }

  /** The core's Clock for `owner`: logical time, and sleeps that end with the owner or when cancelled. */
  clockFor(owner: Owner): Clock {
    return {
      now: () => this.now,
      sleep: (ms) => {
        let cancelled = false;
        const sleeper: Owner = { get alive() { return owner.alive && !cancelled; } };
        return { elapsed: this.sleep(ms, sleeper), cancel: () => (cancelled = true) };
      },
    };
  }

  /** Runs events in (time, order) until `done()` or the queue is empty; microtasks settle after each event. */
  async run(done: () => boolean): Promise<void> {
    while (!done()) {
      const event = this.pop();
      if (!event) return;
      this.now = event.at;
      if (!event.owner.alive) continue;
      event.run();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || !last) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) return top;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
