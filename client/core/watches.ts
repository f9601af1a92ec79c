/**
 * The client's side of watches: listeners by (kind, path), fired by the server's
 * `event` messages. One-shot kinds (data, child) are dropped once fired, as the
 * server drops them; persistent and recursive ones stay until removed.
 *
 * A one-shot event is delivered only for a watch the client holds: registered when
 * the answer of the read that set it arrives (`set`, called as that answer is taken,
 * before any later message), gone once it fires. The host sends a watch's events only
 * after that answer, so a one-shot event heard while no such watch is held is one a
 * restarted host sent again (it keeps a delivery's bookkeeping in memory for a
 * moment: docs/architecture.md), or one of a fired watch it had not forgotten yet:
 * it is dropped, and never fires a listener added for a watch being set again.
 *
 * A persistent or recursive watch's events of one shard come in zxid order, each
 * once. As a safety net (ZooKeeper's clients never see a duplicate), an event of such
 * a watch below the last zxid dispatched for that watch from the same shard, or at
 * it and already dispatched (one change, a multi, may cause several events: each
 * passes once), is dropped; zxids of different shards are unrelated, so each is kept
 * apart. Removing the watch forgets them.
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
  /** The one-shot watches held: their reads answered, not fired yet (see the module's comment). */
  private readonly armed = new Set<string>();
  /** The last zxid dispatched of each lasting watch, per shard, with the events dispatched at it (see the module's comment). */
  private readonly lastDispatched = new Map<string, Map<string, { zxid: number; events: Set<string> }>>();

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
    this.forget(key(kind, path));
    return true;
  }

  /** Removes every listener of the given kinds on a path. */
  removeAll(kinds: readonly WatchKind[], path: string): void {
    for (const kind of kinds) this.forget(key(kind, path));
  }

  private forget(k: string): void {
    this.byKey.delete(k);
    this.armed.delete(k);
    this.lastDispatched.delete(k);
  }

  /** Whether a watch (or this listener of it) is set. */
  has(kind: WatchKind, path: string, listener?: WatchListener): boolean {
    const set = this.byKey.get(key(kind, path));
    return listener ? set?.has(listener) === true : (set?.size ?? 0) > 0;
  }

  /** The server answered a read that set this one-shot watch: its events are delivered from now on (call as the answer is taken). */
  set(kind: WatchKind, path: string): void {
    if (this.byKey.has(key(kind, path))) this.armed.add(key(kind, path));
  }

  /**
   * Runs the listeners of the watch that fired (`shard`: the shard whose change it
   * is, as the server's event names it); a one-shot watch is then gone.
   */
  dispatch(event: WatchEvent, shard = ""): void {
    const k = key(event.kind, event.watchPath);
    const set = this.byKey.get(k);
    if (!set) return;
    if (firesOnce(event.kind)) {
      if (!this.armed.has(k)) return;
      this.byKey.delete(k);
      this.armed.delete(k);
    } else if (!this.isNewLasting(k, shard, event)) {
      return;
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

  /** Whether a lasting watch's event was not dispatched yet by its shard's zxid order (then it is recorded as dispatched). */
  private isNewLasting(k: string, shard: string, event: WatchEvent): boolean {
    let byShard = this.lastDispatched.get(k);
    if (!byShard) this.lastDispatched.set(k, (byShard = new Map()));
    const last = byShard.get(shard);
    const what = `${event.type} ${event.path}`;
    if (last !== undefined && event.zxid < last.zxid) return false;
    if (last !== undefined && event.zxid === last.zxid) {
      if (last.events.has(what)) return false;
      last.events.add(what);
      return true;
    }
    byShard.set(shard, { zxid: event.zxid, events: new Set([what]) });
    return true;
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
    this.armed.clear();
    this.lastDispatched.clear();
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
