/**
 * The log and rows inside one transaction: append an entry with its effects,
 * read a page of entries, trim. Both roles use it; callers hold the transaction.
 */
import { zxidCounter, zxidEpoch } from "../../../protocol/index.ts";
import type { StorageTxn } from "./ports.ts";
import { META_KEY, type AnyLogEntry, type Effect, type Meta, type PeerRow } from "./rows.ts";
import type { ReplicationSettings } from "./settings.ts";

/**
 * Meta as it stands. A leader stores it with every entry; a replica only when more
 * than its log's head moves (storeAppliedMeta), so a replica's is the stored row with
 * the entries logged after its appliedZxid counted in (one read of their keys and
 * sizes): its applied zxid is its log's last key, committed with the rows it applied.
 */
export function readMeta(txn: StorageTxn): Meta | undefined {
  const stored = storedMeta(txn);
  return stored?.role === "replica" ? withLoggedEntries(txn, stored) : stored;
}

/** Meta as stored: its role, epochs and trim point are current, its log head and size may lag (readMeta). */
export function storedMeta(txn: StorageTxn): Meta | undefined {
  return txn.get<Meta>("meta", META_KEY);
}

function withLoggedEntries(txn: StorageTxn, meta: Meta): Meta {
  const logged = txn.logAfter(meta.appliedZxid);
  if (logged.lastZxid === undefined) return meta;
  return Object.assign(meta, { appliedZxid: logged.lastZxid, logEntries: meta.logEntries + logged.entries, logBytes: meta.logBytes + logged.bytes });
}

/**
 * Entries a replica logs before it stores meta again: readMeta counts the ones after
 * the stored meta in, so this bounds what it reads, and a replica's applied entry
 * otherwise writes its rows and its log entry only.
 */
export const ENTRIES_PER_META_WRITE = 1024;

/**
 * Stores meta after a replica applied entries only when it moved beyond its log's
 * head and size (readMeta derives those): a new epoch, a trim, or
 * ENTRIES_PER_META_WRITE entries since it was last stored.
 */
export function storeAppliedMeta(txn: StorageTxn, meta: Meta): void {
  const stored = storedMeta(txn);
  const moved = !stored || meta.epoch !== stored.epoch || meta.trimmedZxid !== stored.trimmedZxid;
  if (moved || meta.logEntries - stored.logEntries >= ENTRIES_PER_META_WRITE) writeMeta(txn, meta);
}

export function writeMeta(txn: StorageTxn, meta: Meta): void {
  txn.put("meta", META_KEY, meta);
}

/** Sets or removes each effect's row. Effects are whole rows, so applying one twice changes nothing. */
export function applyEffects(txn: StorageTxn, effects: ReadonlyArray<Effect<unknown, unknown>>): void {
  for (const effect of effects) {
    if (effect.row === null) txn.delete(effect.table, effect.key);
    else txn.put(effect.table, effect.key, effect.row);
  }
}

/** Applies an entry's effects and appends it to the log, advancing meta (written by the caller). */
export function appendEntry(txn: StorageTxn, meta: Meta, entry: AnyLogEntry): void {
  applyEffects(txn, entry.effects);
  recordEntry(txn, meta, entry);
}

/** Appends an entry whose effects are already in the rows (an adapter that executes writes in place). */
export function recordEntry(txn: StorageTxn, meta: Meta, entry: AnyLogEntry): void {
  txn.put("log", entry.zxid, entry);
  meta.appliedZxid = entry.zxid;
  meta.logEntries += 1;
  meta.logBytes += entry.size;
}

/**
 * Whether `next` may follow `applied`: the next counter of the same epoch, or
 * counter 0 of a later epoch (its snapshot or epoch-start entry). Nothing else: no holes.
 */
export function followsInOrder(applied: number, next: AnyLogEntry): boolean {
  if (zxidEpoch(next.zxid) === zxidEpoch(applied)) return next.zxid === applied + 1;
  return zxidEpoch(next.zxid) > zxidEpoch(applied) && zxidCounter(next.zxid) === 0;
}

/**
 * Entries after `zxid`, as many as fit in `maxBytes` (always at least one when there
 * is one). The page is chosen by keys and sizes alone: only its entries are decoded.
 */
export function entriesAfter(txn: StorageTxn, zxid: number, maxBytes: number): AnyLogEntry[] {
  const zxids: number[] = [];
  let bytes = 0;
  let after = zxid;
  choosing: for (;;) {
    const sizes = txn.logSizes(after, 64);
    for (const [key, size] of sizes) {
      if (zxids.length > 0 && bytes + size > maxBytes) break choosing;
      zxids.push(key);
      bytes += size;
    }
    if (sizes.length < 64) break;
    after = sizes[sizes.length - 1]![0];
  }
  return zxids.map((key) => txn.get<AnyLogEntry>("log", key)!);
}

/** The lowest zxid a replica still pulling (within its lease) has applied: the log is kept after it. */
export function slowestLiveReplica(txn: StorageTxn, now: number, settings: ReplicationSettings): number {
  let slowest = Infinity;
  let after: string | undefined;
  for (;;) {
    const rows = txn.scan<PeerRow>("peer", after, 64);
    for (const [, peer] of rows) {
      if (now - peer.lastPullAt <= settings.replicaLeaseMs) slowest = Math.min(slowest, peer.appliedZxid);
    }
    if (rows.length < 64) return slowest;
    after = rows[rows.length - 1]![0] as string;
  }
}

/**
 * Whether the log holds more entries or bytes than its bounds (and more than its
 * newest entry), or, given `slack`, than its bounds with that much more room.
 */
export function overBounds(meta: Meta, settings: ReplicationSettings, slack = { entries: 0, bytes: 0 }): boolean {
  return meta.logEntries > 1 && (meta.logEntries > settings.logMaxEntries + slack.entries || meta.logBytes > settings.logMaxBytes + slack.bytes);
}

/**
 * How far past its bounds a replica's log grows before it is trimmed back to them:
 * each trim moves the trim point, which stores meta (a row), so a replica trims a
 * batch of entries at once rather than one per entry applied.
 */
export const REPLICA_TRIM_BATCH_ENTRIES = 64;

/** The room a replica's log has past its bounds before a trim (overBounds' `slack`): a batch of entries, or a 64th of its bytes. */
export function replicaTrimSlack(settings: ReplicationSettings): { entries: number; bytes: number } {
  return { entries: REPLICA_TRIM_BATCH_ENTRIES, bytes: Math.ceil(settings.logMaxBytes / REPLICA_TRIM_BATCH_ENTRIES) };
}

/**
 * Drops the oldest entries while the log is over its entry or byte bound, never one
 * a live replica has not applied (`keepAfter`) and never the newest. Entries are taken
 * in log order, not by zxid arithmetic, so an epoch change trims nothing early.
 */
export function trimLog(txn: StorageTxn, meta: Meta, settings: ReplicationSettings, keepAfter: number): void {
  while (overBounds(meta, settings)) {
    // Keys and sizes only: an entry is never decoded to be dropped.
    const [oldest] = txn.logSizes(undefined, 1);
    if (!oldest || oldest[0] > keepAfter) return;
    const [zxid, size] = oldest;
    txn.delete("log", zxid);
    meta.trimmedZxid = zxid;
    meta.logEntries -= 1;
    meta.logBytes -= size;
  }
}
