/**
 * The replication core's Storage port over a Durable Object's SQLite: a core
 * transaction is `transactionSync` (nested ones are savepoints), and each core
 * table is an SQLite table. meta, log and peer are this module's (rows as JSON);
 * the object supplies "subtree", "znode" and "session" over its own tables, so a replica's
 * rows are its leader's, column for column.
 */
import { base64ToBytes, bytesToBase64 } from "../../protocol/index.ts";
import type { AnyLogEntry, LogSpan, RowKey, Storage, StorageTxn, TableName } from "./core/index.ts";

/** One core table as SQLite holds it. */
export interface SqlTable {
  get(key: RowKey): unknown;
  put(key: RowKey, row: unknown): void;
  delete(key: RowKey): void;
  /** Rows with a key greater than `after` (all when undefined), ascending, at most `limit`. */
  scan(after: RowKey | undefined, limit: number): Array<[RowKey, unknown]>;
  deleteAll(): void;
}

/** The log as SQLite holds it: also each entry's key and size, read without the entry. */
export interface SqlLogTable extends SqlTable {
  sizes(after: number | undefined, limit: number): Array<[zxid: number, size: number]>;
  span(after: number): LogSpan;
}

/** The core's own tables: meta, log and peer. */
export const REPLICATION_SCHEMA = [
  // No type on `key`: zxids stay integers (and sort as numbers), names and keys text.
  ...["replication_meta", "replication_peers"].map((name) => `CREATE TABLE IF NOT EXISTS ${name} (key PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID`),
  // size and events before the entry's text, so reading them never walks a large value's overflow pages.
  "CREATE TABLE IF NOT EXISTS replication_log (key PRIMARY KEY, size INTEGER NOT NULL, events TEXT, row TEXT NOT NULL) WITHOUT ROWID",
];

/** Adds the log's size and events columns to a log made before them (filled from its entries, once). */
export function migrateReplicationSchema(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("PRAGMA table_info(replication_log)").toArray();
  if (columns.some((c) => c.name === "size")) return;
  sql.exec("ALTER TABLE replication_log ADD COLUMN size INTEGER");
  sql.exec("ALTER TABLE replication_log ADD COLUMN events TEXT");
  sql.exec("UPDATE replication_log SET size = json_extract(row, '$.size'), events = json_extract(row, '$.events')");
}

/** The key a row's bytes are stored under, as base64 (also sizedEntry/decodeEntry in shard/replicated-tables.ts). */
export const BYTES = "$bytes";
const encoder = new TextEncoder();

/** A row as JSON text; byte values (znode data) as base64, so they come back as bytes. */
export function encodeRow(row: unknown): string {
  return JSON.stringify(row, (_key, value: unknown) => (value instanceof Uint8Array ? { [BYTES]: bytesToBase64(value) } : value));
}

export function decodeRow(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) =>
    value !== null && typeof value === "object" && BYTES in value ? base64ToBytes((value as Record<string, string>)[BYTES]!) : value,
  );
}

/** A row's bytes as stored and shipped: the UTF-8 length of its JSON (the bound of log and pages). */
export function storedBytes(row: unknown): number {
  return encoder.encode(encodeRow(row)).byteLength;
}

/** How a table's rows become text and back. */
export interface RowCodec {
  encode(row: unknown): string;
  decode(text: string): unknown;
}

/** Rows that may hold bytes (encodeRow). */
export const BYTES_CODEC: RowCodec = { encode: encodeRow, decode: decodeRow };

/** Rows of plain JSON (meta, peers): no replacer to run on every value. */
const JSON_CODEC: RowCodec = { encode: (row) => JSON.stringify(row), decode: (text) => JSON.parse(text) as unknown };

/** A table of rows as text by key (meta, log, peer). */
export class JsonTable implements SqlTable {
  protected readonly sql: SqlStorage;
  protected readonly name: string;
  protected readonly codec: RowCodec;

  constructor(sql: SqlStorage, name: string, codec: RowCodec = JSON_CODEC) {
    this.sql = sql;
    this.name = name;
    this.codec = codec;
  }

  get(key: RowKey): unknown {
    const row = this.sql.exec<{ row: string }>(`SELECT row FROM ${this.name} WHERE key = ?`, key).toArray()[0];
    return row ? this.codec.decode(row.row) : undefined;
  }

