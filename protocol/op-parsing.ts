/**
 * The one parser of operations sent as JSON, checking every field's type: the HTTP
 * API's bodies and the session protocol's `req` messages both come through here.
 * The two differ only in what `OpParsing` names: how values are encoded, and which
 * paths are checked before an op is routed.
 */
import { type Acl, parseAclList } from "./acl.ts";
import { WATCH_KINDS, type WatchKind } from "./changes.ts";
import { base64ToBytes, decodeData } from "./encoding.ts";
import { KeeperError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { isSequential, parseCreateMode } from "./modes.ts";
import type { CreateOp, MultiReadItemOp, MultiWriteOp, SessionOperation, Value } from "./operations.ts";
import { validatePath } from "./paths.ts";

export type JsonObject = Record<string, unknown>;

/** How a surface sends operations. */
export interface OpParsing {
  limits: Limits;
  /**
   * How values (`data`) arrive: "base64" always (the session protocol), or as the
   * op's own `encoding` field says, UTF-8 text by default (the HTTP API).
   */
  values: "base64" | "per-op";
  /**
   * Which paths are checked before the op is routed: "all", as ZooKeeper's client
   * library does (PathUtils.validatePath; a sequential create's path with its suffix,
   * so "/queue/" may name the parent of sequential children); or "server", as
   * ZooKeeper's server does: a create's or delete's path is left to the shard, which
   * looks up the parent first, so a bad path under a missing parent answers NoNode
   * (ZOOKEEPER-BEHAVIOUR.md), and wire clients see that.
   */
  paths: "all" | "server";
}

export function optionalString(body: JsonObject, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new KeeperError("MarshallingError", `${field} must be a string`);
  return value;
}

export function requiredString(body: JsonObject, field: string): string {
  const value = optionalString(body, field);
  if (value === undefined) throw new KeeperError("MarshallingError", `${field} is required`);
  return value;
}

export function optionalInteger(body: JsonObject, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new KeeperError("MarshallingError", `${field} must be an integer`);
  return value;
}

function objectOf(value: unknown, what: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new KeeperError("MarshallingError", `${what} must be an object`);
  return value as JsonObject;
}

/**
 * Refuses a malformed path before it is routed, as ZooKeeper's client library does
 * (PathUtils.validatePath): a sequential create's path is checked with its suffix.
 */
export function checkedPath(path: string, limits: Limits, sequential = false): string {
  validatePath(sequential ? `${path}1` : path, limits);
  return path;
}

/** A lone UTF-16 surrogate (`"\ud800"` in JSON): no UTF-8 encodes it. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/**
 * The value an op carries (`data`): missing is empty, null is ZooKeeper's null value.
 * Text that is not Unicode is refused rather than stored as U+FFFD.
 */
export function dataOf(body: JsonObject, values: OpParsing["values"]): Value {
  if (values === "base64") {
    if (body.data === undefined) return new Uint8Array(0);
    if (body.data === null) return null;
    return base64ToBytes(requiredString(body, "data"));
  }
  if (typeof body.data === "string" && UNPAIRED_SURROGATE.test(body.data)) throw new KeeperError("MarshallingError", "data holds an unpaired UTF-16 surrogate, which is not Unicode text");
  return decodeData(body.data, body.encoding);
}

/** The op's `acl`; absent (undefined or null) leaves the default. */
export function aclOf(body: JsonObject): Acl[] | undefined {
  return body.acl === undefined || body.acl === null ? undefined : parseAclList(body.acl);
}

/** `path` of an op that is checked here under either rule. */
function pathOf(body: JsonObject, parsing: OpParsing): string {
  return checkedPath(requiredString(body, "path"), parsing.limits);
}

/** `path` of a delete: checked here, or by the shard (OpParsing.paths). */
function pathOfDelete(body: JsonObject, parsing: OpParsing): string {
  const path = requiredString(body, "path");
  return parsing.paths === "all" ? checkedPath(path, parsing.limits) : path;
}

function withVersion<T extends object>(op: T, body: JsonObject): T & { version?: number } {
  const version = optionalInteger(body, "version");
  return version === undefined ? op : { ...op, version };
}

/**
 * A create of `path` (the HTTP API's comes from the URL; the session protocol's from
 * the op) with the op's data, mode, acl and ttlMs.
 */
export function createOpOf(path: string, body: JsonObject, parsing: OpParsing): CreateOp {
  const ttlMs = optionalInteger(body, "ttlMs");
  const mode = parseCreateMode(body.mode);
  const checked = parsing.paths === "all" ? checkedPath(path, parsing.limits, isSequential(mode)) : path;
  const op: CreateOp = { op: "create", path: checked, data: dataOf(body, parsing.values), mode };
  const acl = aclOf(body);
  if (acl) op.acl = acl;
  if (ttlMs !== undefined) op.ttlMs = ttlMs;
  return op;
}

function createOp(body: JsonObject, parsing: OpParsing): CreateOp {
  return createOpOf(requiredString(body, "path"), body, parsing);
}

function listOf(body: JsonObject, limits: Limits): JsonObject[] {
  if (!Array.isArray(body.ops)) throw new KeeperError("MarshallingError", "ops must be a list of operations");
  if (body.ops.length > limits.maxMultiOps) throw new KeeperError("BadArguments", `at most ${limits.maxMultiOps} operations per request`);
  return body.ops.map((item, index) => objectOf(item, `ops[${index}]`));
}

/** A create, delete, setData or check (the ops a multi may hold); undefined for any other op. */
function multiWriteOpOf(body: JsonObject, parsing: OpParsing): MultiWriteOp | undefined {
  switch (body.op) {
    case "create":
      return createOp(body, parsing);
    case "delete":
      return withVersion({ op: "delete" as const, path: pathOfDelete(body, parsing) }, body);
    case "setData":
      return withVersion({ op: "setData" as const, path: pathOf(body, parsing), data: dataOf(body, parsing.values) }, body);
    case "check":
      return withVersion({ op: "check" as const, path: pathOf(body, parsing) }, body);
    default:
      return undefined;
  }
}

/**
 * The ops of a multi (`ops`): create, delete, setData and check.
 *
 * @example
 * multiOpsOf({ ops: [{ op: "check", path: "/a", version: 3 }] }, parsing); // [{ op: "check", path: "/a", version: 3 }]
 */
export function multiOpsOf(body: JsonObject, parsing: OpParsing): MultiWriteOp[] {
  return listOf(body, parsing.limits).map((item, index): MultiWriteOp => {
    const op = multiWriteOpOf(item, parsing);
    if (op) return op;
    throw new KeeperError("Unimplemented", `ops[${index}]: unknown multi operation ${JSON.stringify(item.op)}; use create, delete, setData or check`);
  });
}

/** The ops of a multiRead (`ops`): getData and getChildren. */
export function multiReadOpsOf(body: JsonObject, parsing: OpParsing): MultiReadItemOp[] {
  return listOf(body, parsing.limits).map((item, index): MultiReadItemOp => {
    if (item.op === "getData" || item.op === "getChildren") return { op: item.op, path: pathOf(item, parsing) };
    throw new KeeperError("Unimplemented", `ops[${index}]: unknown multiRead operation ${JSON.stringify(item.op)}; use getData or getChildren`);
  });
}

function watchFlag(body: JsonObject): { watch?: boolean } {
  if (body.watch === undefined) return {};
  if (typeof body.watch !== "boolean") throw new KeeperError("MarshallingError", "watch must be true or false");
  return { watch: body.watch };
}

/**
 * Checks one operation of any kind (as the session protocol sends them).
 *
 * @example
 * parseOp({ op: "getData", path: "/a", watch: true }, parsing); // { op: "getData", path: "/a", watch: true }
 */
export function parseOp(raw: unknown, parsing: OpParsing): SessionOperation {
  const body = objectOf(raw, "op");
  const write = multiWriteOpOf(body, parsing);
  if (write) return write;
  switch (body.op) {
    case "setACL":
      return withVersion({ op: "setACL" as const, path: pathOf(body, parsing), acl: parseAclList(body.acl) }, body);
    case "multi":
      return { op: "multi", ops: multiOpsOf(body, parsing) };
    case "getData":
    case "exists":
    case "getChildren":
      return { op: body.op, path: pathOf(body, parsing), ...watchFlag(body) };
    case "getAllChildrenNumber":
    case "getACL":
      return { op: body.op, path: pathOf(body, parsing) };
    case "getEphemerals":
      return { op: "getEphemerals", prefix: optionalString(body, "prefix") ?? "/" };
    case "multiRead":
      return { op: "multiRead", ops: multiReadOpsOf(body, parsing) };
    case "sync":
      return { op: "sync", path: pathOf(body, parsing) };
    case "addWatch":
      if (body.mode !== "persistent" && body.mode !== "recursive") throw new KeeperError("BadArguments", 'addWatch mode must be "persistent" or "recursive"');
      return { op: "addWatch", path: pathOf(body, parsing), mode: body.mode };
    case "removeWatches": {
      const kind = body.kind ?? "any";
      if (kind !== "any" && !WATCH_KINDS.includes(kind as WatchKind)) throw new KeeperError("BadArguments", `kind must be one of ${WATCH_KINDS.join(", ")} or any`);
      return { op: "removeWatches", path: pathOf(body, parsing), kind: kind as WatchKind | "any" };
    }
    case "addAuth":
      return { op: "addAuth", scheme: requiredString(body, "scheme"), credentials: requiredString(body, "credentials") };
    case "close":
      return { op: "close" };
    default:
      throw new KeeperError("Unimplemented", `unknown operation ${JSON.stringify(body.op)}`);
  }
}
