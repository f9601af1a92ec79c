/**
 * This shard's part in multis across shards (durable/directory/cross-shard-multi.ts),
 * as rows of the replication core's "txn" table: logged and replicated with the
 * rows, so a replica, and the copy a move or a failover makes leader, holds them too.
 *
 * - The deciding shard (its part holds the multi's first write) commits the multi by
 *   its part's write, which logs `decided: committed`. Asked by a shard holding part
 *   of it before that, it stores `aborted` (here only) and never commits it. Only the
 *   copy the router named (`txn.decider`) commits it, so that copy's answer is the
 *   decision wherever the shard leads now: a copy that does not lead never commits.
 * - Another writing shard prepares its part: checks it as it would apply now, logs it
 *   (`prepared`), which holds what it touches (check-holds.ts), and once the multi is
 *   committed (the router says so, or its own alarm asked the decider) applies it
 *   (`applied`, the outcome kept for a commit sent again); dropped when aborted.
 *
 * Rows but prepared ones are forgotten after ROW_KEEP_MS, far past any
 * transaction's life (TXN_MAX_AGE_MS).
 */
import { type Caller, type CrossShardTxn, KeeperError, type MultiWriteOp, type Outcome } from "../../protocol/index.ts";
import type { RowKey } from "../replication/core/index.ts";
import { type SqlTable, decodeRow, encodeRow } from "../replication/sqlite-storage.ts";
import { type CheckHolds, TXN_MAX_AGE_MS, type TxnFate, holdKeysOf } from "./check-holds.ts";

export const TXN_SCHEMA = [
  // Decisions before they were replicated: transient, so dropped.
  `DROP TABLE IF EXISTS txn_decisions`,
  `CREATE TABLE IF NOT EXISTS txn_rows (txn TEXT PRIMARY KEY, kind TEXT NOT NULL, row TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`,
];

const ROW_KEEP_MS = 10 * 60_000;

/** A writing shard's part, prepared: the caller's ops as it sent them (text: values are bytes), and the hold keys they take. */
export interface PreparedPart {
  kind: "prepared";
  txn: CrossShardTxn;
  at: number;
  caller: Caller;
  cxid?: number;
  ops: string;
  keys: string[];
}

/** A transaction's row at this shard (the module comment says which and when). */
export type TxnRow =
  | { kind: "decided"; decision: "committed"; zxid: number; at: number; outcome: Outcome }
  | { kind: "decided"; decision: "aborted"; at: number }
  | PreparedPart
  | { kind: "applied"; at: number; outcome: Outcome };

/** How the copy asked about a transaction stands: whether its rows are whole, what it may call decided, whether it is the named decider, and whether it leads. */
export interface DeciderState {
  readable: boolean;
  /** The highest zxid it may call decided (its acknowledged one, for a geo-tier leader). */
  acknowledgedZxid: number;
  decides: boolean;
  leads: boolean;
  /** A multi of a higher id waits for the transaction's holds: it is not given up now. */
  spared: boolean;
}

/** `TxnDecisions.resolve`'s answer when a copy leading in the named one's place is to give the transaction up, by a logged row. */
export const GIVE_UP = "give up" as const;

/** The core's "txn" table over txn_rows; a prepared part's holds come and go with its row. */
export class TxnRows implements SqlTable {
  private readonly sql: SqlStorage;
  private readonly holds: () => CheckHolds;

  constructor(sql: SqlStorage, holds: () => CheckHolds) {
    this.sql = sql;
    this.holds = holds;
  }

  get(key: RowKey): TxnRow | undefined {
    const row = this.sql.exec<{ row: string }>("SELECT row FROM txn_rows WHERE txn = ?", String(key)).toArray()[0];
    return row ? (JSON.parse(row.row) as TxnRow) : undefined;
  }

  /** The transaction's prepared part here, if it holds one. */
  prepared(txn: string): PreparedPart | undefined {
    const row = this.get(txn);
    return row?.kind === "prepared" ? row : undefined;
  }

  /** The hold keys of every part prepared here for `session`'s multis. */
  preparedKeysOf(session: number): string[] {
    return this.sql
      .exec<{ row: string }>("SELECT row FROM txn_rows WHERE kind = 'prepared'")
      .toArray()
      .map(({ row }) => JSON.parse(row) as PreparedPart)
      .filter((part) => part.caller.sessionId === session)
      .flatMap((part) => part.keys);
  }

