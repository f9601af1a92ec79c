/**
 * What one simulated run records, as the checkers read it (test/sim/checkers/).
 * The simulator (test/sim/) writes it; the checkers never see the replication core.
 * Times are the simulator's logical clock in ms; zxids are numbers (epoch * 2^32 + counter).
 */

/** A znode seen as a register: absent, or a value with its version and the zxid that last changed it. */
export type RegisterState = { exists: false } | { exists: true; value: string; version: number; mzxid: number };

export type RegisterOp =
  | { type: "create"; path: string; value: string }
  /** expectedVersion -1 matches any version, as in ZooKeeper. */
  | { type: "set"; path: string; value: string; expectedVersion: number }
  | { type: "delete"; path: string; expectedVersion: number }
  | { type: "read"; path: string };

export type RegisterResult =
  /** A write's new state (delete: exists false) or what a read saw; zxid is the zxid the answer carries. */
  | { ok: true; state: RegisterState; zxid: number }
  | { ok: false; error: "NoNode" | "NodeExists" | "BadVersion"; zxid: number };

/** One client call. `ret` undefined: no answer reached the client (it may or may not have applied). */
export interface Call {
  kind: "call";
  id: number;
  session: number;
  shard: string;
  op: RegisterOp;
  /** Writes and linearizable reads are checked for linearizability; sequential reads for session guarantees. */
  mode: "linearizable" | "sequential";
  servedBy: "leader" | "replica";
  invokedAt: number;
  returnedAt: number | undefined;
  result: RegisterResult | undefined;
}

/** What every record of a one-shot data watch carries: whose, on what, which read set it, and when. */
interface WatchRecord {
  session: number;
  shard: string;
  path: string;
  /** The call id of the read that set the watch. */
  setBy: number;
  zxid: number;
  at: number;
}

/** A one-shot data watch set by a read (`setBy` is that read's call id), and its firing; `zxid`: the state the read saw. */
export interface WatchSet extends WatchRecord {
  kind: "watch-set";
}

/** A watch fired; `zxid`: the change that fired it. */
export interface WatchFired extends WatchRecord {
  kind: "watch-fired";
  /**
   * Fired by the rows, not the log (the copy's log no longer reached back to the
   * watch's read, as after a snapshot): ZooKeeper's setWatches rule, so `zxid` is the
   * node's last change, which may be later than the first.
   */
  guessed?: boolean;
}

/**
 * A copy kept a watch armed by its rows alone (its log no longer reached back to the
 * watch's read, or a snapshot skipped the changes since): as ZooKeeper's setWatches,
 * it cannot tell whether the node changed and changed back meanwhile. The watch ends
 * here unfired (its first change may be missed) and goes on as a new one, set at
 * `zxid`, the state the rows showed (a `watch-set` that follows).
 */
export interface WatchRearmed extends WatchRecord {
  kind: "watch-rearmed";
}

export type HistoryEntry = Call | WatchSet | WatchFired | WatchRearmed;

/** What a checker reports: nothing when the history holds. */
export interface Violation {
  checker: string;
  message: string;
  /** Call ids involved, to print the smallest failing excerpt. */
  calls: number[];
}
