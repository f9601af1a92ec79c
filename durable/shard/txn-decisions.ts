/**
 * What the writing shard of a multi across shards decided about each transaction
 * (durable/directory/cross-shard-multi.ts, check-holds.ts): "committed" when its
 * write committed (stored in the write's own transaction), "aborted" when a shard
 * holding its checks asked first (then it never commits). So a hold is released only
 * once the transaction can no longer commit. A transaction older than TXN_MAX_AGE_MS
 * is refused too: decisions are not replicated, so a leader that took over after a
 * move does not know them, and holds are let go after HOLD_EXPIRE_MS whatever.
 * Decisions are kept DECISION_KEEP_MS, far past any hold's life.
 */
import { type CrossShardTxn, KeeperError } from "../../protocol/index.ts";
import { TXN_MAX_AGE_MS } from "./check-holds.ts";

export const TXN_DECISION_SCHEMA = [`CREATE TABLE IF NOT EXISTS txn_decisions (txn TEXT PRIMARY KEY, decision TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`];

const DECISION_KEEP_MS = 10 * 60_000;

export type TxnDecision = "committed" | "aborted";

export class TxnDecisions {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /**
   * Decides to commit (call inside the write's transaction, before it writes): throws
   * OperationTimeout when the transaction was given up or is too old to commit.
   */
  commit(txn: CrossShardTxn, now: number): void {
    const decided = this.decision(txn.id);
    if (decided === "aborted" || now - txn.startedAt > TXN_MAX_AGE_MS) {
      throw new KeeperError("OperationTimeout", "the multi across shards took too long and was given up: nothing was applied; send it again");
    }
    this.store(txn.id, "committed", now);
  }

  /** The transaction's decision: the one stored, else aborted from now on. */
  resolve(id: string, now: number): TxnDecision {
    const decided = this.decision(id);
    if (decided) return decided;
    this.store(id, "aborted", now);
    return "aborted";
  }

  private decision(id: string): TxnDecision | undefined {
    return this.sql.exec<{ decision: TxnDecision }>("SELECT decision FROM txn_decisions WHERE txn = ?", id).toArray()[0]?.decision;
  }

  private store(id: string, decision: TxnDecision, now: number): void {
    this.sql.exec("DELETE FROM txn_decisions WHERE at < ?", now - DECISION_KEEP_MS);
    this.sql.exec("INSERT OR REPLACE INTO txn_decisions (txn, decision, at) VALUES (?, ?, ?)", id, decision, now);
  }
}
