/**
 * The snapshot file: JSON lines, so it streams both ways. Line 1 is a header
 * (format, version, namespace, created, and each shard's prefix with the zxid it
 * was read at); then one line per node, each shard's nodes in path order, shards
 * in prefix order (so a parent always comes before its children); then a trailer
 * with the node count, so a truncated file is told from a whole one.
 *
 * @example
 * {"format":"edgekeeper-snapshot","version":1,"namespace":"default","created":"2026-12-03T00:00:00.000Z","shards":[{"prefix":"/","zxid":42}]}
 * {"path":"/","kind":"persistent","data":"","acl":[{"perms":31,"scheme":"world","id":"anyone"}],"stat":{...}}
 * {"end":true,"nodes":1}
 */
import { type Acl, parseAclList } from "./acl.ts";
import { base64ToBytes } from "./encoding.ts";
import { KeeperError } from "./errors.ts";
import { MAX_TTL_MS } from "./modes.ts";
import { isReserved, isWithin, parentOf, pathProblem } from "./paths.ts";
import type { Limits } from "./limits.ts";
import type { Stat } from "./stat.ts";

export const SNAPSHOT_FORMAT = "edgekeeper-snapshot";
export const SNAPSHOT_VERSION = 1;

/** A shard as saved: the subtree it serves ("/" or a mount point) and the zxid its nodes were read at. */
export interface SnapshotShard {
  prefix: string;
  zxid: number;
}

export interface SnapshotHeader {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  namespace: string;
  /** ISO 8601 time the save started. */
  created: string;
  shards: SnapshotShard[];
}

/** How a saved node lives. Ephemerals are never saved; a mount point is its shard's root. */
export type SnapshotKind = "persistent" | "container" | "ttl";

export interface SnapshotNode {
  path: string;
  kind: SnapshotKind;
  /** A TTL node's TTL; absent otherwise. */
  ttlMs?: number;
  /** base64; null is ZooKeeper's null value. */
  data: string | null;
  acl: Acl[];
  /** The Stat as getData shows it (cversion counts child creates and deletes). */
  stat: Stat;
}

export interface SnapshotTrailer {
  end: true;
  nodes: number;
}

const STAT_FIELDS = ["czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion", "aversion", "ephemeralOwner", "dataLength", "numChildren"] as const;
const KINDS: readonly string[] = ["persistent", "container", "ttl"];

