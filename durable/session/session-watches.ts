/**
 * The watches of a host's sessions, and their fan-out. A shard keeps one watch per
 * host (path, kind) and sends the host one numbered notification per change; here
 * each session's own watches are rows in the host's SQLite (so they survive
 * hibernation and restarts), and a notification becomes one `event` per matching
 * session watch, with one-shot watches dropped as they fire.
 *
 * Each row keeps the zxid its watch was set at (the shard's zxid in the answer that
 * set it): a notification of a change at or before that zxid was already visible to
 * the session when it set the watch, so it does not fire it (a shard's watch is per
 * host, so a notification can be on its way while another session sets a watch).
 * Notifications are numbered per shard; the last one processed of each shard is
 * kept, so one that comes twice (pushed and riding on an answer) fires once, and
 * with it the highest zxid fired (what that copy of the shard had handed over as home).
 *
 * What a delivery changes (the one-shot rows it fired, the last seq of each shard) is
 * kept in memory and written with the host's next watch row, or a second later
 * (FIRED_FLUSH_MS), not in a commit of its own: a commit is an fsync, and the output
 * gate would hold the event until it is durable. A delivery that fires a lasting
 * (persistent or recursive) watch is written at once, so those never fire twice. So
 * a host restarted before that write may process again what it had processed, and
 * send a one-shot event again; the client and the bridge drop such a duplicate (see
 * docs/architecture.md, "Watches per host, fanned out"), as ZooKeeper's client does
 * after a reconnect.
 *
 * Persistent and recursive watches fire only for sessions that may read the node
 * (by its ACL as of the change, which the notification carries), as ZooKeeper's
 * watch manager checks since CVE-2024-23944: they outlive the read that set them.
 * One-shot watches were checked by that read (getData, getChildren), as in ZooKeeper.
 */
import { addColumnIfMissing } from "../base/sql-columns.ts";
import { inChunks } from "../base/sql-chunks.ts";
import { type Mount } from "../directory/mount-table.ts";
import { type ServerMessage } from "../../protocol/session-protocol.ts";
import { type Id, type WatchKind, type WatchNotification, firesOnce, mayReadNode, watchesFiredBy } from "../../protocol/index.ts";

const WATCH_TABLES = [
  // exists_missing: a data watch set by exists on a node that did not exist (it waits for NodeCreated).
  `CREATE TABLE IF NOT EXISTS session_watches (
     session_id INTEGER NOT NULL,
     path TEXT NOT NULL,
     kind TEXT NOT NULL,
     set_zxid INTEGER NOT NULL,
     exists_missing INTEGER NOT NULL DEFAULT 0,
     shard TEXT NOT NULL,
     root TEXT NOT NULL,
     PRIMARY KEY (session_id, path, kind)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS session_watches_by_path ON session_watches (path, kind)`,
  // A host's home per shard asks which watches it holds there (session-homes.ts).
  `CREATE INDEX IF NOT EXISTS session_watches_by_shard ON session_watches (shard)`,
  // seq: the last notification processed of a shard copy; zxid: the highest zxid among those that fired.
  `CREATE TABLE IF NOT EXISTS shard_seqs (shard_key TEXT PRIMARY KEY, seq INTEGER NOT NULL, zxid INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`,
  // Events of a session with no socket, in order, sent when it resumes.
  `CREATE TABLE IF NOT EXISTS session_events (
     n INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id INTEGER NOT NULL,
     message TEXT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS session_events_by_session ON session_events (session_id, n)`,
];

/** Creates the watch tables, and the columns added since a host's were made. */
export function createWatchTables(sql: SqlStorage): void {
  for (const statement of WATCH_TABLES) sql.exec(statement);
  addColumnIfMissing(sql, "shard_seqs", "zxid", "INTEGER NOT NULL DEFAULT 0");
}

/** A shard watch of the host that no session needs anymore: remove it at the shard. */
export interface OrphanWatch {
  path: string;
  kind: WatchKind;
  mount: Mount;
}

