/**
 * The replication core: plain TypeScript behind ports (storage, network, clock,
 * randomness). Not yet wired into ShardDO; test/sim/ drives it. See
 * docs/architecture.md, "Replication core".
 */
export type { Clock, Network, Random, RowKey, Storage, StorageTxn, TableName } from "./ports.ts";
export type { Effect, LogEntry, Meta, PeerRow, Reply, Role, SessionRow, SnapshotCursor, SnapshotProgress, WriteOp, ZnodeRow } from "./rows.ts";
export type { Fenced, LeaderRequest, PullReply, PullRequest, SnapshotReply, SnapshotRequest } from "./messages.ts";
export type { CommitListener } from "./commit-signal.ts";
export { DEFAULT_REPLICATION_SETTINGS, type ReplicationSettings } from "./settings.ts";
export { LeaderCore, type ReadResult } from "./leader.ts";
export { ReplicaCore, type Behind, type ReplicaPorts } from "./replica.ts";
export { parentOf } from "./executor.ts";
export { slowestLiveReplica } from "./log.ts";