  put(key: RowKey, row: unknown): void {
    const txnRow = row as TxnRow;
    this.sql.exec("DELETE FROM txn_rows WHERE at < ? AND kind != 'prepared'", txnRow.at - ROW_KEEP_MS);
    this.sql.exec("INSERT OR REPLACE INTO txn_rows (txn, kind, row, at) VALUES (?, ?, ?, ?)", String(key), txnRow.kind, JSON.stringify(txnRow), txnRow.at);
    if (txnRow.kind === "prepared") this.holds().hold(txnRow.txn, txnRow.keys, txnRow.at);
    else this.holds().release(String(key));
  }

  delete(key: RowKey): void {
    this.sql.exec("DELETE FROM txn_rows WHERE txn = ?", String(key));
    this.holds().release(String(key));
  }

  scan(after: RowKey | undefined, limit: number): Array<[RowKey, unknown]> {
    return this.sql
      .exec<{ txn: string; row: string }>("SELECT txn, row FROM txn_rows WHERE txn > ? ORDER BY txn LIMIT ?", after === undefined ? "" : String(after), limit)
      .toArray()
      .map(({ txn, row }) => [txn, JSON.parse(row) as unknown]);
  }

  deleteAll(): void {
    this.sql.exec("DELETE FROM txn_rows");
    this.holds().releaseAll();
  }
}

/** The row preparing `ops` for the transaction (logged by the write that prepares them). */
export function preparedPart(txn: CrossShardTxn, caller: Caller, cxid: number | undefined, ops: MultiWriteOp[], now: number): PreparedPart {
  return { kind: "prepared", txn: { id: txn.id, startedAt: txn.startedAt, decider: txn.decider }, at: now, caller, ...(cxid === undefined ? {} : { cxid }), ops: encodeRow(ops), keys: holdKeysOf(ops) };
}

/** A prepared part's ops, as its caller sent them. */
export function preparedOps(part: PreparedPart): MultiWriteOp[] {
  return decodeRow(part.ops) as MultiWriteOp[];
}

/** What the deciding copy (`self`) decides of its transactions. */
export class TxnDecisions {
  private readonly rows: TxnRows;
  private readonly self: string;

  constructor(rows: TxnRows, self: string) {
    this.rows = rows;
    this.self = self;
  }

  /** Whether this copy decides `txn` (else it holds a part prepared for it). */
  decides(txn: CrossShardTxn): boolean {
    return this.isSelf(txn.decider);
  }

  /** Whether `name` is this copy's. */
  isSelf(name: string): boolean {
    return name === this.self;
  }

  /** The answer of this copy's part of `txn` when it committed it already (its part sent again): it is not applied again. */
  committed(txn: CrossShardTxn): Outcome | undefined {
    const row = this.rows.get(txn.id);
    return row?.kind === "decided" && row.decision === "committed" ? row.outcome : undefined;
  }

  /**
   * The row that commits `txn` with its part's answer (put and logged by the write of
   * its part). Throws OperationTimeout when it was given up or is too old to commit,
   * BadArguments when this copy is not the one its router named.
   */
  commit(txn: CrossShardTxn, outcome: Outcome, now: number): TxnRow {
    if (txn.decider !== this.self) throw new KeeperError("BadArguments", "a multi across shards commits only at the copy its router named");
    const row = this.rows.get(txn.id);
    if (row?.kind === "decided" || now - txn.startedAt > TXN_MAX_AGE_MS) {
      throw new KeeperError("OperationTimeout", "the multi across shards took too long and was given up: nothing was applied; send it again");
    }
    return { kind: "decided", decision: "committed", zxid: outcome.zxid, at: now, outcome };
  }

  /**
   * What became of a transaction this shard decides (call in a transaction): committed
   * once its row is one this copy may call decided; unknown while its rows are not
   * whole, or while it is spared; else, at the named copy, aborted from now on (stored:
   * it never commits it after). Another copy that leads (so the named one no longer
   * does, and never commits it) answers GIVE_UP, for its caller to log; another that
   * does not lead cannot say.
   */
  resolve(txn: string, now: number, copy: DeciderState): TxnFate | typeof GIVE_UP {
    const row = this.rows.get(txn);
    if (row?.kind === "decided" && row.decision === "committed") return copy.readable && row.zxid <= copy.acknowledgedZxid ? "committed" : "unknown";
    if (row?.kind === "decided") return "aborted";
    if (!copy.readable || copy.spared) return "unknown";
    if (!copy.decides) return copy.leads ? GIVE_UP : "unknown";
    this.rows.put(txn, { kind: "decided", decision: "aborted", at: now });
    return "aborted";
  }
}
