/**
 * Each session's bookmark: the highest zxid it has been shown per shard, from every
 * answer (ShardRouter advances it through the session's ReadContext) and every
 * watch event the host passes on, so its sequential reads are routed to a copy
 * that has applied at least that much. `sync` advances it to the leader's commit point. Kept in memory:
 * after a restart of the host a client that resumes hands its own bookmark back
 * (the connect message's `bookmark`), and until then reads go where an empty
 * bookmark allows.
 */
import { type Bookmark, SEQUENTIAL, advanceBookmark, emptyBookmark } from "../../protocol/index.ts";
import { ReadContext } from "../directory/read-routing.ts";
import type { EdgekeeperEnv } from "../env.ts";

export class SessionBookmarks {
  private readonly env: EdgekeeperEnv;
  private readonly namespace: () => string;
  private readonly bookmarks = new Map<number, Bookmark>();

  constructor(env: EdgekeeperEnv, namespace: () => string) {
    this.env = env;
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
    return new ReadContext(this.env, SEQUENTIAL, this.of(sessionId), undefined);
  }

  /** Raises the session's zxid of `shard` to `zxid` (an event it was sent). */
  advance(sessionId: number, shard: string, zxid: number): void {
    advanceBookmark(this.of(sessionId), shard, zxid);
  }

  /** Takes what a resuming client says it has seen (checked against each leader when it next answers). */
  merge(sessionId: number, seen: Bookmark): void {
    const bookmark = this.of(sessionId);
    for (const [shard, zxid] of seen.shards) advanceBookmark(bookmark, shard, zxid);
  }

  /** Forgets a session that ended. */
  forget(sessionId: number): void {
    this.bookmarks.delete(sessionId);
  }
}
