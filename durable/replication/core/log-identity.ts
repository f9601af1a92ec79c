/**
 * A log's identity. A leader object recreated empty under its old name (a namespace
 * reset destroys and remakes its shards) starts its log again at the same zxids, so
 * a zxid alone cannot tell a replica which log it applied from. The identity is made
 * when a leader's log is created, named in every answer a replica gets, and kept by
 * the replica with the rows it applied: a replica whose identity differs takes a snapshot.
 */
import { writeMeta } from "./log.ts";
import type { Random, StorageTxn } from "./ports.ts";
import type { Meta } from "./rows.ts";

/** A new identity: 104 random bits, as text. */
export function newLogId(random: Random): string {
  const part = () => Math.floor(random.next() * 2 ** 52).toString(36).padStart(11, "0");
  return part() + part();
}

/**
 * The identity of the leader's log, in the caller's transaction. Meta stored before
 * identities existed has none: it gets one here, once, and keeps it.
 */
export function leaderLogId(txn: StorageTxn, meta: Meta, random: Random): string {
  if (meta.logId === undefined) {
    meta.logId = newLogId(random);
    writeMeta(txn, meta);
  }
  return meta.logId;
}
