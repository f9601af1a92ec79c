/**
 * Storage for the core as SQLite would give it: rows serialized on write (no
 * aliasing), synchronous transactions that commit whole or not at all, and a
 * handle per incarnation that dies with it (a crashed instance can never commit).
 */
import type { RowKey, Storage, StorageTxn, TableName } from "../../durable/replication/core/index.ts";
import type { Owner } from "./scheduler.ts";

/** One table: rows by key, with the keys kept sorted for scans. */
class Table {
  keys: RowKey[] = [];
  rows = new Map<RowKey, string>();

  clone(): Table {
    const copy = new Table();
    copy.keys = [...this.keys];
    copy.rows = new Map(this.rows);
    return copy;
  }

  put(key: RowKey, text: string): void {
    if (!this.rows.has(key)) this.keys.splice(this.indexAfter(key, true), 0, key);
    this.rows.set(key, text);
  }

  delete(key: RowKey): void {
    if (!this.rows.delete(key)) return;
    this.keys.splice(this.indexAfter(key, true), 1);
  }

  /** The index of the first key > key (or >= key when inclusive). */
  indexAfter(key: RowKey, inclusive: boolean): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = compareKeys(this.keys[mid]!, key);
      if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function compareKeys(a: RowKey, b: RowKey): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** A node's durable state: what survives its crashes. */
export class MemoryStorage {
  private tables = new Map<TableName, Table>();
  transactions = 0;
  /** Transactions that wrote something. */
  writes = 0;
  /**
   * Called as each transaction that writes is about to commit, and once it has: the
   * points where a simulator may crash the incarnation (crashed before, nothing commits).
   */
  onWrite?: (moment: "commit" | "committed") => void;

  /** A handle for one incarnation: transactions fail once it has crashed. */
  handle(owner: Owner): Storage {
    return { transact: (body) => this.transact(owner, body) };
  }

  /** Reads outside any incarnation (the simulator's state checks). */
  read<T>(body: (txn: StorageTxn) => T): T {
    return this.transact({ alive: true }, body);
  }

  private table(name: TableName, from: Map<TableName, Table>): Table {
    let table = from.get(name);
    if (!table) {
      table = new Table();
      from.set(name, table);
    }
    return table;
  }

  private transact<T>(owner: Owner, body: (txn: StorageTxn) => T): T {
    if (!owner.alive) throw new Error("this object has been reset: its storage is gone");
    // Copy-on-write per table: a body that throws leaves the committed tables untouched.
    const working = new Map(this.tables);
    const copied = new Set<TableName>();
    const writable = (name: TableName): Table => {
      if (!copied.has(name)) {
        working.set(name, this.table(name, working).clone());
        copied.add(name);
      }
      return working.get(name)!;
    };
    const txn: StorageTxn = {
      get: <R>(name: TableName, key: RowKey) => {
        const text = working.get(name)?.rows.get(key);
        return text === undefined ? undefined : (JSON.parse(text) as R);
      },
      put: (name, key, row) => writable(name).put(key, JSON.stringify(row)),
      delete: (name, key) => writable(name).delete(key),
      deleteAll: (name) => {
        working.set(name, new Table());
        copied.add(name);
      },
      scan: <R>(name: TableName, after: RowKey | undefined, limit: number) => {
        const table = working.get(name);
        if (!table) return [];
        const start = after === undefined ? 0 : table.indexAfter(after, false);
        return table.keys.slice(start, start + limit).map((key): [RowKey, R] => [key, JSON.parse(table.rows.get(key)!) as R]);
      },
      logSizes: (after, limit) => txn.scan<{ zxid: number; size: number }>("log", after, limit).map(([, entry]) => [entry.zxid, entry.size]),
      logAfter: (after) => {
        const table = working.get("log");
        const keys = table ? table.keys.slice(table.indexAfter(after, false)) : [];
        const sizes = keys.map((key) => (JSON.parse(table!.rows.get(key)!) as { size: number }).size);
        return { lastZxid: keys.at(-1) as number | undefined, entries: keys.length, bytes: sizes.reduce((sum, size) => sum + size, 0) };
      },
    };
    const result = body(txn);
    if (copied.size > 0) this.onWrite?.("commit");
    if (!owner.alive) throw new Error("this object crashed as it committed");
    this.tables = working;
    this.transactions += 1;
    if (copied.size > 0) {
      this.writes += 1;
      this.onWrite?.("committed");
    }
    return result;
  }
}
