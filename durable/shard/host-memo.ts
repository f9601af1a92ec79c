/**
 * What a shard remembers in memory of the session hosts it serves, so that a host's
 * batch neither writes nor reads the watch tables when nothing changed: the
 * delivery mode each host last stored, and the hosts known to be owed nothing.
 * Every entry only ever spares a statement: an object that starts again knows
 * nothing and asks SQLite (watch-registry.ts), which stays the truth.
 */
export class HostMemo {
  private readonly modes = new Map<string, boolean>();
  private readonly owedNothing = new Set<string>();

  /** Whether `push` must be stored for the host (it differs from what is, or that is not known); notes it as stored. */
  storesMode(host: string, push: boolean): boolean {
    if (this.modes.get(host) === push) return false;
    this.modes.set(host, push);
    return true;
  }

  /** The host's stored delivery mode, if known. */
  mode(host: string): boolean | undefined {
    return this.modes.get(host);
  }

  /** False only when the host's outbox is known to be empty. */
  mayBeOwed(host: string): boolean {
    return !this.owedNothing.has(host);
  }

  /** A watch of the host fired: its outbox is no longer known to be empty. */
  owes(host: string): void {
    this.owedNothing.delete(host);
  }

  /** The host's outbox was read empty. */
  owesNothing(host: string): void {
    this.owedNothing.add(host);
  }

  /** Forgets everything (the shard's storage was wiped). */
  clear(): void {
    this.modes.clear();
    this.owedNothing.clear();
  }
}
