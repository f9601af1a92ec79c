/**
 * A small typed listener set for the recipes that report changes (caches, service
 * discovery). Listener errors are rethrown asynchronously, as the client's own
 * emitter does, so one bad listener never stops the others or the recipe.
 * Not exported from recipes/index.ts: a helper, not an API.
 */
export class Listeners<Events extends Record<string, unknown[]>> {
  private readonly byName = new Map<keyof Events, Set<Function>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.byName.get(name);
    if (!set) this.byName.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof Events>(name: K, ...args: Events[K]): void {
    for (const listener of [...(this.byName.get(name) ?? [])]) {
      try {
        (listener as (...a: Events[K]) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.byName.clear();
  }
}

/** One promise that settles the first time `resolve` is called; later calls do nothing. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
