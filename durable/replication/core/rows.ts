/**
 * What the core stores and ships: znode and session rows, the effects a write
 * has on them, and the log entry (effects plus commit record) for each zxid.
 */
import type { KeeperErrorName, Stat } from "../../../protocol/index.ts";

/** A znode as the core stores it. `data` is text here; the adapter will store bytes. */
export interface ZnodeRow {
  path: string;
  data: string;
  stat: Stat;
}

/** A session's commit record: its last applied cxid and the reply it got, so a retry is answered, not re-run. */
export interface SessionRow {
  session: number;
  lastCxid: number;
  reply: Reply;
  /** A closed session may not write again (its ephemerals are gone). */
  closed: boolean;
}

/**
 * One row a write sets (row) or removes (row null). Replicas apply these; they never
 * re-execute. The rows are opaque to the core outside its executor: the simulator
 * uses the core's own rows, the shard object its full znode rows and stored replies.
 */
export type Effect<Z = ZnodeRow, S = SessionRow> =
  | { table: "subtree"; key: string; row: unknown }
  | { table: "txn"; key: string; row: unknown }
  | { table: "znode"; key: string; row: Z | null }
  | { table: "session"; key: string | number; row: S | null };

export type WriteOp =
  | { op: "create"; path: string; data: string; ephemeral?: boolean }
  | { op: "setData"; path: string; data: string; version: number }
  | { op: "delete"; path: string; version: number }
  | { op: "check"; path: string; version: number }
  | { op: "multi"; ops: WriteOp[] }
  | { op: "closeSession" };

/** A write's answer: its zxid (the last committed one when it failed), and an error, a Stat, or per-op results. */
export interface Reply {
  zxid: number;
  error?: KeeperErrorName;
  stat?: Stat;
  results?: Reply[];
}

/**
 * The log entry for one zxid: the txn of effects and its commit record.
 * `snapshot` is the initial tree at (epoch, 0); `epoch-start` opens a later epoch at (epoch, 0).
 */
export interface LogEntry<Z = ZnodeRow, S = SessionRow, R = Reply> {
  zxid: number;
  epoch: number;
  kind: "write" | "close-session" | "snapshot" | "epoch-start";
  session: number;
  cxid: number;
  effects: Array<Effect<Z, S>>;
  reply: R;
  /** Bytes of the entry as shipped, counted against the log's and a page's byte bounds. */
  size: number;
}

export type Role = "leader" | "replica" | "sealed";

/** The one meta row. Read in the same transaction as every write and linearizable read. */
export interface Meta {
  role: Role;
  /** The epoch this object leads (or last led, or follows). */
  epoch: number;
  /** The highest epoch promised to anyone: a leader whose epoch is below it may not write. */
  promisedEpoch: number;
  /** The last zxid written when sealed; 0 otherwise. */
  sealedZxid: number;
  /** The last zxid whose effects are in the rows (the leader's commit point). */
  appliedZxid: number;
  /** Reads wait until appliedZxid reaches this (a replica mid-way through a fuzzy snapshot). */
  readableZxid: number;
  /** The zxid of the last entry trimmed from the log (0: none). */
  trimmedZxid: number;
  logEntries: number;
  logBytes: number;
  /** A replica taking a paged snapshot: where it started and the page to ask for next. */
  snapshot: SnapshotProgress | null;
  /**
   * Which log this is (a leader) or its rows came from (a replica), made when a
   * leader's log is created (log-identity.ts). Absent in meta stored before it existed.
   */
  logId?: string;
  /**
   * A replica replaying the log after a snapshot it installed: the zxid it had applied
   * before (-1: another log's state). Its watches fire by the rows once the replay
   * reaches readableZxid (the entries up to there fire nothing of their own).
   */
  installedFrom?: number;
  /**
   * The leader a replica follows, once told of one (a leader that handed its shard
   * over and follows its successor, or a replica told by a fenced answer); absent, the
   * one it was made for.
   */
  following?: string;
  /**
   * A geo-tier shard's sync replicas (absent: regional), named in the leader's meta: a
   * write is acknowledged once one of them holds it (sync-acks.ts).
   */
  syncReplicas?: string[];
}

export interface SnapshotProgress {
  startZxid: number;
  endZxid: number;
  cursor: SnapshotCursor | null;
  /** The log its pages come from (absent until the first page): a page of another starts the snapshot again. */
  logId?: string;
}

/** Where the next snapshot page starts: after this key of this table (null: at its start). */
export interface SnapshotCursor {
  table: "subtree" | "znode" | "session" | "txn";
  after: string | number | null;
}

/** A replica's progress as its leader knows it, from its pulls. */
export interface PeerRow {
  name: string;
  appliedZxid: number;
  lastPullAt: number;
}

/** A log entry whatever its rows: what the log, its pages and its trim handle. */
export type AnyLogEntry = LogEntry<unknown, unknown, unknown>;

export const META_KEY = "meta";

/** Snapshot progress of a replica that has not started one (its startZxid is unknown). */
export const SNAPSHOT_NOT_STARTED: SnapshotProgress = { startZxid: -1, endZxid: 0, cursor: null };

/** Size of a value as shipped (its JSON's length; the adapter counts UTF-8 bytes), so every bound is in bytes. */
export function shippedBytes(value: unknown): number {
  return JSON.stringify(value).length;
}
