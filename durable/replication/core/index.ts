/**
 * The replication core: plain TypeScript behind ports (storage, network, clock,
 * randomness). ShardDO's leader side is LeaderLog over SQLite (../sqlite-storage.ts);
 * test/sim/ drives LeaderCore and ReplicaCore over memory. See
 * docs/architecture.md, "Replication core".
 */
export type { Clock, LogSpan, Network, Random, RowKey, Sleep, Storage, StorageTxn, TableName } from "./ports.ts";
export type { AnyLogEntry, Effect, LogEntry, Meta, PeerRow, Reply, Role, SessionRow, SnapshotCursor, SnapshotProgress, WriteOp, ZnodeRow } from "./rows.ts";
export type { Fenced, LeaderRequest, PullReply, PullRequest, PushPage, SnapshotReply, SnapshotRequest } from "./messages.ts";
export type { CommitListener } from "./commit-signal.ts";
export { DEFAULT_REPLICATION_SETTINGS, type ReplicationSettings } from "./settings.ts";
export { LeaderCore, LeaderLog, PROGRESS_NOTE_MS, type ReadResult, type Sequenced } from "./leader.ts";
export { ReplicaCore, readApplied, type Behind, type ReplicaPorts } from "./replica.ts";
export { parentOf } from "./executor.ts";
export { REPLICA_TRIM_BATCH_ENTRIES, readMeta, slowestLiveReplica } from "./log.ts";
export { DEFAULT_HANDOVER_SETTINGS, recordHandover, runHandover, type CopyState, type Handover, type HandoverCalls, type HandoverOutcome, type HandoverSettings, type HandoverStep, type Placement, type PlacementStore } from "./handover.ts";
export { DEFAULT_PLACEMENT_POLICY, advisePlacement, leaderMoved, newPlacementState, noteWrites, type DecayedCounts, type PlacementAdvice, type PlacementPolicy, type PlacementState } from "./leader-placement.ts";
export { recordFailover, runFailover, type Failover, type FailoverCalls, type FailoverOutcome, type FailoverPlan, type FailoverStep } from "./failover.ts";
export { TXN_MAX_AGE_MS, TxnParts, type PartRow, type PartState, type PrepareSteps, type TxnFate, type TxnPartPorts } from "./txn-parts.ts";
export { CheckHolds, HOLD_RESOLVE_AFTER_MS, holdKeysOf, holdKeysWritten, keysPrepareWaitsOn, type AskDecider, type HeldTxn, type HoldStore, type PreparedWrites } from "./txn-holds.ts";
