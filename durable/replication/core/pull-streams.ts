/**
 * The leader's memory of each replica's pipelined pulls. A replica keeps several
 * pulls at its leader (ReplicationSettings.pullsInFlight), so that a commit's entry
 * leaves at once, one way, rather than waiting for a pull to come back. A pulls
 * stream per replica remembers the last zxid the leader answered it with: a
 * `pipelined` pull is answered from there (two pulls parked together never carry the
 * same entries), a plain one from its own `fromZxid` (it also moves the stream
 * there). Each commit wakes the newest parked pull of every replica: the one sent
 * last, so its answer tells the replica the most about how fresh it is (LeaderLink's
 * contact time is its pull's send time); the others wait for later commits, or answer
 * empty when their long poll ends. A pull woken within `streamMs` of its arrival,
 * when its replica gave it a way back, streams instead (LeaderLog.pull): it pushes
 * that commit and every later one, each as it commits while its pushes' window
 * (pushEntriesInFlight) has room, and while it does, the commits go to it alone (its
 * replica's other pulls stay parked), so a write costs the leader one push per
 * replica, batched once the window is full, and no new pull each. This memory is
 * only a hint, lost with the instance: the replica applies strictly in order, and
 * when an answer was lost, duplicated or reordered it finds a gap and sends a plain
 * pull again.
 */
import type { PullRequest } from "./messages.ts";

interface Stream {
  /** The last zxid an answer to this replica carried (or the plain pull's start). */
  sent: number;
  /** Wakers of the pulls parked at the head, in the order they arrived. */
  parked: Array<() => void>;
  /** The replica's streaming pull, told of each commit in place of waking a parked one. */
  streaming?: () => void;
}

/** A pull's turn as its replica's streaming pull: `next` resolves at the next commit after it is called; `end` gives the turn up. */
export interface StreamingPull {
  next(): Promise<void>;
  end(): void;
}

/** A parked pull's place: `woken` resolves when a commit reaches it; `leave` gives the place up. */
export interface ParkedPull {
  woken: Promise<void>;
  leave(): void;
}

export class PullStreams {
  private readonly streams = new Map<string, Stream>();

  /** The zxid the answer to `request` starts after; call `answered` in the same synchronous block. */
  startOf(request: PullRequest): number {
    const stream = this.stream(request.replica);
    if (!request.pipelined) stream.sent = request.fromZxid;
    return Math.max(request.fromZxid, stream.sent);
  }

  /** Notes the last zxid an answer to `replica` carries. */
  answered(replica: string, lastZxid: number): void {
    this.stream(replica).sent = lastZxid;
  }

  /** Parks a pull of `replica` at the head, behind its others. */
  park(replica: string): ParkedPull {
    const parked = this.stream(replica).parked;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    parked.push(wake);
    return {
      woken,
      leave: () => {
        const at = parked.indexOf(wake);
        if (at >= 0) parked.splice(at, 1);
      },
    };
  }

  /** Makes a pull of `replica` its streaming pull; undefined when another one streams. */
  startStreaming(replica: string): StreamingPull | undefined {
    const stream = this.stream(replica);
    if (stream.streaming) return undefined;
    let wake = () => {};
    const told = () => wake();
    stream.streaming = told;
    return {
      next: () => new Promise<void>((resolve) => (wake = resolve)),
      end: () => {
        if (stream.streaming === told) delete stream.streaming;
      },
    };
  }

  /** A commit: each replica's streaming pull is told, or else its newest parked pull answers (the others wait for the next). */
  wakeNewest(): void {
    for (const stream of this.streams.values()) {
      if (stream.streaming) stream.streaming();
      else stream.parked.pop()?.();
    }
  }

  /** Wakes every pull held, parked or streaming, of every replica: each reads again and answers what it finds. */
  wakeAll(): void {
    for (const stream of this.streams.values()) {
      stream.streaming?.();
      for (const wake of stream.parked.splice(0)) wake();
    }
  }

  /** A replica destroyed for good: its stream is dropped (its parked pulls end at their long poll). */
  forget(replica: string): void {
    this.streams.delete(replica);
  }

  private stream(replica: string): Stream {
    let stream = this.streams.get(replica);
    if (!stream) this.streams.set(replica, (stream = { sent: 0, parked: [] }));
    return stream;
  }
}
