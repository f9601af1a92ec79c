/**
 * ZooKeeper's CreateMode: names, wire flags, and what each implies.
 */
import { KeeperError } from "./errors.ts";

export const CREATE_MODES = [
  "PERSISTENT",
  "EPHEMERAL",
  "PERSISTENT_SEQUENTIAL",
  "EPHEMERAL_SEQUENTIAL",
  "CONTAINER",
  "PERSISTENT_WITH_TTL",
  "PERSISTENT_SEQUENTIAL_WITH_TTL",
] as const;

export type CreateMode = (typeof CREATE_MODES)[number];

/** The integer flag each mode has on the wire (CreateMode.toFlag). */
export const CREATE_MODE_FLAGS: Readonly<Record<CreateMode, number>> = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
};

/** How a node lives: what its ephemeralOwner column means and who reaps it. */
export type NodeKind = "persistent" | "ephemeral" | "container" | "ttl";

export function isSequential(mode: CreateMode): boolean {
  return mode.includes("SEQUENTIAL");
}

export function isTtl(mode: CreateMode): boolean {
  return mode.endsWith("_WITH_TTL");
}

export function nodeKind(mode: CreateMode): NodeKind {
  if (mode.startsWith("EPHEMERAL")) return "ephemeral";
  if (mode === "CONTAINER") return "container";
  if (isTtl(mode)) return "ttl";
  return "persistent";
}

/** ZooKeeper's largest TTL (EphemeralType.TTL: 40 bits of milliseconds). */
export const MAX_TTL_MS = 0xff_ffff_ffff;

/** Parses a mode by name or wire flag; anything else is BadArguments. */
export function parseCreateMode(value: unknown): CreateMode {
  if (value === undefined || value === null) return "PERSISTENT";
  if (typeof value === "string" && (CREATE_MODES as readonly string[]).includes(value)) return value as CreateMode;
  if (typeof value === "number") {
    const found = CREATE_MODES.find((m) => CREATE_MODE_FLAGS[m] === value);
    if (found) return found;
  }
  throw new KeeperError("BadArguments", `unknown create mode ${JSON.stringify(value)}; expected one of ${CREATE_MODES.join(", ")}`);
}

/** ZooKeeper's TTL rule: a TTL mode needs 0 < ttl <= MAX_TTL_MS, other modes take none. */
export function validateTtl(mode: CreateMode, ttlMs: number | undefined): void {
  if (isTtl(mode)) {
    if (ttlMs === undefined || !Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TTL_MS) {
      throw new KeeperError("BadArguments", `${mode} needs ttlMs between 1 and ${MAX_TTL_MS}, got ${ttlMs}`);
    }
  } else if (ttlMs !== undefined && ttlMs !== -1) {
    throw new KeeperError("BadArguments", `ttlMs is only valid with a _WITH_TTL mode, not ${mode}`);
  }
}
