/**
 * What a streaming pull has pushed and not yet had answered: a push leaves while
 * fewer than pushEntriesInFlight entries, and fewer bytes than pullsInFlight full
 * pages, are out. Counted in entries, so a write leaves alone whenever the writes
 * of one round trip to the replica fit (its lag: one way), and a faster rate is
 * batched into a few pushes per round trip (the leader's cost per write falls as
 * the rate grows); the bytes keep its memory within what pipelined pulls may hold.
 */
import type { AnyLogEntry } from "./rows.ts";
import type { ReplicationSettings } from "./settings.ts";

/** A streaming pull's window (LeaderLog.stream): counts what is out, says when it is full. */
export class PushWindow {
  private entries = 0;
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(settings: ReplicationSettings) {
    this.maxEntries = settings.pushEntriesInFlight;
    this.maxBytes = settings.pullsInFlight * settings.pageMaxBytes;
  }

  full(): boolean {
    return this.entries >= this.maxEntries || this.bytes >= this.maxBytes;
  }

  /** Counts a push's entries as out; the function returned frees them once it is answered (or lost). */
  sent(entries: readonly AnyLogEntry[]): () => void {
    let bytes = 0;
    for (const entry of entries) bytes += entry.size;
    this.entries += entries.length;
    this.bytes += bytes;
    return () => {
      this.entries -= entries.length;
      this.bytes -= bytes;
    };
  }
}
