/**
 * The session protocol's operations (protocol/session-protocol.ts, values as base64)
 * checked field by field and turned into what the host runs: a shard request, or one
 * of the host's own operations (sync, addWatch, removeWatches, addAuth, close). Also
 * the way back: a result's byte values as base64 strings.
 */
import {
  type Acl,
  type CreateOp,
  KeeperError,
  type Limits,
  type MultiReadItemOp,
  type MultiWriteOp,
  type Scope,
  type ShardRequest,
  type Value,
  WATCH_KINDS,
  type WatchKind,
  base64ToBytes,
  bytesToBase64,
  parseAclList,
  parseCreateMode,
  scopeNeededBy,
  validatePath,
} from "../../protocol/index.ts";

/** What a session's request asks of its host. */
export type HostOp =
  | { op: "shard"; request: ShardRequest }
  | { op: "sync"; path: string }
  | { op: "addWatch"; path: string; mode: "persistent" | "recursive" }
  | { op: "removeWatches"; path: string; kind: WatchKind | "any" }
  | { op: "addAuth"; scheme: string; credentials: string }
  | { op: "close" };

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new KeeperError("MarshallingError", `${what} must be an object`);
  return value as Json;
}

function string(body: Json, key: string): string {
  const value = body[key];
  if (typeof value !== "string") throw new KeeperError("MarshallingError", `${key} must be a string`);
  return value;
}

function version(body: Json): number | undefined {
  const value = body.version;
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value)) throw new KeeperError("MarshallingError", "version must be an integer");
  return value as number;
}

function path(body: Json, limits: Limits): string {
  const p = string(body, "path");
  validatePath(p, limits);
  return p;
}

/**
 * The path of a create or delete, checked by the shard instead: ZooKeeper's server
 * looks up the parent before it validates the whole path, so a bad path under a
 * missing parent answers NoNode (ZOOKEEPER-BEHAVIOUR.md), and wire clients see that.
 */
function pathCheckedByShard(body: Json): string {
  return string(body, "path");
}

/** A value: base64; missing means empty, null is ZooKeeper's null value. */
function data(body: Json): Value {
  if (body.data === undefined) return new Uint8Array(0);
  if (body.data === null) return null;
  return base64ToBytes(string(body, "data"));
}

function withVersion<T extends object>(op: T, body: Json): T & { version?: number } {
  const v = version(body);
  return v === undefined ? op : { ...op, version: v };
}

function watchFlag(body: Json): boolean | undefined {
  if (body.watch === undefined) return undefined;
  if (typeof body.watch !== "boolean") throw new KeeperError("MarshallingError", "watch must be true or false");
  return body.watch;
}

function createOp(body: Json): CreateOp {
  const mode = parseCreateMode(body.mode);
  const op: CreateOp = { op: "create", path: pathCheckedByShard(body), data: data(body), mode };
  if (body.acl !== undefined && body.acl !== null) op.acl = parseAclList(body.acl) as Acl[];
  if (body.ttlMs !== undefined) {
    if (!Number.isSafeInteger(body.ttlMs)) throw new KeeperError("MarshallingError", "ttlMs must be an integer");
    op.ttlMs = body.ttlMs as number;
  }
  return op;
}

function list(body: Json, limits: Limits): Json[] {
  if (!Array.isArray(body.ops)) throw new KeeperError("MarshallingError", "ops must be a list of operations");
  if (body.ops.length > limits.maxMultiOps) throw new KeeperError("BadArguments", `at most ${limits.maxMultiOps} operations per request`);
  return body.ops.map((item, i) => object(item, `ops[${i}]`));
}

function multiItem(item: Json, limits: Limits): MultiWriteOp {
  switch (item.op) {
    case "create":
      return createOp(item);
    case "delete":
      return withVersion({ op: "delete" as const, path: pathCheckedByShard(item) }, item);
    case "setData":
      return withVersion({ op: "setData" as const, path: path(item, limits), data: data(item) }, item);
    case "check":
      return withVersion({ op: "check" as const, path: path(item, limits) }, item);
    default:
      throw new KeeperError("Unimplemented", `unknown multi operation ${JSON.stringify(item.op)}; use create, delete, setData or check`);
  }
}

/**
 * Checks one operation of a `req` message and says what the host is to do.
 *
 * @example
 * parseSessionOp({ op: "getData", path: "/a", watch: true }, limits); // { op: "shard", request: {...} }
 */
export function parseSessionOp(raw: unknown, limits: Limits): HostOp {
  const body = object(raw, "op");
  const shard = (request: ShardRequest): HostOp => ({ op: "shard", request });
  switch (body.op) {
    case "create":
      return shard(createOp(body));
    case "delete":
      return shard(withVersion({ op: "delete" as const, path: pathCheckedByShard(body) }, body));
    case "setData":
      return shard(withVersion({ op: "setData" as const, path: path(body, limits), data: data(body) }, body));
    case "check":
      return shard(withVersion({ op: "check" as const, path: path(body, limits) }, body));
    case "setACL":
      return shard(withVersion({ op: "setACL" as const, path: path(body, limits), acl: parseAclList(body.acl) as Acl[] }, body));
    case "multi":
      return shard({ op: "multi", ops: list(body, limits).map((item) => multiItem(item, limits)) });
    case "getData":
    case "exists":
    case "getChildren": {
      const watch = watchFlag(body);
      return shard({ op: body.op, path: path(body, limits), ...(watch === undefined ? {} : { watch }) });
    }
    case "getAllChildrenNumber":
    case "getACL":
      return shard({ op: body.op, path: path(body, limits) });
    case "getEphemerals":
      return shard({ op: "getEphemerals", prefix: body.prefix === undefined ? "/" : string(body, "prefix") });
    case "multiRead":
      return shard({
        op: "multiRead",
        ops: list(body, limits).map((item): MultiReadItemOp => {
          if (item.op !== "getData" && item.op !== "getChildren") throw new KeeperError("Unimplemented", `unknown multiRead operation ${JSON.stringify(item.op)}; use getData or getChildren`);
          return { op: item.op, path: path(item, limits) };
        }),
      });
    case "sync":
      return { op: "sync", path: path(body, limits) };
    case "addWatch": {
      if (body.mode !== "persistent" && body.mode !== "recursive") throw new KeeperError("BadArguments", 'addWatch mode must be "persistent" or "recursive"');
      return { op: "addWatch", path: path(body, limits), mode: body.mode };
    }
    case "removeWatches": {
      const kind = body.kind ?? "any";
      if (kind !== "any" && !WATCH_KINDS.includes(kind as WatchKind)) throw new KeeperError("BadArguments", `kind must be one of ${WATCH_KINDS.join(", ")} or any`);
      return { op: "removeWatches", path: path(body, limits), kind: kind as WatchKind | "any" };
    }
    case "addAuth":
      return { op: "addAuth", scheme: string(body, "scheme"), credentials: string(body, "credentials") };
    case "close":
      return { op: "close" };
    default:
      throw new KeeperError("Unimplemented", `unknown operation ${JSON.stringify(body.op)}`);
  }
}

/** The scope a host operation needs: a shard request's own; the host's operations only read. */
export function scopeNeededByHostOp(op: HostOp): Scope {
  return op.op === "shard" ? scopeNeededBy(op.request) : "read";
}

/** A result as JSON for the socket: every byte value (Uint8Array) becomes a base64 string. */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return bytesToBase64(value);
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toWire(item);
    return out;
  }
  return value;
}
