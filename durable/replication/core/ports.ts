/**
 * The replication core's only view of its platform. A Durable Object adapter
 * implements these with SQLite (`transactionSync`), RPC and alarms; the simulator
 * (test/sim/) with memory, a seeded PRNG and a logical clock that can crash.
 */

/** A row key: numbers (zxids, session ids) and strings (paths) sort as themselves. */
export type RowKey = string | number;

/**
 * The tables the core keeps; each holds rows by key. "subtree": what the shard
 * serves, and "txn": the shard's part in transactions across shards, each as its
 * adapter describes it (replicated with the rows; the simulator has neither).
 */
export type TableName = "meta" | "subtree" | "znode" | "session" | "txn" | "log" | "peer";

/** One synchronous transaction: everything in it commits together or, on a crash, not at all. */
export interface StorageTxn {
  get<R>(table: TableName, key: RowKey): R | undefined;
  put<R>(table: TableName, key: RowKey, row: R): void;
  delete(table: TableName, key: RowKey): void;
  /** Rows with a key greater than `after` (all when undefined), ascending, at most `limit`. */
  scan<R>(table: TableName, after: RowKey | undefined, limit: number): Array<[RowKey, R]>;
  deleteAll(table: TableName): void;
  /**
   * The log's entries after `after` (all when undefined), ascending, at most `limit`,
   * as zxid and size only: what trimming and pulls need, without reading whole entries
   * (values of up to 1 MiB each).
   */
  logSizes(after: number | undefined, limit: number): Array<[zxid: number, size: number]>;
  /** The log's entries after `after`: the last one's zxid (undefined: none), how many, and their sizes' sum. */
  logAfter(after: number): LogSpan;
}

/** A run of log entries: its last zxid (undefined when empty), its length and bytes. */
export interface LogSpan {
  lastZxid: number | undefined;
  entries: number;
  bytes: number;
}

/**
 * Storage with synchronous transactions, as SQLite's `transactionSync`: the body
 * may not await, so nothing decided in it can be acted on before it commits.
 */
export interface Storage {
  transact<T>(body: (txn: StorageTxn) => T): T;
  /**
   * A body that only reads. Storage whose synchronous reads are consistent without
   * one (SQLite in a Durable Object) may run it outside a transaction; else `transact`.
   */
  read?<T>(body: (txn: StorageTxn) => T): T;
}

/** A wait that can be called off: `elapsed` resolves after its time unless `cancel` came first (then never). */
export interface Sleep {
  elapsed: Promise<void>;
  /** Frees the timer (a wait that lost a race must not hold one until it fires). */
  cancel(): void;
}

/** Time and waiting. A crash at any await abandons the wait. */
export interface Clock {
  now(): number;
  sleep(ms: number): Sleep;
}

/** Uniform in [0, 1). */
export interface Random {
  next(): number;
}

/**
 * Request/response to a named peer; it may fail (reject), be delayed, duplicated or
 * reordered. `pushed`, when given, takes the messages the peer pushes back while the
 * request is open (a streaming pull's pages), which may be lost, duplicated or
 * reordered too; it answers whether the peer should push more.
 */
export interface Network {
  request<Q, A>(peer: string, message: Q, pushed?: (push: A) => boolean): Promise<A>;
}
