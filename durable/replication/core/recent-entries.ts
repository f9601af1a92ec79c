/**
 * The leader's last few committed entries, kept in memory as they commit, so that a
 * pull or a streaming pull's push at the head of the log (every replica's, at each
 * commit) takes them from here rather than reading and decoding them from storage
 * once per replica. Only a hint: a read is served from here only when these entries
 * end at the log's head as storage says it and hold everything after the asked zxid;
 * otherwise storage answers. Dropped on any doubt (an entry that does not follow the
 * last one, a new epoch, a skip; a restart starts empty).
 */
import { followsInOrder } from "./log.ts";
import type { AnyLogEntry } from "./rows.ts";

/**
 * Entries kept: under a burst of writes a replica falls some hundreds behind (its
 * pushes wait for its acknowledgements), and still reads from memory.
 */
export const RECENT_ENTRIES = 512;
/** Bytes of entries kept (their `size`), what bounds a shard's memory for them: large values are read from storage. */
export const RECENT_BYTES = 256 * 1024;

export class RecentEntries<E extends AnyLogEntry> {
  private entries: E[] = [];
  private bytes = 0;
  /** The zxid the first kept entry follows in the log (undefined: not known, so a read must start at a kept one). */
  private before: number | undefined;

  /**
   * Entries just committed, in log order, kept as they are: a committed entry is never
   * changed after (a writer builds each anew; pages leave as copies, by RPC or, in the
   * simulator, as JSON).
   */
  committed(entries: readonly E[]): void {
    for (const entry of entries) {
      const last = this.entries.at(-1);
      if (!last || !followsInOrder(last.zxid, entry)) this.clear();
      this.entries.push(entry);
      this.bytes += entry.size;
      while (this.entries.length > RECENT_ENTRIES || (this.bytes > RECENT_BYTES && this.entries.length > 0)) {
        const dropped = this.entries.shift()!;
        this.bytes -= dropped.size;
        this.before = dropped.zxid;
      }
    }
  }

  clear(): void {
    this.entries = [];
    this.bytes = 0;
    this.before = undefined;
  }

  /**
   * The entries after `zxid` up to `maxBytes` (at least one when there is one), when
   * these end at `headZxid` (the log's last zxid, read in the caller's transaction) and
   * `zxid` is the last one dropped or a kept one; undefined otherwise (read storage).
   */
  after(zxid: number, headZxid: number, maxBytes: number): E[] | undefined {
    if (this.entries.at(-1)?.zxid !== headZxid) return undefined;
    let from = this.entries.length;
    while (from > 0 && this.entries[from - 1]!.zxid > zxid) from--;
    const known = from > 0 ? this.entries[from - 1]!.zxid === zxid : this.before === zxid;
    if (!known) return undefined;
    const page: E[] = [];
    let bytes = 0;
    for (let i = from; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (page.length > 0 && bytes + entry.size > maxBytes) break;
      page.push(entry);
      bytes += entry.size;
    }
    return page;
  }
}
