/**
 * Watches as the bridge sees them: which watches a ZooKeeper session holds (for
 * checkWatches and the four-letter words; the host holds the real ones), the
 * host's `event` messages as ZooKeeper notifications, and the one-per-change rule.
 *
 * The host sends one `event` per matching watch of a session (a data and a child
 * watch on a deleted node: two). ZooKeeper sends a connection one notification per
 * change (WatchManager.triggerWatch passes the watchers already told), and its
 * clients fire every local watcher of the path from that one. EventDedupe keeps
 * that: the host sends a change's events together, so it remembers the keys seen
 * for the latest zxid.
 */
import { WATCH_KINDS, type WatchKind } from "../../protocol/changes.ts";
import { EVENT_TYPES, KEEPER_STATES, WATCHER_TYPES, type WatcherEvent } from "../../protocol/jute/index.ts";
import { firesOnce } from "../../protocol/watch-matching.ts";
import type { SessionMessage } from "../upstream/host-link.ts";

export type EventMessage = Extract<SessionMessage, { t: "event" }>;

/**
 * The watches one session holds, by path; and the one-shot watches that fired lately
 * and were not armed again. A notification written just before a connection died, or
 * sent while none was attached, never reached the client, which re-sends the watch on
 * resume: setWatches fires it again from this memory, since zxids of different shards
 * cannot tell it (see set-watches.ts). A client resumes within its session timeout of
 * the last packet it heard, so a firing is remembered for twice that, then forgotten.
 */
export class WatchTable {
  /** The kinds held on each path, as bits of KIND_BITS (a number, not a Set: held per idle session). */
  private readonly byPath = new Map<string, number>();
  /** `kind path` of fired one-shot watches, oldest first, with when they fired; made at the first firing. */
  private firedAt: Map<string, number> | undefined;
  private readonly rememberFiredMs: number;

  constructor(sessionTimeoutMs: number) {
    this.rememberFiredMs = 2 * sessionTimeoutMs;
  }

  add(path: string, kind: WatchKind): void {
    this.byPath.set(path, (this.byPath.get(path) ?? 0) | KIND_BITS[kind]);
    this.firedAt?.delete(`${kind} ${path}`);
  }

  remove(path: string, kind: WatchKind | "any"): void {
    const kinds = this.byPath.get(path);
    if (kinds === undefined) return;
    const left = kind === "any" ? 0 : kinds & ~KIND_BITS[kind];
    if (left === 0) this.byPath.delete(path);
    else this.byPath.set(path, left);
  }

  /**
   * Whether an event is a one-shot watch's firing again, which a host restarted just
   * after sending it may send (docs/architecture.md): the session holds no such watch
   * (it fired, and the read setting it again is unanswered or was never made). An
   * event of a watch being set comes after the answer that set it, which adds it here.
   */
  repeated(event: EventMessage): boolean {
    return firesOnce(event.kind) && ((this.byPath.get(event.watchPath) ?? 0) & KIND_BITS[event.kind]) === 0;
  }

  /** A fired event drops the one-shot watch it fired (persistent and recursive ones stay). */
  fired(event: EventMessage, now = Date.now()): void {
    if (!firesOnce(event.kind)) return;
    this.remove(event.watchPath, event.kind);
    const key = `${event.kind} ${event.watchPath}`;
    const firedAt = (this.firedAt ??= new Map());
    firedAt.delete(key);
    firedAt.set(key, now);
    for (const [old, at] of firedAt) {
      if (at > now - this.rememberFiredMs) break;
      firedAt.delete(old);
    }
  }

  /** Whether a one-shot watch of this kind on the path fired lately and was not armed since. */
  firedUnarmed(path: string, kind: "data" | "child", now = Date.now()): boolean {
    return (this.firedAt?.get(`${kind} ${path}`) ?? -Infinity) > now - this.rememberFiredMs;
  }

  /** checkWatches: does the session hold a watch of this WatcherType on the path? */
  has(path: string, watcherType: number): boolean {
    const kinds = this.byPath.get(path) ?? 0;
    const kind = watchKindOfType(watcherType);
    // Any (and a type ZooKeeper does not define) asks for a watch of any kind.
    return kind === undefined || kind === "any" ? kinds !== 0 : (kinds & KIND_BITS[kind]) !== 0;
  }

  get paths(): string[] {
    return [...this.byPath.keys()].sort();
  }

  get count(): number {
    let n = 0;
    for (const kinds of this.byPath.values()) for (const kind of WATCH_KINDS) if (kinds & KIND_BITS[kind]) n++;
    return n;
  }
}

const KIND_BITS: Readonly<Record<WatchKind, number>> = { data: 1, child: 2, persistent: 4, recursive: 8 };

/** removeWatches' WatcherType as the session protocol's kind; undefined for an unknown type. */
export function watchKindOfType(watcherType: number): WatchKind | "any" | undefined {
  switch (watcherType) {
    case WATCHER_TYPES.Children:
      return "child";
    case WATCHER_TYPES.Data:
      return "data";
    case WATCHER_TYPES.Any:
      return "any";
    case WATCHER_TYPES.Persistent:
      return "persistent";
    case WATCHER_TYPES.PersistentRecursive:
      return "recursive";
    default:
      return undefined;
  }
}

/** An event as ZooKeeper's WatcherEvent (state SyncConnected). */
export function watcherEventOf(event: EventMessage): WatcherEvent {
  return { type: EVENT_TYPES[event.event], state: KEEPER_STATES.SyncConnected, path: event.path };
}

/** One notification per change per connection. */
export class EventDedupe {
  private zxid = -1;
  /** Made at the first event: most connections of idle sessions never see one. */
  private seen: Set<string> | undefined;

  /** True the first time a change (zxid, type, path) is offered. */
  first(event: EventMessage): boolean {
    const seen = (this.seen ??= new Set());
    if (event.zxid !== this.zxid) {
      this.zxid = event.zxid;
      seen.clear();
    }
    const key = `${event.event} ${event.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }
}
