/**
 * Keeps a host's shard watches right when its sessions set and remove the same
 * watch at once. A shard keeps one watch per (host, path, kind), so removing it
 * because one session let go, while a read of another session is setting it, would
 * lose the other's. So: a removal waits until no read is setting that watch, then
 * checks again that no session holds it; a read that sets a watch waits for a
 * removal of it in flight. (In memory: a restart ends the requests in flight too.)
 */
export class WatchGate {
  private readonly setting = new Map<string, number>();
  private readonly settled = new Map<string, (() => void)[]>();
  private readonly removing = new Map<string, Promise<void>>();

  /** Runs a request that sets the watch `key` (through recording it for the session). */
  async whileSetting<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let removal = this.removing.get(key); removal; removal = this.removing.get(key)) await removal;
    this.setting.set(key, (this.setting.get(key) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = (this.setting.get(key) ?? 1) - 1;
      if (left > 0) {
        this.setting.set(key, left);
      } else {
        this.setting.delete(key);
        for (const wake of this.settled.get(key) ?? []) wake();
        this.settled.delete(key);
      }
    }
  }

  /** Removes the watch `key` at its shard once no read is setting it, if `stillUnheld()` then. */
  remove(key: string, stillUnheld: () => boolean, removeAtShard: () => Promise<void>): Promise<void> {
    const run = (this.removing.get(key) ?? Promise.resolve()).then(async () => {
      while (this.setting.has(key)) {
        await new Promise<void>((resolve) => this.settled.set(key, [...(this.settled.get(key) ?? []), resolve]));
      }
      if (stillUnheld()) await removeAtShard();
    });
    const tail = run.catch(() => undefined);
    this.removing.set(key, tail);
    void tail.then(() => {
      if (this.removing.get(key) === tail) this.removing.delete(key);
    });
    return run;
  }
}

/** The gate's key of a shard watch. */
export function watchKey(path: string, kind: string): string {
  return `${kind} ${path}`;
}
