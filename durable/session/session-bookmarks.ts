/**
 * Each session's bookmark: the highest zxid it has been shown per shard, from every
 * answer (ShardRouter advances it through the session's ReadContext) and every
 * watch event the host passes on, so its sequential reads are served by its host's
 * home for the shard (session-homes.ts) once that has applied at least that much.
 * `sync` advances it to the leader's commit point. Kept in memory, so after a
 * restart of the host a session's bookmark is partial: each shard is read at its
 * leader until the leader has answered the session there once, which makes the
 * bookmark whole for that shard. What a client hands back (the connect message's
 * `bookmark`, as the TypeScript client sends on every resume) does not make it whole:
 * a write whose answer the restart lost is in no bookmark, yet applied.
 */
import { type Bookmark, SEQUENTIAL, advanceBookmark, emptyBookmark } from "../../protocol/index.ts";
import { ReadContext, type ReadRouting, readRoutingOf } from "../directory/read-routing.ts";
import type { EdgekeeperEnv } from "../env.ts";

export class SessionBookmarks {
  private readonly routing: ReadRouting;
  /** The host's region (its sessions' reads are placed from there); undefined without regions. */
  private readonly region: string | undefined;
  private readonly namespace: () => string;
  private readonly bookmarks = new Map<number, Bookmark>();
  /** Sessions whose bookmark holds all they have seen: those this instance opened. */
  private readonly whole = new Set<number>();
  /** What clients handed back that no leader has checked yet, per session. */
  private readonly unchecked = new Map<number, Map<string, number>>();
  /** What each session's client handed back when it last connected: what it had been shown, per shard. */
  private readonly handedBack = new Map<number, ReadonlyMap<string, number>>();

  /** `region`: the host's (its sequential reads go to its home there: session-homes.ts). */
  constructor(env: EdgekeeperEnv, namespace: () => string, region: string | undefined) {
    this.routing = readRoutingOf(env);
    this.region = region;
    this.namespace = namespace;
  }

  /** The session's bookmark (empty at first). */
  of(sessionId: number): Bookmark {
    let bookmark = this.bookmarks.get(sessionId);
    if (!bookmark) {
      bookmark = emptyBookmark(this.namespace());
      this.bookmarks.set(sessionId, bookmark);
    }
    return bookmark;
  }

  /**
   * The session's reads for one call to a shard: its bookmark, advanced by the
   * answers; each request's own mode (`consistency`) or sequential.
   */
  readsOf(sessionId: number): ReadContext {
    return new ReadContext(this.routing, SEQUENTIAL, this.of(sessionId), { callerRegion: this.region, partial: !this.whole.has(sessionId), unchecked: this.uncheckedOf(sessionId) });
  }

  /** A session this instance opened: it has seen nothing yet, so its bookmark is whole. */
  opened(sessionId: number): void {
    this.whole.add(sessionId);
  }

  /** Raises the session's zxid of `shard` to `zxid` (an event it was sent). */
  advance(sessionId: number, shard: string, zxid: number): void {
    advanceBookmark(this.of(sessionId), shard, zxid);
  }

  /**
   * Takes what a connecting client says it has been shown, checked against each
   * leader when it next answers. A session this instance did not open keeps its
   * shards unnamed, so each is read first at its leader: the client may have had a
   * write applied whose answer was lost with the instance before, and its bookmark
   * lacks that write.
   */
  merge(sessionId: number, seen: Bookmark): void {
    const bookmark = this.whole.has(sessionId) ? this.of(sessionId) : undefined;
    const unchecked = this.uncheckedOf(sessionId);
    for (const [shard, zxid] of seen.shards) {
      if (bookmark) advanceBookmark(bookmark, shard, zxid);
      unchecked.set(shard, Math.max(unchecked.get(shard) ?? 0, zxid));
    }
    this.handedBack.set(sessionId, new Map(seen.shards));
  }

  /**
   * The highest zxid of `shard` the session's client said, when it last connected, it
   * had been shown (0 if it said nothing of it). Every event at or below it had reached
   * it: events come in zxid order, each before any answer showing its change, and the
   * events of one change are sent together.
   */
  shownBeforeConnect(sessionId: number, shard: string): number {
    return this.handedBack.get(sessionId)?.get(shard) ?? 0;
  }

  /** Forgets a session that ended. */
  forget(sessionId: number): void {
    this.bookmarks.delete(sessionId);
    this.whole.delete(sessionId);
    this.unchecked.delete(sessionId);
    this.handedBack.delete(sessionId);
  }

  private uncheckedOf(sessionId: number): Map<string, number> {
    let unchecked = this.unchecked.get(sessionId);
    if (!unchecked) {
      unchecked = new Map();
      this.unchecked.set(sessionId, unchecked);
    }
    return unchecked;
  }
}
