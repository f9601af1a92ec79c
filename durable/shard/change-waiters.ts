/**
 * Long-poll waiters held in memory by a shard: each waits for the first committed
 * event that concerns its path and scope, or for its timeout. They are a wake-up
 * call only: whether something changed is always decided from the change log, so
 * waiters lost in a restart cost a retry, never a missed change.
 */
import { type ChangeEvent, type ChangeScope, eventMatches } from "../../protocol/index.ts";

interface Waiter {
  path: string;
  scope: ChangeScope;
  wake: (changed: boolean) => void;
}

export class ChangeWaiters {
  private readonly waiters = new Set<Waiter>();

  /** Resolves true at the first matching event, false after `timeoutMs`. */
  wait(path: string, scope: ChangeScope, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        path,
        scope,
        wake: (changed) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(changed);
        },
      };
      const timer = setTimeout(() => waiter.wake(false), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Wakes every waiter that one of these just-committed events concerns. */
  notify(events: readonly ChangeEvent[]): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) {
      if (events.some((e) => eventMatches(waiter.scope, waiter.path, e))) waiter.wake(true);
    }
  }
}