/** A watch event for a session. */
export type EventMessage = Extract<ServerMessage, { t: "event" }>;

/**
 * What to do with a shard's notification: fan it out; fan it out to one-shot watches
 * only (`covered`: the host's old home fired it for the lasting ones already, while a
 * one-shot watch that fired is gone, so none fires twice); drop it (processed, firing
 * nothing); or leave it for later.
 */
export type NotificationVerdict = "fire" | "covered" | "drop" | "later";

/** The identities a session holds now (for the ACL check of its lasting watches). */
export type IdentitiesOf = (sessionId: number) => readonly Id[];

/** How long a delivery's changes may wait in memory for a write to ride on before they are written alone. */
export const FIRED_FLUSH_MS = 1_000;

/** A session watch's key in memory. */
function rowKey(sessionId: number, path: string, kind: WatchKind): string {
  return `${sessionId} ${kind} ${path}`;
}

type WatchRow = {
  session_id: number;
  path: string;
  kind: WatchKind;
};

export class SessionWatches {
  private readonly sql: SqlStorage;
  /** One-shot watches fired whose rows are not deleted yet (they fire no more). */
  private readonly fired = new Map<string, WatchRow>();
  /** The last seq processed of each shard, and the highest zxid among those, once read; `unwritten`: ahead of shard_seqs. */
  private readonly seqs = new Map<string, { seq: number; zxid: number }>();
  private readonly unwritten = new Set<string>();
  /** An event was queued for a session without a socket since the last flush: a commit is made anyway. */
  private queuedEvent = false;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  count(sessionId: number): number {
    const stored = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM session_watches WHERE session_id = ?", sessionId).one().n;
    if (this.fired.size === 0) return stored;
    let fired = 0;
    for (const row of this.fired.values()) if (row.session_id === sessionId) fired++;
    return stored - fired;
  }

  /** Whether a stored row has fired already (its delete not written yet). */
  private isFired(row: WatchRow): boolean {
    return this.fired.size > 0 && this.fired.has(rowKey(row.session_id, row.path, row.kind));
  }

