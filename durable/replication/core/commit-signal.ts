/** Listeners told of each committed entry, after its transaction commits (never before: the output gate). */
import type { LogEntry } from "./rows.ts";

export type CommitListener = (entries: LogEntry[]) => void;

export class CommitSignal {
  private readonly listeners: CommitListener[] = [];
  private waiters: Array<() => void> = [];

  listen(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  /** Resolves at the next commit. */
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Listeners first (watch events go out before any answer a waiter then sends). */
  committed(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    for (const listener of this.listeners) listener(entries);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
