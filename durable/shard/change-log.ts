/**
 * The shard's sequencer and ordered change log. Every committed write takes the
 * next zxid (epoch << 32 | counter, read from SQLite on the write path) and appends
 * its events; the log keeps a bounded window of zxids.
 */
import { type Acl, type ChangeEventType, type GuardedChange, makeZxid, type Outcome, zxidCounter, zxidEpoch } from "../../protocol/index.ts";
import { type ZnodeRow } from "./znode-store.ts";

const TRIM_EVERY = 256;
/**
 * How many cxids back a session's write replies are kept: a retried pipelined batch
 * finds every reply (a client keeps far fewer requests in flight).
 */
const REPLY_WINDOW = 1024;

export class ChangeLog {
  private seq = 0;
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  private meta(key: string): number | undefined {
    const row = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  private setMeta(key: string, value: number | string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** Starts the sequence at epoch 1 on a new shard; a no-op afterwards. */
  initialize(): void {
    if (this.meta("epoch") === undefined) {
      this.setMeta("epoch", 1);
      this.setMeta("counter", 0);
    }
  }

  /** The last committed zxid. */
  lastZxid(): number {
    return makeZxid(this.meta("epoch") ?? 1, this.meta("counter") ?? 0);
  }

  /**
   * Moves the sequence on to `zxid` if it is behind (a restore: the restored nodes'
   * zxids must stay below every later write's).
   */
  advanceTo(zxid: number): void {
    if (zxid <= this.lastZxid()) return;
    this.setMeta("epoch", zxidEpoch(zxid));
    this.setMeta("counter", zxidCounter(zxid));
  }

  /** Takes the next zxid. Call inside the write's transaction, so a rollback returns it. */
  nextZxid(): number {
    const counter = (this.meta("counter") ?? 0) + 1;
    this.setMeta("counter", counter);
    this.seq = 0;
    return makeZxid(this.meta("epoch") ?? 1, counter);
  }

  /**
   * Appends one event of the current write, with the node's resulting row when it
   * still exists and the ACL that guards the event (see GuardedChange).
   */
  append(zxid: number, event: ChangeEventType, path: string, acl: Acl[], row: ZnodeRow | undefined, sessionId: number, cxid: number | undefined): void {
    const node = row ? JSON.stringify({ ...row, data: undefined }) : null;
    const data = row && (event === "NodeCreated" || event === "NodeDataChanged") ? row.data : null;
    this.sql.exec(
      "INSERT INTO change_log (zxid, seq, event, path, node, data, session_id, cxid, acl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      zxid, this.seq++, event, path, node, data, sessionId, cxid ?? null, JSON.stringify(acl),
    );
  }

  /** Drops entries older than the window, now and then. */
  trim(zxid: number, window: number): void {
    if (zxid % TRIM_EVERY === 0) this.sql.exec("DELETE FROM change_log WHERE zxid <= ?", zxid - window);
  }

  /**
   * Events committed after `zxid`, in commit order (for watches and resume), each
   * with its ACL. Rows logged before ACLs were recorded fall back to their node's
   * row; a delete of that time has neither, and shows to super only.
   */
  since(zxid: number, limit = 10_000): GuardedChange[] {
    return this.sql
      .exec<{ zxid: number; event: ChangeEventType; path: string; acl: string | null }>(
        "SELECT zxid, event, path, coalesce(acl, json_extract(node, '$.acl')) AS acl FROM change_log WHERE zxid > ? ORDER BY zxid, seq LIMIT ?",
        zxid,
        limit,
      )
      .toArray()
      .map(({ zxid, event, path, acl }) => ({ zxid, event, path, acl: acl === null ? undefined : (JSON.parse(acl) as Acl[]) }));
  }

  /** The oldest zxid still in the log, or undefined when it is empty. */
  oldestZxid(): number | undefined {
    const row = this.sql.exec<{ z: number | null }>("SELECT min(zxid) AS z FROM change_log").one();
    return row.z ?? undefined;
  }

  /** The stored reply to a session's write with this cxid, if it was already applied. */
  replyFor(sessionId: number, cxid: number): Outcome | undefined {
    const row = this.sql
      .exec<{ reply: string }>("SELECT reply FROM write_replies WHERE session_id = ? AND cxid = ?", sessionId, cxid)
      .toArray()[0];
    return row ? (JSON.parse(row.reply) as Outcome) : undefined;
  }

  /** Stores a write's reply, keeping the session's last REPLY_WINDOW cxids. */
  rememberReply(sessionId: number, cxid: number, reply: Outcome): void {
    this.sql.exec(
      `INSERT INTO write_replies (session_id, cxid, reply) VALUES (?, ?, ?)
       ON CONFLICT (session_id, cxid) DO UPDATE SET reply = excluded.reply`,
      sessionId, cxid, JSON.stringify(reply),
    );
    this.sql.exec("DELETE FROM write_replies WHERE session_id = ? AND cxid <= ?", sessionId, cxid - REPLY_WINDOW);
  }

  forgetSession(sessionId: number): void {
    this.sql.exec("DELETE FROM write_replies WHERE session_id = ?", sessionId);
  }
}