  /**
   * Writes what deliveries changed in memory: the fired one-shot rows go, and each
   * shard's last seq is stored. Called with the host's next watch row (one commit
   * for both), by the timer, or at once for a lasting watch's delivery.
   */
  flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.queuedEvent = false;
    for (const row of this.fired.values()) this.sql.exec("DELETE FROM session_watches WHERE session_id = ? AND path = ? AND kind = ?", row.session_id, row.path, row.kind);
    this.fired.clear();
    for (const shardKey of this.unwritten) {
      const { seq, zxid } = this.processed(shardKey);
      this.sql.exec("INSERT INTO shard_seqs (shard_key, seq, zxid) VALUES (?, ?, ?) ON CONFLICT (shard_key) DO UPDATE SET seq = excluded.seq, zxid = excluded.zxid", shardKey, seq, zxid);
    }
    this.unwritten.clear();
  }

  private flushSoon(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), FIRED_FLUSH_MS);
  }

  /** Records a session's watch, set by an answer at `zxid` from the shard of `mount`. */
  add(sessionId: number, path: string, kind: WatchKind, zxid: number, mount: Mount, existsMissing = false): void {
    this.sql.exec(
      `INSERT INTO session_watches (session_id, path, kind, set_zxid, exists_missing, shard, root) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (session_id, path, kind) DO UPDATE SET set_zxid = excluded.set_zxid, exists_missing = excluded.exists_missing, shard = excluded.shard, root = excluded.root`,
      sessionId,
      path,
      kind,
      zxid,
      existsMissing ? 1 : 0,
      mount.shard,
      mount.prefix,
    );
    this.fired.delete(rowKey(sessionId, path, kind));
    this.flush();
  }

  /** The session's watches, for tests and inspection. */
  of(sessionId: number): { path: string; kind: WatchKind; existsMissing: boolean }[] {
    return this.sql
      .exec<WatchRow & { exists_missing: number }>("SELECT session_id, path, kind, exists_missing FROM session_watches WHERE session_id = ? ORDER BY path, kind", sessionId)
      .toArray()
      .filter((r) => !this.isFired(r))
      .map((r) => ({ path: r.path, kind: r.kind, existsMissing: r.exists_missing === 1 }));
  }

  /**
   * Removes a session's watches on a path (one kind, or all). Returns how many went
   * and the shard watches no session of the host holds anymore.
   */
  remove(sessionId: number, path: string, kind: WatchKind | "any"): { removed: number; orphans: OrphanWatch[] } {
    const rows = this.withoutFired(
      this.sql
        .exec<WatchRow & { shard: string; root: string }>(
          kind === "any"
            ? "DELETE FROM session_watches WHERE session_id = ? AND path = ? RETURNING session_id, path, kind, shard, root"
            : "DELETE FROM session_watches WHERE session_id = ? AND path = ? AND kind = ? RETURNING session_id, path, kind, shard, root",
          ...(kind === "any" ? [sessionId, path] : [sessionId, path, kind]),
        )
        .toArray(),
    );
    this.flush();
    return { removed: rows.length, orphans: rows.filter((r) => !this.held(path, r.kind)).map((r) => ({ path, kind: r.kind, mount: { prefix: r.root, shard: r.shard } })) };
  }

  /** Drops every watch and queued event of a session (closed or expired): the shard watches left without a holder. */
  dropSession(sessionId: number): OrphanWatch[] {
    this.sql.exec("DELETE FROM session_events WHERE session_id = ?", sessionId);
    const rows = this.withoutFired(
      this.sql
        .exec<WatchRow & { shard: string; root: string }>("DELETE FROM session_watches WHERE session_id = ? RETURNING session_id, path, kind, shard, root", sessionId)
        .toArray(),
    );
    this.flush();
    // One-shot watches fired since the host started are gone at the shard already; one
    // fired before a restart may be here still: removing it again is harmless (NoWatcher is ignored).
    return rows.filter((r) => !this.held(r.path, r.kind)).map((r) => ({ path: r.path, kind: r.kind, mount: { prefix: r.root, shard: r.shard } }));
  }

  /**
   * The host's distinct watches on a shard, each with the zxid it is needed from: for
   * a one-shot watch the earliest a session set it at (an unfired row was shown no
   * change after that), for a lasting one the latest.
   */
  onShard(shard: string): { path: string; kind: WatchKind; setZxid: number }[] {
    const rows = this.sql
      .exec<WatchRow & { set_zxid: number }>("SELECT session_id, path, kind, set_zxid FROM session_watches WHERE shard = ?", shard)
      .toArray()
      .filter((r) => !this.isFired(r));
    const watches = new Map<string, { path: string; kind: WatchKind; setZxid: number }>();
    for (const r of rows) {
      const key = `${r.kind} ${r.path}`;
      const seen = watches.get(key);
      const needed = !seen || (firesOnce(r.kind) ? r.set_zxid < seen.setZxid : r.set_zxid > seen.setZxid);
      if (needed) watches.set(key, { path: r.path, kind: r.kind, setZxid: r.set_zxid });
    }
    return [...watches.values()];
  }

  /** Whether any session of the host may hold a watch on a shard (a fired one not yet written counts). */
  heldOn(shard: string): boolean {
    return this.sql.exec("SELECT 1 FROM session_watches WHERE shard = ? LIMIT 1", shard).toArray().length > 0;
  }

  /** The shards the host's sessions watch, with their mounts' prefixes. */
  watchedShards(): { shard: string; root: string }[] {
    return this.sql.exec<{ shard: string; root: string }>("SELECT DISTINCT shard, root FROM session_watches").toArray();
  }

  /** Whether any session of the host holds this watch. */
  held(path: string, kind: WatchKind): boolean {
    // At most `fired.size` of the rows have fired: one row more than that holds an unfired one if any exists.
    const rows = this.sql.exec<WatchRow>("SELECT session_id, path, kind FROM session_watches WHERE path = ? AND kind = ? LIMIT ?", path, kind, this.fired.size + 1);
    return rows.toArray().some((r) => !this.isFired(r));
  }

  /** Rows just deleted, less those that had fired already: they were gone for the session. */
  private withoutFired<R extends WatchRow>(rows: R[]): R[] {
    if (this.fired.size === 0) return rows;
    return rows.filter((r) => !this.fired.delete(rowKey(r.session_id, r.path, r.kind)));
  }

  /** The last notification seq processed of a shard (what the host acknowledges). */
  ackSeq(shardKey: string): number {
    return this.processed(shardKey).seq;
  }

  /**
   * The highest zxid among the notifications of a shard copy that fired (that copy was
   * home): it had handed the host every event up to there (a copy queues them in zxid
   * order). Kept across restarts, as the seq is (session-homes.ts starts a home's
   * `through` from the highest of the shard's copies).
   */
  handedOver(shardKey: string): number {
    return this.processed(shardKey).zxid;
  }

  private processed(shardKey: string): { seq: number; zxid: number } {
    let processed = this.seqs.get(shardKey);
    if (processed === undefined) {
      processed = this.sql.exec<{ seq: number; zxid: number }>("SELECT seq, zxid FROM shard_seqs WHERE shard_key = ?", shardKey).toArray()[0] ?? { seq: 0, zxid: 0 };
      this.seqs.set(shardKey, processed);
    }
    return processed;
  }

  /**
   * Fans a shard's notifications out, skipping those already processed: taken in seq
   * order, fanned out in zxid order; `emit` gets each event for a session, in order. Synchronous (no
   * await between reading and storing the last seq), so a notification that
   * arrives twice at once still fires once. `judge` may say of a notification
   * (session-homes.ts: from a copy that is not the host's home for its shard) to
   * drop it (processed, firing nothing) or to take it later (it and those after it
   * are not processed now: their shard sends them again). Returns the last seq processed.
   */
  process(
    shardKey: string,
    notifications: WatchNotification[],
    identitiesOf: IdentitiesOf,
    emit: (sessionId: number, event: EventMessage) => void,
    judge: (n: WatchNotification) => NotificationVerdict = () => "fire",
  ): number {
    let last = this.ackSeq(shardKey);
    let zxid = this.handedOver(shardKey);
    const start = last;
    // Each session's identities are read once per delivery, however many events it gets.
    const known = new Map<number, readonly Id[]>();
    const idsOf = (sessionId: number): readonly Id[] => {
      let ids = known.get(sessionId);
      if (!ids) known.set(sessionId, (ids = identitiesOf(sessionId)));
      return ids;
    };
    let lasting = false;
    // Judged in seq order, up to the first to take later (it and those after it come again).
    const taken: { n: WatchNotification; verdict: NotificationVerdict }[] = [];
    for (const n of [...notifications].sort((a, b) => a.seq - b.seq)) {
      if (n.seq <= last) continue;
      const verdict = judge(n);
      if (verdict === "later") break;
      taken.push({ n, verdict });
      last = n.seq;
    }
    // Fanned out in zxid order (a stable sort: one change's events keep theirs): a copy's
    // outbox may hold a watch's catch-up (syncHost, from an older zxid) behind what it had
    // fired live and the host not yet acknowledged.
    for (const { n, verdict } of taken.sort((a, b) => a.n.zxid - b.n.zxid)) {
      if (verdict === "drop") continue;
      for (const [sessionId, event] of this.fanOut(n, idsOf, verdict === "covered")) {
        lasting ||= !firesOnce(event.kind);
        emit(sessionId, event);
      }
      // Only home's count as handed over: a copy that is not home may run ahead of home.
      zxid = Math.max(zxid, n.zxid);
    }
    if (last === start) return last;
    this.seqs.set(shardKey, { seq: last, zxid });
    this.unwritten.add(shardKey);
    // A lasting watch would fire again for a notification processed again after a restart:
    // write now; so too when an event was queued (a commit is made for it anyway).
    if (lasting || this.queuedEvent) this.flush();
    else this.flushSoon();
    return last;
  }

  /**
   * The events one notification causes: one per session watch it fires, one-shot
   * ones dropped, lasting ones only for sessions that may read the node (and none with `oneShotOnly`).
   */
  private fanOut(n: WatchNotification, idsOf: IdentitiesOf, oneShotOnly: boolean): [number, EventMessage][] {
    if (n.event === "ACLChanged") return [];
    const event = n.event;
    const fires = watchesFiredBy(event, n.path);
    const own = oneShotOnly ? fires.kinds.filter(firesOnce) : fires.kinds;
    const recursivePaths = oneShotOnly ? [] : fires.recursivePaths;
    const fired: (WatchRow & { shard: string })[] = [];
    if (own.length > 0) {
      fired.push(
        ...this.sql
          .exec<WatchRow & { shard: string }>(
            `SELECT session_id, path, kind, shard FROM session_watches WHERE path = ? AND set_zxid < ? AND kind IN (${own.map(() => "?").join(", ")})`,
            n.path,
            n.zxid,
            ...own,
          )
          .toArray(),
      );
    }
    if (recursivePaths.length > 0) {
      fired.push(
        ...inChunks(recursivePaths, (chunk, marks) =>
          this.sql
            .exec<WatchRow & { shard: string }>(
              `SELECT session_id, path, kind, shard FROM session_watches WHERE kind = 'recursive' AND set_zxid < ? AND path IN (${marks})`,
              n.zxid,
              ...chunk,
            )
            .toArray(),
        ),
      );
    }
    const firing = fired.filter((w) => !this.isFired(w)).sort((a, b) => a.session_id - b.session_id);
    // One-shot rows go from memory now, from SQLite with the next write (see `flush`).
    for (const w of firing) if (firesOnce(w.kind)) this.fired.set(rowKey(w.session_id, w.path, w.kind), w);
    return firing
      .filter((w) => firesOnce(w.kind) || mayReadNode(n.acl, idsOf(w.session_id)))
      .map((w) => [w.session_id, { t: "event", sid: w.session_id, event, path: n.path, zxid: n.zxid, shard: w.shard, kind: w.kind, watchPath: w.path }]);
  }

  /**
   * Keeps an event for a session with no socket, or held until an answer is sent: it is
   * written with its notification's seq (one commit), so a host restarted before
   * sending it has it still. Returns its number in the queue.
   */
  queue(sessionId: number, message: ServerMessage): number {
    const { n } = this.sql.exec<{ n: number }>("INSERT INTO session_events (session_id, message) VALUES (?, ?) RETURNING n", sessionId, JSON.stringify(message)).one();
    this.queuedEvent = true;
    return n;
  }

  /** A queued event was sent (a held one, once its answer was): it goes from the queue. */
  unqueue(n: number): void {
    this.sql.exec("DELETE FROM session_events WHERE n = ?", n);
  }

  /** A resumed session's queued events, in order, less those held now (`held`: their numbers); they are removed. */
  takeQueued(sessionId: number, held: ReadonlySet<number> = new Set()): ServerMessage[] {
    const rows = this.sql
      .exec<{ n: number; message: string }>("SELECT n, message FROM session_events WHERE session_id = ? ORDER BY n", sessionId)
      .toArray()
      .filter((r) => !held.has(r.n));
    for (const r of rows) this.unqueue(r.n);
    return rows.map((r) => JSON.parse(r.message) as ServerMessage);
  }
}
