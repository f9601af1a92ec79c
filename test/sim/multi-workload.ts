/**
 * What the simulator's multis across shards do and what each must end as
 * (run-multis.ts): three shards, the multis they run, and the check of each.
 */
import { type MountTable, mountFor } from "../../durable/directory/mount-table.ts";
import type { MultiWriteOp } from "../../protocol/index.ts";
import type { Violation } from "./history.ts";
import type { Prng } from "./prng.ts";

/** The shards, by the subtree each serves (S0 everything else). */
export const TABLE: MountTable = { version: 1, mounts: [{ prefix: "/", shard: "S0" }, { prefix: "/s1", shard: "S1" }, { prefix: "/s2", shard: "S2" }] };
/** A node on each shard that every multi may check, and that a multi creating it fails on. */
const FIXED = ["/fixed", "/s1/fixed", "/s2/fixed"];
/** A node on each shard that multis set (some at the version they read) and plain writes set too: what holds keep. */
export const HOT = ["/hot", "/s1/hot", "/s2/hot"];

/** The nodes shard `i` starts with (its subtree's root, its fixed and hot nodes). */
export function initialNodes(i: number): string[] {
  return [...(i === 0 ? [] : [TABLE.mounts[i]!.prefix]), FIXED[i]!, HOT[i]!];
}

/** A multi as its router ran it: its ops, whether it must fail, and its answer (undefined: its router crashed first). */
export interface MultiRecord {
  id: number;
  /** Its transaction's id, once its router began it. */
  txn?: string;
  ops: MultiWriteOp[];
  mustFail: boolean;
  answer?: "applied" | "failed" | "unknown";
}

/** The shard serving `path`. */
export function shardOf(path: string): string {
  return mountFor(TABLE, path).shard;
}

/**
 * A multi over two or three shards: a create of a path of its own on each, a set of
 * a shard's hot node at times (half of those at the version `versionOf` reads now, so
 * it fails if another write comes first), a check of a shard's fixed node at times,
 * and, one time in five, a create of a fixed node, which fails the whole multi. In a
 * random order.
 */
export async function newMulti(id: number, prng: Prng, versionOf: (path: string) => Promise<number>): Promise<MultiRecord> {
  const shards = [0, 1, 2].filter(() => prng.chance(0.7));
  while (shards.length < 2) {
    const more = prng.int(0, 2);
    if (!shards.includes(more)) shards.push(more);
  }
  const prefixOf = (shard: number) => (shard === 0 ? "" : TABLE.mounts[shard]!.prefix);
  const ops: MultiWriteOp[] = shards.map((shard) => ({ op: "create", path: `${prefixOf(shard)}/m${id}` }));
  for (const shard of shards) {
    if (prng.chance(0.4)) ops.push({ op: "setData", path: HOT[shard]!, data: null, version: prng.chance(0.5) ? await versionOf(HOT[shard]!) : -1 });
  }
  if (prng.chance(0.3)) ops.push({ op: "check", path: FIXED[prng.pick(shards)]!, version: 0 });
  const mustFail = prng.chance(0.2);
  if (mustFail) ops.push({ op: "create", path: FIXED[prng.pick(shards)]! });
  for (let i = ops.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [ops[i], ops[j]] = [ops[j]!, ops[i]!];
  }
  return { id, ops, mustFail };
}

/**
 * A multi's creates, all applied or none (`exists`, at its shard's leader), as its
 * answer says; and its parts' rows (`partAt`, each shard's) agree.
 */
export function checkMulti(record: MultiRecord, exists: (path: string) => boolean, partAt: (shard: string) => string): Violation[] {
  const creates = record.ops.filter((op) => op.op === "create" && !FIXED.includes(op.path)).map((op) => op.path);
  const applied = creates.filter(exists);
  const found = (message: string): Violation[] => [{ checker: "multis", message: `multi ${record.id} (${record.ops.map((op) => `${op.op} ${op.path}`).join(", ")}): ${message}`, calls: [] }];
  if (applied.length > 0 && applied.length < creates.length) return found(`partly applied: ${applied.join(", ")} but not ${creates.filter((path) => !applied.includes(path)).join(", ")}`);
  if (applied.length > 0 && record.mustFail) return found("applied, though one of its ops fails");
  if (applied.length > 0 && record.answer === "failed") return found("applied, though its router answered that it failed");
  if (applied.length === 0 && record.answer === "applied") return found("answered applied, but none of it is");
  const parts = [...new Set(record.ops.map((op) => shardOf(op.path)))].map((shard) => [shard, partAt(shard)] as const);
  const committed = parts.some(([, part]) => part === "applied" || part === "failed to apply");
  if (committed && !parts.every(([, part]) => part === "applied")) return found(`its parts' rows disagree: ${parts.map((part) => part.join(" ")).join(", ")}`);
  return [];
}