function bad(message: string): KeeperError {
  return new KeeperError("MarshallingError", message);
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function integerOf(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw bad(`${what} must be an integer`);
  return value;
}

export function parseSnapshotHeader(value: unknown): SnapshotHeader {
  const header = objectOf(value, "the header");
  if (header.format !== SNAPSHOT_FORMAT) throw bad(`not an edgekeeper snapshot (the header's format must be "${SNAPSHOT_FORMAT}")`);
  if (header.version !== SNAPSHOT_VERSION) throw bad(`snapshot format version ${JSON.stringify(header.version)} is not supported (this reads version ${SNAPSHOT_VERSION})`);
  if (typeof header.namespace !== "string") throw bad("the header's namespace must be a string");
  if (typeof header.created !== "string" || Number.isNaN(Date.parse(header.created))) throw bad("the header's created must be an ISO 8601 time");
  if (!Array.isArray(header.shards) || header.shards.length === 0) throw bad("the header's shards must be a non-empty list");
  const shards = header.shards.map((s, i): SnapshotShard => {
    const shard = objectOf(s, `shards[${i}]`);
    if (typeof shard.prefix !== "string" || pathProblem(shard.prefix, { maxPathBytes: Infinity, maxPathDepth: Infinity })) throw bad(`shards[${i}].prefix must be a znode path`);
    const zxid = integerOf(shard.zxid, `shards[${i}].zxid`);
    if (zxid < 0) throw bad(`shards[${i}].zxid must not be negative`);
    return { prefix: shard.prefix, zxid };
  });
  if (shards[0]!.prefix !== "/") throw bad(`the first shard must be "/"`);
  for (let i = 1; i < shards.length; i++) {
    if (!(shards[i - 1]!.prefix < shards[i]!.prefix)) throw bad("the header's shards must be in prefix order, each once");
  }
  return { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, namespace: header.namespace, created: header.created, shards };
}

/**
 * Checks one node line's fields and that they agree (dataLength with the data, the
 * counts with each other). Limits are the server's: the server checks them again.
 */
export function parseSnapshotNode(value: unknown, limits: Pick<Limits, "maxPathBytes" | "maxPathDepth" | "maxValueBytes" | "maxAclEntries">): { node: SnapshotNode; bytes: Uint8Array | null } {
  const node = objectOf(value, "a node line");
  const problem = pathProblem(node.path, limits);
  if (problem) throw bad(`path: ${problem}`);
  const path = node.path as string;
  if (isReserved(path)) throw bad(`${path} is ZooKeeper's own node: a snapshot holds none`);
  if (typeof node.kind !== "string" || !KINDS.includes(node.kind)) throw bad(`${path}: kind must be one of ${KINDS.join(", ")}`);
  const kind = node.kind as SnapshotKind;
  let ttlMs: number | undefined;
  if (kind === "ttl") {
    ttlMs = integerOf(node.ttlMs, `${path}: ttlMs`);
    if (ttlMs <= 0 || ttlMs > MAX_TTL_MS) throw bad(`${path}: ttlMs must be between 1 and ${MAX_TTL_MS}`);
  } else if (node.ttlMs !== undefined) {
    throw bad(`${path}: only a ttl node has ttlMs`);
  }
  if (node.data !== null && typeof node.data !== "string") throw bad(`${path}: data must be base64 or null`);
  const bytes = node.data === null ? null : base64Strict(node.data, path);
  if (bytes && bytes.byteLength > limits.maxValueBytes) throw new KeeperError("BadArguments", `${path}: a value of ${bytes.byteLength} bytes is over the limit of ${limits.maxValueBytes}`, path);
  let acl: Acl[];
  try {
    acl = parseAclList(node.acl);
  } catch (err) {
    throw bad(`${path}: acl: ${(err as Error).message}`);
  }
  if (acl.length === 0 || acl.some((a) => a.scheme === "auth")) throw bad(`${path}: acl must list concrete identities`);
  if (acl.length > limits.maxAclEntries) throw new KeeperError("BadArguments", `${path}: more than ${limits.maxAclEntries} ACL entries`, path);
  const rawStat = objectOf(node.stat, `${path}: stat`);
  const stat = Object.fromEntries(STAT_FIELDS.map((f) => [f, integerOf(rawStat[f], `${path}: stat.${f}`)])) as unknown as Stat;
  if (stat.dataLength !== (bytes?.byteLength ?? 0)) throw bad(`${path}: stat.dataLength ${stat.dataLength} does not match the data's ${bytes?.byteLength ?? 0} bytes`);
  if (stat.ephemeralOwner !== 0) throw bad(`${path}: an ephemeral node cannot be restored`);
  if (stat.numChildren < 0 || (stat.cversion + stat.numChildren) % 2 !== 0 || stat.cversion + stat.numChildren < 0) {
    throw bad(`${path}: stat.cversion ${stat.cversion} cannot come from ${stat.numChildren} children`);
  }
  const parsed: SnapshotNode = { path, kind, data: node.data as string | null, acl, stat };
  if (ttlMs !== undefined) parsed.ttlMs = ttlMs;
  return { node: parsed, bytes };
}

/** base64 that round-trips (atob alone accepts stray whitespace and missing padding). */
function base64Strict(text: string, path: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw bad(`${path}: data is not valid base64`);
  return base64ToBytes(text);
}

/** The shard (by its prefix) that serves `path`: the longest prefix containing it. */
export function snapshotShardOf(shards: readonly SnapshotShard[], path: string): SnapshotShard {
  let best = shards[0]!;
  for (const shard of shards) if (isWithin(path, shard.prefix) && shard.prefix.length > best.prefix.length) best = shard;
  return best;
}

/** What a whole file's check learned, for restore and inspect. */
export interface SnapshotCheck {
  header: SnapshotHeader;
  nodes: number;
  /** Each mount point's ACL (the stub in its parent's shard gets it). */
  mountAcls: Map<string, Acl[]>;
}

/**
 * Checks a whole file, line by line, before anything is written: the header, each
 * node, each node's parent before it (a mount point's parent in an earlier shard),
 * each mount point present, the trailer last with the right count. Errors name the
 * line (1-based). `onNode` sees each valid node (inspect's summary).
 */
export class SnapshotChecker {
  private header: SnapshotHeader | undefined;
  private readonly seen = new Set<string>();
  private readonly mountAcls = new Map<string, Acl[]>();
  private nodes = 0;
  private ended = false;
  private lineNumber = 0;
  private readonly limits: Pick<Limits, "maxPathBytes" | "maxPathDepth" | "maxValueBytes" | "maxAclEntries">;

  constructor(limits: Pick<Limits, "maxPathBytes" | "maxPathDepth" | "maxValueBytes" | "maxAclEntries">) {
    this.limits = limits;
  }

  /** Checks the next line; throws a KeeperError whose message starts with "line N:". */
  line(text: string, onNode?: (node: SnapshotNode, shard: SnapshotShard) => void): void {
    this.lineNumber += 1;
    try {
      this.check(text, onNode);
    } catch (err) {
      if (err instanceof KeeperError) throw new KeeperError(err.keeperName, `line ${this.lineNumber}: ${err.message}`, err.path);
      throw err;
    }
  }

  private check(text: string, onNode?: (node: SnapshotNode, shard: SnapshotShard) => void): void {
    if (this.ended) throw bad("nothing may follow the trailer");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw bad("not valid JSON");
    }
    if (!this.header) {
      this.header = parseSnapshotHeader(value);
      return;
    }
    if (typeof value === "object" && value !== null && "end" in value) {
      const trailer = value as Record<string, unknown>;
      if (trailer.end !== true || trailer.nodes !== this.nodes) throw bad(`the trailer says ${JSON.stringify(trailer.nodes)} nodes; the file holds ${this.nodes}`);
      const missing = this.header.shards.find((s) => !this.seen.has(s.prefix));
      if (missing) throw bad(`the node of shard ${missing.prefix} is missing`);
      this.ended = true;
      return;
    }
    const { node } = parseSnapshotNode(value, this.limits);
    if (this.seen.has(node.path)) throw bad(`${node.path} appears twice`);
    const shard = snapshotShardOf(this.header.shards, node.path);
    if (node.path !== "/" && !this.seen.has(parentOf(node.path))) throw bad(`${node.path} comes before its parent ${parentOf(node.path)}`);
    if (node.path === "/" && this.nodes > 0) throw bad("/ must be the first node");
    if (node.path === shard.prefix && shard.prefix !== "/") this.mountAcls.set(node.path, node.acl);
    this.seen.add(node.path);
    this.nodes += 1;
    onNode?.(node, shard);
  }

  /** The result, once every line was read; throws if the file ended early. */
  finish(): SnapshotCheck {
    if (!this.header) throw bad("line 1: the file is empty");
    if (!this.ended) throw bad(`line ${this.lineNumber + 1}: the file ends before its trailer (truncated?)`);
    return { header: this.header, nodes: this.nodes, mountAcls: this.mountAcls };
  }
}
