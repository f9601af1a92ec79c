/**
 * The simulator's own checks of the replicated state (the history checkers are in
 * checkers/): every acknowledged write is at the leader, applied once, and was
 * acknowledged by the one leader of its epoch; after convergence exactly one copy
 * leads, every replica has the leader's rows, Stat for Stat, and every replica's log
 * is a prefix of its leader's.
 */
import { zxidEpoch } from "../../protocol/index.ts";
import { readMeta, slowestLiveReplica, type LogEntry, type ReplicationSettings, type RowKey, type StorageTxn, type TableName } from "../../durable/replication/core/index.ts";
import type { Acknowledged } from "./clients.ts";
import type { Violation } from "./history.ts";
import type { MemoryStorage } from "./memory-storage.ts";

const violation = (message: string): Violation => ({ checker: "state", message, calls: [] });

function allRows(txn: StorageTxn, table: TableName): Map<RowKey, string> {
  const rows = new Map<RowKey, string>();
  let after: RowKey | undefined;
  for (;;) {
    const page = txn.scan<unknown>(table, after, 256);
    for (const [key, row] of page) rows.set(key, JSON.stringify(row));
    if (page.length < 256) return rows;
    after = page[page.length - 1]![0];
  }
}

/** Each acknowledged write's zxid is committed at the leader, and its log entry (if kept) is that write's. */
export function checkAcknowledged(leader: MemoryStorage, acknowledged: Acknowledged[]): Violation[] {
  return leader.read((txn) => {
    const meta = readMeta(txn)!;
    const found: Violation[] = [];
    for (const ack of acknowledged) {
      if (ack.zxid > meta.appliedZxid) {
        found.push(violation(`acknowledged write ${ack.zxid.toString(16)} (session ${ack.session} cxid ${ack.cxid}) is beyond the leader's last zxid ${meta.appliedZxid.toString(16)}`));
        continue;
      }
      if (ack.zxid <= meta.trimmedZxid) continue;
      const entry = txn.get<LogEntry>("log", ack.zxid);
      if (!entry || entry.session !== ack.session || entry.cxid !== ack.cxid) {
        found.push(violation(`acknowledged write ${ack.zxid.toString(16)} (session ${ack.session} cxid ${ack.cxid} on ${ack.path}) is not the leader's entry at that zxid (${entry ? `session ${entry.session} cxid ${entry.cxid}` : "none"})`));
      }
    }
    return found;
  });
}

/** A replica that has caught up holds the leader's znode and session rows exactly. */
export function checkSameRows(leader: MemoryStorage, replica: MemoryStorage, name: string): Violation[] {
  const found: Violation[] = [];
  for (const table of ["znode", "session"] as const) {
    const want = leader.read((txn) => allRows(txn, table));
    const got = replica.read((txn) => allRows(txn, table));
    for (const [key, row] of want) {
      if (got.get(key) !== row) found.push(violation(`${name} ${table} ${key}: ${got.get(key) ?? "missing"}, leader has ${row}`));
    }
    for (const key of got.keys()) if (!want.has(key)) found.push(violation(`${name} ${table} ${key}: present, absent at the leader`));
  }
  return found;
}

/** Every entry a replica logged is the leader's entry at that zxid (where the leader still has it). */
export function checkLogPrefix(leader: MemoryStorage, replica: MemoryStorage, name: string): Violation[] {
  const leaderMeta = leader.read((txn) => readMeta(txn)!);
  const leaderLog = leader.read((txn) => allRows(txn, "log"));
  const replicaLog = replica.read((txn) => allRows(txn, "log"));
  const found: Violation[] = [];
  for (const [zxid, entry] of replicaLog) {
    if ((zxid as number) > leaderMeta.appliedZxid) found.push(violation(`${name} logged ${zxid.toString(16)}, beyond the leader's last zxid`));
    else if ((zxid as number) > leaderMeta.trimmedZxid && leaderLog.get(zxid) !== entry) found.push(violation(`${name}'s entry ${zxid.toString(16)} differs from the leader's`));
  }
  return found;
}

/** Checked at every leader commit: the log still holds every entry a live replica has not applied. */
export function checkTrimmedBehindReplicas(leader: MemoryStorage, now: number, settings: ReplicationSettings): Violation[] {
  return leader.read((txn) => {
    const meta = readMeta(txn)!;
    const slowest = slowestLiveReplica(txn, now, settings);
    return meta.trimmedZxid > slowest ? [violation(`the leader trimmed through ${meta.trimmedZxid.toString(16)}, past a live replica at ${slowest.toString(16)}`)] : [];
  });
}

/** A leader sealed at Z wrote nothing more in that epoch: a successor starts from Z. Checked in every copy's log. */
export function checkSealed(storage: MemoryStorage, name: string, seals: number[]): Violation[] {
  const log = storage.read((txn) => allRows(txn, "log"));
  const found: Violation[] = [];
  for (const sealed of seals) {
    for (const zxid of log.keys()) {
      if (zxidEpoch(zxid as number) === zxidEpoch(sealed) && (zxid as number) > sealed) found.push(violation(`${name} logged ${zxid.toString(16)} after its epoch's leader sealed at ${sealed.toString(16)}`));
    }
  }
  return found;
}

/**
 * At most one copy writes in any one epoch (so at most one acknowledges its writes):
 * told of every leader's commits as they happen, it names each epoch's writer.
 */
export class EpochWriters {
  private readonly writers = new Map<number, string>();

  committed(copy: string, entries: LogEntry[]): Violation[] {
    const found: Violation[] = [];
    for (const entry of entries) {
      const earlier = this.writers.get(entry.epoch);
      if (earlier === undefined) this.writers.set(entry.epoch, copy);
      else if (earlier !== copy) found.push(violation(`epoch ${entry.epoch} had two leaders: ${earlier}, and ${copy}, which wrote ${entry.zxid.toString(16)}`));
    }
    return found;
  }
}

/** Each (session, cxid) was applied once: no two entries of the leader's log carry the same one. */
export function checkAppliedOnce(leader: MemoryStorage): Violation[] {
  const seen = new Map<string, number>();
  const found: Violation[] = [];
  for (const text of leader.read((txn) => allRows(txn, "log")).values()) {
    const entry = JSON.parse(text) as LogEntry;
    if (entry.session === 0) continue;
    const key = `${entry.session}/${entry.cxid}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) found.push(violation(`session ${entry.session} cxid ${entry.cxid} was applied twice: at ${earlier.toString(16)} and ${entry.zxid.toString(16)}`));
    seen.set(key, entry.zxid);
  }
  return found;
}

/** Once every move has ended, exactly one copy leads (its storage says so), and it is the one the directory names. */
export function checkOneLeader(copies: Array<{ name: string; storage: MemoryStorage }>, placed: string): Violation[] {
  const leading = copies.filter((copy) => copy.storage.read((txn) => {
    const meta = readMeta(txn)!;
    return meta.role === "leader" && meta.promisedEpoch <= meta.epoch;
  }));
  const names = leading.map((copy) => copy.name);
  return names.length === 1 && names[0] === placed ? [] : [violation(`the directory names ${placed} the leader, and ${names.length === 0 ? "no copy" : names.join(" and ")} lead${names.length === 1 ? "s" : ""}`)];
}
