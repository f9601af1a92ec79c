/**
 * Explicit limits, with their defaults. Each is a setting (a Worker var of the
 * same name in SCREAMING_SNAKE_CASE with the EDGEKEEPER_ prefix); docs/api.md lists them.
 */
export interface Limits {
  /**
   * Largest znode value: the largest whose getData reply ZooKeeper's Java client reads
   * back with its default jute.maxbuffer (see MAX_READABLE_VALUE_BYTES).
   */
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
  /** How many bytes of change log (values, rows, paths) a shard keeps, besides the zxid window. */
  maxChangeLogBytes: number;
  /**
   * Most bytes of values and names one answer carries: a read (multiRead, getChildren,
   * getEphemerals; past it, BadArguments), a batch of requests in one RPC and a
   * session's requests in one socket frame (past it, the rest are Throttled), a frame
   * sent to a socket.
   */
  maxAnswerBytes: number;
}

/**
 * ZooKeeper's Java client refuses a reply packet longer than its jute.maxbuffer,
 * 0xfffff bytes by default (ClientCnxnSocket.readLength: `len > packetLen`). A getData
 * reply is the ReplyHeader (xid 4, zxid 8, err 4), the value (length 4 + bytes) and the
 * Stat (68), so the largest value it reads back is 0xfffff - 88 = 1,048,487 bytes.
 */
export const MAX_READABLE_VALUE_BYTES = 0xfffff - (16 + 4 + 68);

/** What maxAnswerBytes keeps beyond maxValueBytes, at least: a value's Stat and framing. */
const ANSWER_ROOM_BYTES = 1024;

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxValueBytes: MAX_READABLE_VALUE_BYTES,
  maxPathBytes: 4096,
  maxPathDepth: 256,
  maxAclEntries: 64,
  maxMultiOps: 1000,
  maxRequestBytes: 4 * 1024 * 1024,
  changeLogWindow: 10_000,
  // 300 writes of 1 MiB to one node once grew a shard by 300 MB; the log's byte bound
  // keeps that growth to this much, whatever the window of zxids.
  maxChangeLogBytes: 64 * 1024 * 1024,
  // Well below the 32 MiB of one RPC and the 128 MB of an object: an answer is held
  // raw at the shard, copied to the session host and sent there as base64 JSON (4/3),
  // so one batch costs the host about 3x this. Seven values at the limit fit in one.
  maxAnswerBytes: 8 * 1024 * 1024,
};

const settingNames: Record<keyof Limits, string> = {
  maxValueBytes: "EDGEKEEPER_MAX_VALUE_BYTES",
  maxPathBytes: "EDGEKEEPER_MAX_PATH_BYTES",
  maxPathDepth: "EDGEKEEPER_MAX_PATH_DEPTH",
  maxAclEntries: "EDGEKEEPER_MAX_ACL_ENTRIES",
  maxMultiOps: "EDGEKEEPER_MAX_MULTI_OPS",
  maxRequestBytes: "EDGEKEEPER_MAX_REQUEST_BYTES",
  changeLogWindow: "EDGEKEEPER_CHANGE_LOG_WINDOW",
  maxChangeLogBytes: "EDGEKEEPER_MAX_CHANGE_LOG_BYTES",
  maxAnswerBytes: "EDGEKEEPER_MAX_ANSWER_BYTES",
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
  // An answer always has room for one value at the limit with its Stat, so that
  // a lone getData never fails for its size.
  limits.maxAnswerBytes = Math.max(limits.maxAnswerBytes, limits.maxValueBytes + ANSWER_ROOM_BYTES);
  return limits;
}