  put(key: RowKey, row: unknown): void {
    this.sql.exec(`INSERT INTO ${this.name} (key, row) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET row = excluded.row`, key, this.codec.encode(row));
  }

  delete(key: RowKey): void {
    this.sql.exec(`DELETE FROM ${this.name} WHERE key = ?`, key);
  }

  scan(after: RowKey | undefined, limit: number): Array<[RowKey, unknown]> {
    const rows =
      after === undefined
        ? this.sql.exec<{ key: RowKey; row: string }>(`SELECT key, row FROM ${this.name} ORDER BY key LIMIT ?`, limit)
        : this.sql.exec<{ key: RowKey; row: string }>(`SELECT key, row FROM ${this.name} WHERE key > ? ORDER BY key LIMIT ?`, after, limit);
    return rows.toArray().map(({ key, row }) => [key, this.codec.decode(row)]);
  }

  deleteAll(): void {
    this.sql.exec(`DELETE FROM ${this.name}`);
  }
}

/**
 * The log: entries as text by zxid, with each entry's size, and its events (JSON) when
 * `eventsOf` gives them: both read without decoding the entry (trims, counts, a
 * replica's change log).
 */
export class JsonLogTable extends JsonTable implements SqlLogTable {
  private readonly eventsOf: (entry: AnyLogEntry) => string | null;

  constructor(sql: SqlStorage, codec: RowCodec = BYTES_CODEC, eventsOf: (entry: AnyLogEntry) => string | null = () => null) {
    super(sql, "replication_log", codec);
    this.eventsOf = eventsOf;
  }

  override put(key: RowKey, row: unknown): void {
    const entry = row as AnyLogEntry;
    this.sql.exec(
      `INSERT INTO replication_log (key, size, events, row) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET size = excluded.size, events = excluded.events, row = excluded.row`,
      key, entry.size, this.eventsOf(entry), this.codec.encode(row),
    );
  }

  sizes(after: number | undefined, limit: number): Array<[number, number]> {
    return this.sql
      .exec<{ key: number; size: number }>("SELECT key, size FROM replication_log WHERE key > ? ORDER BY key LIMIT ?", after ?? -1, limit)
      .toArray()
      .map(({ key, size }) => [key, size]);
  }

  span(after: number): LogSpan {
    const { last, entries, bytes } = this.sql
      .exec<{ last: number | null; entries: number; bytes: number }>("SELECT max(key) AS last, count(*) AS entries, total(size) AS bytes FROM replication_log WHERE key > ?", after)
      .one();
    return { lastZxid: last ?? undefined, entries, bytes };
  }
}

/** The core's tables for an object: its own subtree, znode, session and txn tables, and JSON tables for the rest. */
export function coreTables(sql: SqlStorage, own: { subtree: SqlTable; znode: SqlTable; session: SqlTable; txn: SqlTable; log?: SqlLogTable }): CoreTables {
  return {
    meta: new JsonTable(sql, "replication_meta"),
    subtree: own.subtree,
    txn: own.txn,
    log: own.log ?? new JsonLogTable(sql),
    peer: new JsonTable(sql, "replication_peers"),
    znode: own.znode,
    session: own.session,
  };
}

/** The core's tables as SQLite holds them. */
export type CoreTables = Record<TableName, SqlTable> & { log: SqlLogTable };

export class SqliteStorage implements Storage {
  private readonly storage: DurableObjectStorage;
  private readonly txn: StorageTxn;

  constructor(storage: DurableObjectStorage, tables: CoreTables) {
    this.storage = storage;
    this.txn = {
      get: <R>(table: TableName, key: RowKey) => tables[table].get(key) as R | undefined,
      put: (table, key, row) => tables[table].put(key, row),
      delete: (table, key) => tables[table].delete(key),
      scan: <R>(table: TableName, after: RowKey | undefined, limit: number) => tables[table].scan(after, limit) as Array<[RowKey, R]>,
      deleteAll: (table) => tables[table].deleteAll(),
      logSizes: (after, limit) => tables.log.sizes(after, limit),
      logAfter: (after) => tables.log.span(after),
    };
  }

  transact<T>(body: (txn: StorageTxn) => T): T {
    return this.storage.transactionSync(() => body(this.txn));
  }

  /** Reads need no transaction: nothing else runs within one synchronous block of the object. */
  read<T>(body: (txn: StorageTxn) => T): T {
    return body(this.txn);
  }
}
