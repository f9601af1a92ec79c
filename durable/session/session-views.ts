/**
 * What a relayed session's client (a ZooKeeper client through the wire bridge) may
 * have been shown of each shard, known by the one zxid it keeps: the highest answer
 * zxid its bridge relayed (ZooKeeper's lastZxidSeen, which a reconnecting client
 * sends with its connect and its setWatches). zxids of different shards are not
 * comparable, so for each new highest zxid the session's answers reach, this keeps
 * the highest zxid of each shard they had shown when they first reached it: a client
 * that saw that zxid saw at least that much of each shard. A bridge the session moves
 * to compares each watched node with its own shard's (bridge/server/set-watches.ts).
 *
 * In memory, the last VIEWS_KEPT per session: a client resumes after a few answers
 * in flight at most, and after a restart of the host nothing is known (the bridge then
 * compares across shards, as before).
 */

/** The views kept per session: its client's zxid is among its last few highest. */
const VIEWS_KEPT = 8;

interface SessionView {
  highest: number;
  /** The highest zxid per shard shown so far. */
  shards: Record<string, number>;
  /** Each highest zxid reached (oldest first), with `shards` as it stood then. */
  reached: Map<number, Record<string, number>>;
}

export class SessionViews {
  private readonly views = new Map<number, SessionView>();

  /** The session's socket was sent an answer of `shard` (undefined: no shard's) at `zxid`. */
  answered(sessionId: number, shard: string | undefined, zxid: number): void {
    let view = this.views.get(sessionId);
    if (!view) this.views.set(sessionId, (view = { highest: 0, shards: {}, reached: new Map() }));
    if (shard !== undefined && zxid > (view.shards[shard] ?? 0)) view.shards[shard] = zxid;
    if (zxid <= view.highest) return;
    view.highest = zxid;
    view.reached.set(zxid, { ...view.shards });
    if (view.reached.size > VIEWS_KEPT) view.reached.delete(view.reached.keys().next().value!);
  }

  /** The highest zxid of the session's answers (0: none known). */
  highest(sessionId: number): number {
    return this.views.get(sessionId)?.highest ?? 0;
  }

  /** What the session's answers had shown of each shard when they first reached `zxid`, if known. */
  shownAt(sessionId: number, zxid: number): Record<string, number> | undefined {
    const shown = this.views.get(sessionId)?.reached.get(zxid);
    return shown && { ...shown };
  }

  forget(sessionId: number): void {
    this.views.delete(sessionId);
  }
}
