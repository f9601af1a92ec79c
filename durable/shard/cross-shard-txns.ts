/**
 * This shard's parts in multis across shards (durable/directory/cross-shard-multi.ts),
 * as rows of the replication core's "txn" table: logged and replicated with the
 * rows, so a replica, and the copy a move or a failover makes leader, holds them too.
 *
 * Every shard a multi touches prepares its part first: checks it as it would apply
 * now and logs it (`prepared`), which holds what it touches
 * (replication/core/txn-holds.ts). The multi is committed once every part is
 * prepared: nothing can then stop a part from applying. Each part applies when its router sends it again (`applied`, its outcome
 * kept for a retry), or when its shard's alarm hears the multi committed.
 *
 * A part's row is final once logged: a prepared one is never given up, and a multi
 * given up here (`aborted`, logged when asked about one not prepared here, or when
 * its router releases it) is never prepared here after. So whether every part was
 * prepared can be learnt later, by asking each shard: that is how the deciding
 * shard's part (the one holding the multi's first write, which lists the others)
 * settles a multi its router left (ShardDO.resolveTxn).
 *
 * Rows but prepared ones are forgotten after ROW_KEEP_MS, far past any
 * transaction's life (a part older than TXN_MAX_AGE_MS is not prepared).
 */
import { type Caller, type CrossShardTxn, type MultiWriteOp, type Outcome } from "../../protocol/index.ts";
import { type CheckHolds, type RowKey, holdKeysOf } from "../replication/core/index.ts";
import { type SqlTable, decodeRow, encodeRow } from "../replication/sqlite-storage.ts";

export const TXN_SCHEMA = [
  // Decisions before they were replicated: transient, so dropped.
  `DROP TABLE IF EXISTS txn_decisions`,
  `CREATE TABLE IF NOT EXISTS txn_rows (txn TEXT PRIMARY KEY, kind TEXT NOT NULL, row TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`,
];

const ROW_KEEP_MS = 10 * 60_000;

/** A shard's part, prepared: the caller's ops as it sent them (text: values are bytes), and the hold keys they take. */
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
export type TxnRow = PreparedPart | { kind: "applied"; at: number; outcome: Outcome } | { kind: "aborted"; at: number };

/** A decider's row as versions before every part was prepared logged it (read as an applied or aborted part). */
interface EarlierDecision {
  kind: "decided";
  decision: "committed" | "aborted";
  at: number;
  outcome?: Outcome;
}

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
    if (!row) return undefined;
    const parsed = JSON.parse(row.row) as TxnRow | EarlierDecision;
    // A decision an earlier version logged (its decider committed by its own write): what it says of the decider's part.
    if (parsed.kind === "decided") return parsed.decision === "committed" ? { kind: "applied", at: parsed.at, outcome: parsed.outcome! } : { kind: "aborted", at: parsed.at };
    return parsed;
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
  return { kind: "prepared", txn: { id: txn.id, startedAt: txn.startedAt, decider: txn.decider, ...(txn.parts ? { parts: txn.parts } : {}) }, at: now, caller, ...(cxid === undefined ? {} : { cxid }), ops: encodeRow(ops), keys: holdKeysOf(ops) };
}

/** A prepared part's ops, as its caller sent them. */
export function preparedOps(part: PreparedPart): MultiWriteOp[] {
  return decodeRow(part.ops) as MultiWriteOp[];
}
