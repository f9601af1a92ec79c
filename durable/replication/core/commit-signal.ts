/** Listeners told of each committed entry, after its transaction commits (never before: the output gate). */
import type { AnyLogEntry, LogEntry } from "./rows.ts";

export type CommitListener<E extends AnyLogEntry = LogEntry> = (entries: E[]) => void;

export class CommitSignal<E extends AnyLogEntry = LogEntry> {
  private readonly listeners: Array<CommitListener<E>> = [];
  private waiters: Array<() => void> = [];

  listen(listener: CommitListener<E>): void {
    this.listeners.push(listener);
  }

  /** Resolves at the next commit. */
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Listeners first (watch events go out before any answer a waiter then sends). */
  committed(entries: E[]): void {
    if (entries.length === 0) return;
    for (const listener of this.listeners) listener(entries);
    this.wake();
  }

  /** Wakes the waiters with no entry to tell of: a replica's snapshot has just made it readable. */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
