/**
 * Explicit limits, with their defaults. Each is a setting (a Worker var of the
 * same name in SCREAMING_SNAKE_CASE with the EDGEKEEPER_ prefix); docs/api.md lists them.
 */
export interface Limits {
  /** Largest znode value. ZooKeeper's jute.maxbuffer is 1 MiB less one byte; we allow 1 MiB. */
  maxValueBytes: number;
  /** Longest path, in UTF-8 bytes, including the sequence suffix. */
  maxPathBytes: number;
  /** Deepest path, in components ("/a/b" has depth 2). */
  maxPathDepth: number;
  /** Most ACL entries on one node. */
  maxAclEntries: number;
  /** Most operations in one multi or multiRead. */
  maxMultiOps: number;
  /** Largest HTTP request body. Room for a base64 value at maxValueBytes plus JSON. */
  maxRequestBytes: number;
  /** How many zxids of change log a shard keeps. */
  changeLogWindow: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxValueBytes: 1024 * 1024,
  maxPathBytes: 4096,
  maxPathDepth: 256,
  maxAclEntries: 64,
  maxMultiOps: 1000,
  maxRequestBytes: 4 * 1024 * 1024,
  changeLogWindow: 10_000,
};

const settingNames: Record<keyof Limits, string> = {
  maxValueBytes: "EDGEKEEPER_MAX_VALUE_BYTES",
  maxPathBytes: "EDGEKEEPER_MAX_PATH_BYTES",
  maxPathDepth: "EDGEKEEPER_MAX_PATH_DEPTH",
  maxAclEntries: "EDGEKEEPER_MAX_ACL_ENTRIES",
  maxMultiOps: "EDGEKEEPER_MAX_MULTI_OPS",
  maxRequestBytes: "EDGEKEEPER_MAX_REQUEST_BYTES",
  changeLogWindow: "EDGEKEEPER_CHANGE_LOG_WINDOW",
};

/**
 * Reads the limits from an environment of string settings; unset or invalid
 * settings keep their defaults.
 *
 * @example
 * const limits = limitsFromEnv({ EDGEKEEPER_MAX_VALUE_BYTES: "65536" });
 */
export function limitsFromEnv(env: Record<string, unknown>): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(settingNames) as (keyof Limits)[]) {
    const raw = env[settingNames[key]];
    const value = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw) : NaN;
    if (Number.isSafeInteger(value) && value > 0) limits[key] = value;
  }
  return limits;
}
