/**
 * Long-poll waiters held in memory by a shard: each waits for the first committed
 * event that concerns its path and scope and that its caller may read, or for its
 * timeout. They are a wake-up call only: whether something changed is always
 * decided from the change log, so waiters lost in a restart cost a retry, never a
 * missed change.
 */
import { type ChangeScope, type GuardedChange, type Id, seenBy } from "../../protocol/index.ts";

interface Waiter {
  path: string;
  scope: ChangeScope;
  ids: readonly Id[];
  wake: (changed: boolean) => void;
}

export class ChangeWaiters {
  private readonly waiters = new Set<Waiter>();

  /** Resolves true at the first matching event the caller may read, false after `timeoutMs`. */
  wait(path: string, scope: ChangeScope, ids: readonly Id[], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        path,
        scope,
        ids,
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
  notify(events: readonly GuardedChange[]): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) {
      if (events.some((e) => seenBy(waiter.scope, waiter.path, waiter.ids, e))) waiter.wake(true);
    }
  }
}
