/**
 * The watches a shard holds, per session host (a change watched by 1,000 sessions
 * of one host is one row and one notification; the host fans it out), and the
 * outbox of notifications each host is owed. Both are written in the transaction
 * of the write that fires them, so a notification is never lost to a restart: it
 * stays in the outbox until the host acknowledges its sequence number.
 */
import { inChunks } from "../base/sql-chunks.ts";
import { type Acl, type GuardedChange, type WatchKind, type WatchNotification, firesOnce, watchesFiredBy } from "../../protocol/index.ts";

export const WATCH_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS watches (
     host TEXT NOT NULL,
     path TEXT NOT NULL,
     kind TEXT NOT NULL,
     PRIMARY KEY (path, kind, host)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS watches_by_host ON watches (host)`,
  // acl: the event's ACL (JSON), which the host checks per session (GuardedChange);
  // added to older outboxes by ShardDO's start.
  `CREATE TABLE IF NOT EXISTS watch_outbox (
     host TEXT NOT NULL,
     seq INTEGER NOT NULL,
     zxid INTEGER NOT NULL,
     event TEXT NOT NULL,
     path TEXT NOT NULL,
     acl TEXT,
     PRIMARY KEY (host, seq)
   ) WITHOUT ROWID`,
  // push: whether the host takes pushed deliveries (a session host does; a host that
  // cannot be called back gets its notifications only on its hostExecute answers).
  `CREATE TABLE IF NOT EXISTS watch_hosts (host TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, push INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`,
];

export class WatchRegistry {
  private readonly sql: SqlStorage;
  /**
   * Acknowledgements not yet written, per host: the highest seq the host has
   * processed. Writing each one at once would cost a commit (an fsync) per push and
   * could make a read commit; so they are hidden from `pending` at once and deleted
   * with the shard's next write (`writeAcknowledged`). Lost in a restart, they only
   * make those notifications be delivered again, which the host skips by their seq.
   */
  private readonly acknowledged = new Map<string, number>();
  /**
   * What this instance knows of the watches table: "none" lets `fire` skip its queries
   * (a replica whose hosts watch nothing, at every entry it applies). Only a probe
   * says "none", and any add says "some"; a delete makes it unknown.
   */
  private holding: "none" | "some" | "unknown" = "unknown";
  /**
   * A watch was deleted in this synchronous block: a probe now could see the table
   * empty by a delete its transaction may yet roll back (a microtask runs only once
   * every synchronous transaction has ended, committed or not).
   */
  private deletedThisTurn = false;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Records how a host takes deliveries (see watch_hosts.push). */
  setPush(host: string, push: boolean): void {
    this.sql.exec(
      "INSERT INTO watch_hosts (host, last_seq, push) VALUES (?, 0, ?) ON CONFLICT (host) DO UPDATE SET push = excluded.push",
      host,
      push ? 1 : 0,
    );
  }

  /** Whether notifications for the host are pushed to it. */
  takesPush(host: string): boolean {
    return this.sql.exec<{ push: number }>("SELECT push FROM watch_hosts WHERE host = ?", host).toArray()[0]?.push === 1;
  }

  add(host: string, path: string, kind: WatchKind): void {
    this.sql.exec("INSERT OR IGNORE INTO watches (host, path, kind) VALUES (?, ?, ?)", host, path, kind);
    this.holding = "some";
  }

  /** Removes a host's watches on a path (of one kind, or all); returns how many there were. */
  remove(host: string, path: string, kind?: WatchKind): number {
    const cursor = kind
      ? this.sql.exec("DELETE FROM watches WHERE host = ? AND path = ? AND kind = ?", host, path, kind)
      : this.sql.exec("DELETE FROM watches WHERE host = ? AND path = ?", host, path);
    this.deleted();
    return cursor.rowsWritten;
  }

  private deleted(): void {
    this.holding = "unknown";
    if (this.deletedThisTurn) return;
    this.deletedThisTurn = true;
    queueMicrotask(() => (this.deletedThisTurn = false));
  }

  /** Whether the table surely holds no watch (probed once, then known until an add). */
  private holdsNone(): boolean {
    if (this.holding === "unknown" && !this.deletedThisTurn) this.holding = this.held() ? "some" : "none";
    return this.holding === "none";
  }

  /** A host's watches, for tests and for a host that resynchronises. */
  watchesOf(host: string): { path: string; kind: WatchKind }[] {
    return this.sql.exec<{ path: string; kind: WatchKind }>("SELECT path, kind FROM watches WHERE host = ? ORDER BY path, kind", host).toArray();
  }

  /**
   * Fires the watches a committed event concerns: queues a notification for each
   * host holding one and drops the one-shot watches it used up. Returns the hosts.
   * Call inside the write's transaction.
   */
  fire(change: GuardedChange): Set<string> {
    const hosts = new Set<string>();
    if (this.holdsNone()) return hosts;
    const { kinds, recursivePaths } = watchesFiredBy(change.event, change.path);
    if (kinds.length > 0) {
      const rows = this.sql
        .exec<{ host: string; kind: WatchKind }>(
          `SELECT host, kind FROM watches WHERE path = ? AND kind IN (${kinds.map(() => "?").join(", ")})`,
          change.path,
          ...kinds,
        )
        .toArray();
      for (const row of rows) {
        hosts.add(row.host);
        if (!firesOnce(row.kind)) continue;
        this.sql.exec("DELETE FROM watches WHERE host = ? AND path = ? AND kind = ?", row.host, change.path, row.kind);
        this.deleted();
      }
    }
    if (recursivePaths.length > 0) {
      const rows = inChunks(recursivePaths, (chunk, marks) =>
        this.sql.exec<{ host: string }>(`SELECT DISTINCT host FROM watches WHERE kind = 'recursive' AND path IN (${marks})`, ...chunk).toArray(),
      );
      for (const row of rows) hosts.add(row.host);
    }
    for (const host of hosts) this.enqueue(host, change);
    return hosts;
  }

  /** Whether any host holds a watch here. */
  held(): boolean {
    return this.sql.exec("SELECT 1 FROM watches LIMIT 1").toArray().length > 0;
  }

  /** Every watch held here, of every host (a replica installing a snapshot fires them all). */
  every(): { host: string; path: string; kind: WatchKind }[] {
    return this.sql.exec<{ host: string; path: string; kind: WatchKind }>("SELECT host, path, kind FROM watches").toArray();
  }

  /** Queues a notification of `change` for the host (its next seq). Call inside the transaction that decides it. */
  enqueue(host: string, change: GuardedChange): void {
    const seq = this.sql
      .exec<{ last_seq: number }>(
        `INSERT INTO watch_hosts (host, last_seq) VALUES (?, 1)
         ON CONFLICT (host) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`,
        host,
      )
      .one().last_seq;
    this.sql.exec(
      "INSERT INTO watch_outbox (host, seq, zxid, event, path, acl) VALUES (?, ?, ?, ?, ?, ?)",
      host, seq, change.zxid, change.event, change.path, change.acl === undefined ? null : JSON.stringify(change.acl),
    );
  }

  /** What a host is still owed, in order. */
  pending(host: string): WatchNotification[] {
    return this.sql
      .exec<Omit<WatchNotification, "acl"> & { acl: string | null }>(
        "SELECT seq, zxid, event, path, acl FROM watch_outbox WHERE host = ? AND seq > ? ORDER BY seq",
        host,
        this.acknowledged.get(host) ?? 0,
      )
      .toArray()
      .map(({ seq, zxid, event, path, acl }) => ({ seq, zxid, event, path, acl: acl === null ? undefined : (JSON.parse(acl) as Acl[]) }));
  }

  /** Drops the queued notifications of changes after `zxid` (a failover dropped those writes). Call inside a transaction. */
  dropQueuedAfter(zxid: number): void {
    this.sql.exec("DELETE FROM watch_outbox WHERE zxid > ?", zxid);
  }

  /** Hosts that take pushes and have notifications not yet acknowledged. */
  pushHostsOwed(): string[] {
    return this.sql
      .exec<{ host: string; last: number }>("SELECT o.host, max(o.seq) AS last FROM watch_outbox o JOIN watch_hosts h ON h.host = o.host WHERE h.push = 1 GROUP BY o.host")
      .toArray()
      .filter((r) => r.last > (this.acknowledged.get(r.host) ?? 0))
      .map((r) => r.host);
  }

  /** The host has processed every notification up to `seq` (written with the next write). */
  acknowledge(host: string, seq: number): void {
    if (seq > (this.acknowledged.get(host) ?? 0)) this.acknowledged.set(host, seq);
  }

  /** Deletes the acknowledged notifications. Call inside a write's transaction. */
  writeAcknowledged(): void {
    for (const [host, seq] of this.acknowledged) this.sql.exec("DELETE FROM watch_outbox WHERE host = ? AND seq <= ?", host, seq);
    this.acknowledged.clear();
  }

  /** Forgets unwritten acknowledgements (the storage was emptied: seqs start again at 1). */
  forgetAcknowledged(): void {
    this.acknowledged.clear();
  }
}
