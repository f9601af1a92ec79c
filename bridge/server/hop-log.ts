/**
 * The bridge's hop records when it runs with --trace-hops (protocol/hops.ts): one per
 * answered request that went upstream, from the packet's arrival to the reply's
 * write, with the session host's stamps. The benchmark takes them with the
 * four-letter word `hops` (JSON lines; taking empties the log), since its ZooKeeper
 * client cannot see them.
 */
import type { HopRecord } from "../../protocol/hops.ts";

/** Kept at most, so a traced bridge nobody reads from stays bounded; later ones are dropped. */
export const MAX_HOP_RECORDS = 1_000_000;

export class HopLog {
  private records: HopRecord[] = [];

  add(record: HopRecord): void {
    if (this.records.length < MAX_HOP_RECORDS) this.records.push(record);
  }

  /** The records so far, as JSON lines, oldest first; the log is empty after. */
  take(): string {
    const lines = this.records.map((record) => `${JSON.stringify(record)}\n`).join("");
    this.records = [];
    return lines;
  }
}
