/**
 * What a session host's watch is owed when the host sets it again at a shard
 * object (syncHost) with the zxid it was last shown there (`sinceZxid`): the
 * changes since then that the watch would have fired, as ZooKeeper's setWatches
 * decides, and whether the watch stays armed. While the change log reaches back to
 * `sinceZxid` the answer is exact (its events, in order); past it, the rows say
 * what changed, but not every change:
 * - data (getData/exists): gone -> NodeDeleted; created since -> NodeCreated;
 *   changed since (mzxid) -> NodeDataChanged;
 * - child: gone -> NodeDeleted; children changed since (pzxid, after its create) -> NodeChildrenChanged;
 * - persistent: as data, plus NodeChildrenChanged by pzxid;
 * - recursive: as data for its node and every node below it (deletes below it are
 *   not seen once the log has lost them).
 * A one-shot watch fires at most once: its first event, and it is not armed again.
 */
import {
  type ChangeEventType,
  type GuardedChange,
  KeeperError,
  type Limits,
  WATCH_KINDS,
  type WatchKind,
  firesOnce,
  validatePath,
  watchFires,
} from "../../protocol/index.ts";
import type { ChangeLog } from "./change-log.ts";
import { type ZnodeRow, ZnodeStore, rowFromSql } from "./znode-store.ts";

/** A watch a host sets again, with the last zxid of this shard the host has been shown. */
export interface HostWatch {
  path: string;
  kind: WatchKind;
  sinceZxid: number;
}

/** How far the change log and the rows reach: events after `trimmedZxid` are held; the rows show `appliedZxid`. */
export interface LogReach {
  trimmedZxid: number;
  appliedZxid: number;
}

/** Checks a host's watch list (BadArguments naming the first bad one); answers it typed. */
export function parseHostWatches(watches: unknown, limits: Pick<Limits, "maxPathBytes" | "maxPathDepth">): HostWatch[] {
  if (!Array.isArray(watches)) throw new KeeperError("BadArguments", "watches must be a list of { path, kind, sinceZxid }");
  return watches.map((watch: unknown): HostWatch => {
    const { path, kind, sinceZxid } = (watch ?? {}) as Partial<HostWatch>;
    validatePath(path, limits);
    if (!WATCH_KINDS.includes(kind as WatchKind)) throw new KeeperError("BadArguments", `a watch's kind must be one of ${WATCH_KINDS.join(", ")}`, path);
    if (!Number.isSafeInteger(sinceZxid) || (sinceZxid as number) < 0) throw new KeeperError("BadArguments", "a watch's sinceZxid must be a whole number, 0 or more", path);
    return { path, kind: kind as WatchKind, sinceZxid: sinceZxid as number };
  });
}

export class WatchCatchUp {
  private readonly sql: SqlStorage;
  private readonly store: ZnodeStore;
  private readonly log: ChangeLog;

  constructor(sql: SqlStorage, store: ZnodeStore, log: ChangeLog) {
    this.sql = sql;
    this.store = store;
    this.log = log;
  }

  /**
   * The events each of `watches` is owed here, in zxid order, and whether it stays
   * armed. The change log is read once, from the oldest sinceZxid it reaches (it is
   * bounded by EDGEKEEPER_CHANGE_LOG_WINDOW writes), however many watches there are.
   */
  owed(watches: HostWatch[], reach: LogReach): { events: GuardedChange[]; armed: boolean }[] {
    const logged = watches.filter((w) => reach.trimmedZxid <= w.sinceZxid);
    // Every event the log holds after the oldest sinceZxid (the log, not a page of it).
    const tail = logged.length > 0 ? this.log.since(logged.reduce((oldest, w) => Math.min(oldest, w.sinceZxid), Infinity), Number.MAX_SAFE_INTEGER) : [];
    return watches.map((watch) => {
      const events =
        reach.trimmedZxid <= watch.sinceZxid
          ? tail.filter((change) => change.zxid > watch.sinceZxid && watchFires(watch, change))
          : this.byRows(watch, reach.appliedZxid);
      if (!firesOnce(watch.kind)) return { events, armed: true };
      return events.length > 0 ? { events: events.slice(0, 1), armed: false } : { events: [], armed: true };
    });
  }

  /** setWatches by the rows: what the watched nodes show changed since sinceZxid (a delete dated `appliedZxid`, its ACL unknown). */
  private byRows(watch: HostWatch, appliedZxid: number): GuardedChange[] {
    const since = watch.sinceZxid;
    const row = this.store.get(watch.path);
    if (!row) return [{ zxid: appliedZxid, event: "NodeDeleted", path: watch.path, acl: undefined }];
    const events: GuardedChange[] = [];
    const nodeChanged = (node: ZnodeRow) => {
      if (node.mzxid > since) events.push(changeOf(node, node.czxid > since ? "NodeCreated" : "NodeDataChanged", node.czxid > since ? node.czxid : node.mzxid));
    };
    // A node created since shows its create, and its children's changes only after it.
    const childrenChanged = () => {
      if (row.pzxid > Math.max(since, row.czxid)) events.push(changeOf(row, "NodeChildrenChanged", row.pzxid));
    };
    switch (watch.kind) {
      case "data":
        nodeChanged(row);
        break;
      case "child":
        childrenChanged();
        break;
      case "persistent":
        nodeChanged(row);
        childrenChanged();
        break;
      case "recursive":
        nodeChanged(row);
        for (const node of this.changedBelow(watch.path, since)) nodeChanged(node);
        break;
    }
    return events.sort((a, b) => a.zxid - b.zxid);
  }

  /** The nodes strictly below `path` created or changed after `zxid` (a range scan of the primary key). */
  private changedBelow(path: string, zxid: number): ZnodeRow[] {
    const { lo, hi } = below(path);
    return this.sql.exec("SELECT * FROM znodes WHERE path > ? AND path < ? AND mzxid > ?", lo, hi, zxid).toArray().map(rowFromSql);
  }
}

function changeOf(row: ZnodeRow, event: ChangeEventType, zxid: number): GuardedChange {
  return { zxid, event, path: row.path, acl: row.acl };
}

/** The key range of the paths strictly below `path` ("0" is the character after "/"). */
function below(path: string): { lo: string; hi: string } {
  return path === "/" ? { lo: "/", hi: "0" } : { lo: `${path}/`, hi: `${path}0` };
}
