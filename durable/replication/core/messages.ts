/** What a replica asks its leader, and the answers: the wire between two shard objects. */
import type { AnyLogEntry, LogEntry, SnapshotCursor } from "./rows.ts";

/**
 * Entries after `fromZxid`, which also tells the leader the replica has applied
 * through it. A `pipelined` pull, sent while others are out, asks instead for the
 * entries after those the leader last answered this replica with (pull-streams.ts).
 */
export interface PullRequest {
  type: "pull";
  replica: string;
  fromZxid: number;
  maxBytes: number;
  pipelined?: boolean;
}

/**
 * `E`: the entries' type (the simulator's rows by default; the shard object's own).
 * `logId`: the identity of the leader's log (log-identity.ts): a replica applies
 * nothing from another log than the one its rows came from.
 */
export type PullReply<E extends AnyLogEntry = LogEntry> =
  /**
   * The leader's log after `afterZxid` (its request's fromZxid, or for a pipelined
   * pull where the last answer ended): the replica applies it only once it has
   * applied `afterZxid`, since across an epoch's end no zxid says what came before.
   */
  | {
      kind: "entries";
      afterZxid: number;
      entries: E[];
      /** The leader's head as this replica may see it: for a geo-tier leader's read replica, what a sync replica holds. */
      leaderZxid: number;
      logId: string;
      /** The epoch of the leader that answered: a replica that promised a later one applies nothing from it. */
      epoch: number;
      /**
       * How long the leader had held the pull (parked or streaming) when it read this
       * page, by its own clock: what the page shows was committed at least that long
       * after the pull was sent, so a replica's freshness may count from then.
       */
      heldMs?: number;
      /** The replica is one of a geo-tier leader's sync replicas: it keeps pulling though nobody reads it. */
      sync?: true;
    }
  /** The leader no longer holds the entry after fromZxid (or never had fromZxid): take a snapshot. */
  | { kind: "snapshot-needed"; leaderZxid: number; logId: string }
  | Fenced;

/**
 * How a leader pushes pages to the replica of a streaming pull (one the replica sent
 * with a way back: Network's `pushed`): each page is an "entries" answer that follows
 * the one before. Resolves to whether the replica wants more (false: it found a gap,
 * or stopped), rejects when the push was lost.
 */
export type PushPage<E extends AnyLogEntry = LogEntry> = (page: PullReply<E>) => Promise<boolean>;

/** A page of the leader's rows; `startZxid` absent asks for a new snapshot. */
export interface SnapshotRequest {
  type: "snapshot";
  replica: string;
  startZxid?: number;
  cursor: SnapshotCursor | null;
  maxBytes: number;
}

export type SnapshotReply<E extends AnyLogEntry = LogEntry> =
  | {
      kind: "page";
      startZxid: number;
      /** The leader's commit point when it read this page: reads wait until the replica has applied it. */
      pageZxid: number;
      /** The cursor this page started from, so a late or duplicated page is recognised. */
      cursor: SnapshotCursor | null;
      /** The identity of the leader's log: a snapshot's pages all come from one log. */
      logId: string;
      /** As an entries page's. */
      epoch: number;
      rows: E["effects"];
      next: SnapshotCursor | null;
    }
  /** The log no longer reaches back to the snapshot's start (it was trimmed past it meanwhile): the snapshot starts over. */
  | { kind: "snapshot-needed"; leaderZxid: number; logId: string }
  | Fenced;

/**
 * The object is not (or no longer) the leader, as its storage says. `leader`: the
 * object it was told leads after it (a leader that handed its shard over), where a
 * caller or a replica goes next; absent, the caller asks the directory.
 */
export interface Fenced {
  kind: "fenced";
  role: "replica" | "sealed" | "leader";
  epoch: number;
  leader?: string;
}

export type LeaderRequest = PullRequest | SnapshotRequest;
