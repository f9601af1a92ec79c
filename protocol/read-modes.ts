/**
 * Read modes: how fresh a read must be, chosen per request (HTTP header
 * `X-Edgekeeper-Consistency`, the socket's `consistency`, the client's option).
 * docs/consistency.md says what each one guarantees.
 *
 * - `sequential` (default): ZooKeeper's guarantee; never older than what the caller
 *   has already seen of the shard (its bookmark).
 * - `linearizable`: at the shard's leader.
 * - `bounded=MS`: a copy whose last contact with the leader is at most MS old.
 * - `any`: the nearest copy, however stale.
 */
import { KeeperError } from "./errors.ts";

export type ReadMode =
  | { kind: "sequential" }
  | { kind: "linearizable" }
  | { kind: "bounded"; maxStalenessMs: number }
  | { kind: "any" };

/** A read mode as text, as callers write it. */
export type ReadModeText = "sequential" | "linearizable" | "any" | `bounded=${number}`;

export const CONSISTENCY_HEADER = "X-Edgekeeper-Consistency";
export const SEQUENTIAL: ReadMode = { kind: "sequential" };

/** The largest staleness `bounded=MS` accepts: a minute (a copy older than that is `any`). */
export const MAX_BOUNDED_STALENESS_MS = 60_000;

const MODE_NAMES = "sequential, linearizable, bounded=MS or any";

/**
 * A read mode from its text; undefined or empty is the default. Anything else is
 * BadArguments naming what is accepted.
 *
 * @example
 * parseReadMode("bounded=250"); // { kind: "bounded", maxStalenessMs: 250 }
 */
export function parseReadMode(text: string | undefined): ReadMode {
  const trimmed = text?.trim().toLowerCase() ?? "";
  if (trimmed === "" || trimmed === "sequential") return SEQUENTIAL;
  if (trimmed === "linearizable") return { kind: "linearizable" };
  if (trimmed === "any") return { kind: "any" };
  if (trimmed.startsWith("bounded=")) {
    const ms = trimmed.slice("bounded=".length);
    const value = /^[0-9]{1,9}$/.test(ms) ? Number(ms) : Number.NaN;
    if (!(value >= 0 && value <= MAX_BOUNDED_STALENESS_MS)) {
      throw new KeeperError("BadArguments", `bounded=MS takes a whole number of milliseconds from 0 to ${MAX_BOUNDED_STALENESS_MS}, got ${JSON.stringify(ms)}`);
    }
    return { kind: "bounded", maxStalenessMs: value };
  }
  throw new KeeperError("BadArguments", `unknown read mode ${JSON.stringify(text)}; use ${MODE_NAMES}`);
}

/**
 * A read mode as text, as `parseReadMode` reads it back.
 *
 * @example
 * formatReadMode({ kind: "bounded", maxStalenessMs: 250 }); // "bounded=250"
 */
export function formatReadMode(mode: ReadMode): string {
  return mode.kind === "bounded" ? `bounded=${mode.maxStalenessMs}` : mode.kind;
}
