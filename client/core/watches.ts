/**
 * The client's side of watches: listeners by (kind, path), fired by the server's
 * `event` messages. One-shot kinds (data, child) are dropped once fired, as the
 * server drops them; persistent and recursive ones stay until removed.
 *
 * A host restarted just after sending a one-shot event may send it again (it keeps
 * that delivery in memory for a moment: docs/architecture.md). Such a duplicate
 * carries the zxid of the event already dispatched, so until the watch is set again
 * (its read answered) an event of that watch at or below that zxid is dropped: it
 * must not fire a listener added for the watch being set again.
 */
import type { ChangeEventType, WatchKind } from "../../protocol/changes.ts";
import { KeeperError } from "../../protocol/errors.ts";
import { firesOnce } from "../../protocol/watch-matching.ts";

/** A watch event as listeners see it. */
export interface WatchEvent {
  /** What happened: NodeCreated, NodeDeleted, NodeDataChanged or NodeChildrenChanged. */
  type: Exclude<ChangeEventType, "ACLChanged">;
  /** The node it happened to (a descendant of `watchPath` for a recursive watch). */
  path: string;
  /** The change's zxid. */
  zxid: number;
  /** The kind of the watch that fired. */
  kind: WatchKind;
  /** The path the watch was set on. */
  watchPath: string;
}

export type WatchListener = (event: WatchEvent) => void;

function key(kind: WatchKind, path: string): string {
  return `${kind}\u0000${path}`;
}

/** How many fired one-shot watches not set again are remembered (oldest forgotten first). */
export const REMEMBERED_FIRINGS = 1024;

/**
 * The client's listeners, by watch kind and path: whom a fired event calls (the
 * server keeps the watches themselves).
 *
 * @example
 * const watches = new WatchListeners();
 * watches.add("data", "/a", (ev) => console.log(ev.type));
 * watches.dispatch({ type: "NodeDeleted", path: "/a", zxid: 9, kind: "data", watchPath: "/a" });
 */
export class WatchListeners {
  private readonly byKey = new Map<string, Set<WatchListener>>();
  private readonly streams = new Set<WatchStream>();
  /** The zxid each fired one-shot watch fired at, until it is set again (see the module's comment). */
  private readonly firedAt = new Map<string, number>();

  /** Adds a listener; the same function twice on one watch fires once, as in ZooKeeper. */
  add(kind: WatchKind, path: string, listener: WatchListener): void {
    let set = this.byKey.get(key(kind, path));
    if (!set) this.byKey.set(key(kind, path), (set = new Set()));
    set.add(listener);
  }

  /** Removes one listener; true if it was the last one of its watch. */
  remove(kind: WatchKind, path: string, listener: WatchListener): boolean {
    const set = this.byKey.get(key(kind, path));
    if (!set) return false;
    set.delete(listener);
    if (set.size > 0) return false;
    this.byKey.delete(key(kind, path));
    return true;
  }

  /** Removes every listener of the given kinds on a path. */
  removeAll(kinds: readonly WatchKind[], path: string): void {
    for (const kind of kinds) this.byKey.delete(key(kind, path));
  }

  /** Whether a watch (or this listener of it) is set. */
  has(kind: WatchKind, path: string, listener?: WatchListener): boolean {
    const set = this.byKey.get(key(kind, path));
    return listener ? set?.has(listener) === true : (set?.size ?? 0) > 0;
  }

  /** The server answered a read that set this one-shot watch: an event of it is no duplicate from now on. */
  set(kind: WatchKind, path: string): void {
    this.firedAt.delete(key(kind, path));
  }

  /** Runs the listeners of the watch that fired; a one-shot watch is then gone. */
  dispatch(event: WatchEvent): void {
    const k = key(event.kind, event.watchPath);
    const set = this.byKey.get(k);
    if (!set) return;
    if (firesOnce(event.kind)) {
      const fired = this.firedAt.get(k);
      if (fired !== undefined && event.zxid <= fired) return;
      this.byKey.delete(k);
      this.rememberFiring(k, event.zxid);
    }
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private rememberFiring(k: string, zxid: number): void {
    this.firedAt.delete(k);
    this.firedAt.set(k, zxid);
    if (this.firedAt.size > REMEMBERED_FIRINGS) this.firedAt.delete(this.firedAt.keys().next().value!);
  }

  /** A stream of events for an async iterator; see {@link WatchStream}. */
  stream(onReturn: () => void): WatchStream {
    const stream = new WatchStream(() => {
      this.streams.delete(stream);
      onReturn();
    });
    this.streams.add(stream);
    return stream;
  }

  /**
   * The session expired or the client closed: the server's watches are gone, so
   * drop every listener and end every stream (with SessionExpired on expiry).
   */
  clear(reason: "expired" | "closed"): void {
    this.byKey.clear();
    this.firedAt.clear();
    for (const stream of [...this.streams]) {
      if (reason === "expired") stream.fail(new KeeperError("SessionExpired", "the session expired; its watches are gone"));
      else stream.end();
    }
    this.streams.clear();
  }
}

/**
 * Events as an async iterator. Events queue (without bound) until read; `return()`
 * (a `break` out of `for await`) ends it and removes its watch.
 */
export class WatchStream implements AsyncIterableIterator<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  private readonly readers: { resolve: (r: IteratorResult<WatchEvent>) => void; reject: (e: unknown) => void }[] = [];
  private done = false;
  private error: unknown;

  private readonly onReturn: () => void;

  constructor(onReturn: () => void) {
    this.onReturn = onReturn;
  }

  readonly push = (event: WatchEvent): void => {
    if (this.done) return;
    const reader = this.readers.shift();
    if (reader) reader.resolve({ value: event, done: false });
    else this.queue.push(event);
  };

  /** Ends the stream after the queued events. */
  end(): void {
    if (this.done) return;
    this.done = true;
    for (const reader of this.readers.splice(0)) reader.resolve({ value: undefined, done: true });
  }

  /** Ends the stream with an error, after the queued events. */
  fail(error: unknown): void {
    if (this.done) return;
    this.error = error;
    this.done = true;
    for (const reader of this.readers.splice(0)) reader.reject(error);
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const event = this.queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.done) {
      if (this.error !== undefined) {
        const error = this.error;
        this.error = undefined;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    if (!this.done) {
      this.end();
      this.queue.length = 0;
      this.onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
