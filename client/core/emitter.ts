/**
 * A small typed event emitter (EventTarget's CustomEvent is clumsier to type and
 * to use from Workers). A throwing listener does not stop the others.
 */

export type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * @example
 * const e = new Emitter<{ state: [string] }>();
 * const off = e.on("state", (s) => console.log(s));
 * e.emit("state", "connected");
 * off();
 */
export class Emitter<Events extends Record<string, unknown[]>> {
  // Stored untyped: each name's set holds listeners of that name's arguments only.
  private readonly listeners = new Map<keyof Events, Set<(...args: never[]) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as unknown as (...args: never[]) => void);
    return () => this.off(name, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(name, ((...args: Events[K]) => {
      off();
      listener(...args);
    }) as Listener<Events[K]>);
    return off;
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(listener as unknown as (...args: never[]) => void);
  }

  emit<K extends keyof Events>(name: K, ...args: Events[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<Events[K]>)(...args);
      } catch (error) {
        // A listener's bug must not break the session: report it out of band.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
