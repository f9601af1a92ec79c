/**
 * Turns JSON request bodies into shard operations, checking every field's type.
 */
import {
  type Acl,
  type CreateOp,
  type DataEncoding,
  KeeperError,
  type Limits,
  type MultiReadItemOp,
  type MultiWriteOp,
  type Value,
  decodeData,
  isSequential,
  parseAclList,
  parseCreateMode,
  validatePath,
} from "../protocol/index.ts";
import { type JsonObject, optionalInteger, requiredString } from "./request-body.ts";

/** A lone UTF-16 surrogate (`"\ud800"` in JSON): no UTF-8 encodes it. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** The value a body carries (`data`, `encoding`); text that is not Unicode is refused rather than stored as U+FFFD. */
export function dataOf(body: JsonObject): Value {
  if (typeof body.data === "string" && UNPAIRED_SURROGATE.test(body.data)) throw new KeeperError("MarshallingError", "data holds an unpaired UTF-16 surrogate, which is not Unicode text");
  return decodeData(body.data, body.encoding);
}

function aclOf(body: JsonObject): Acl[] | undefined {
  return body.acl === undefined || body.acl === null ? undefined : parseAclList(body.acl);
}

/**
 * Refuses a malformed path before it is routed, as ZooKeeper's client library does
 * (PathUtils.validatePath): a sequential create's path is checked with its suffix,
 * so "/queue/" may name the parent of sequential children.
 */
export function checkedPath(path: string, limits: Limits, sequential = false): string {
  validatePath(sequential ? `${path}1` : path, limits);
  return path;
}

export function createOpOf(path: string, body: JsonObject, limits: Limits): CreateOp {
  const ttlMs = optionalInteger(body, "ttlMs");
  const mode = parseCreateMode(body.mode);
  const op: CreateOp = { op: "create", path: checkedPath(path, limits, isSequential(mode)), data: dataOf(body), mode };
  const acl = aclOf(body);
  if (acl) op.acl = acl;
  if (ttlMs !== undefined) op.ttlMs = ttlMs;
  return op;
}

function asObject(value: unknown, index: number): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new KeeperError("MarshallingError", `ops[${index}] must be an object`);
  return value as JsonObject;
}

function opsOf(body: JsonObject, maxOps: number): unknown[] {
  if (!Array.isArray(body.ops)) throw new KeeperError("MarshallingError", "ops must be a list of operations");
  if (body.ops.length > maxOps) throw new KeeperError("BadArguments", `at most ${maxOps} operations per request`);
  return body.ops;
}

/** The ops of a multi: create, delete, setData and check. */
export function multiOpsOf(body: JsonObject, limits: Limits): MultiWriteOp[] {
  return opsOf(body, limits.maxMultiOps).map((raw, index): MultiWriteOp => {
    const item = asObject(raw, index);
    const rawPath = requiredString(item, "path");
    const version = optionalInteger(item, "version");
    switch (item.op) {
      case "create":
        return createOpOf(rawPath, item, limits);
      case "delete": {
        const path = checkedPath(rawPath, limits);
        return version === undefined ? { op: "delete", path } : { op: "delete", path, version };
      }
      case "setData": {
        const path = checkedPath(rawPath, limits);
        return version === undefined ? { op: "setData", path, data: dataOf(item) } : { op: "setData", path, data: dataOf(item), version };
      }
      case "check": {
        const path = checkedPath(rawPath, limits);
        return version === undefined ? { op: "check", path } : { op: "check", path, version };
      }
      default:
        throw new KeeperError("Unimplemented", `ops[${index}]: unknown multi operation ${JSON.stringify(item.op)}; use create, delete, setData or check`);
    }
  });
}

/** The ops of a multiRead: getData and getChildren. */
export function multiReadOpsOf(body: JsonObject, limits: Limits): MultiReadItemOp[] {
  return opsOf(body, limits.maxMultiOps).map((raw, index): MultiReadItemOp => {
    const item = asObject(raw, index);
    const path = requiredString(item, "path");
    if (item.op === "getData" || item.op === "getChildren") return { op: item.op, path: checkedPath(path, limits) };
    throw new KeeperError("Unimplemented", `ops[${index}]: unknown multiRead operation ${JSON.stringify(item.op)}; use getData or getChildren`);
  });
}

/** The encoding a caller asked values to be returned in (?encoding=base64). */
export function preferredEncoding(query: string | undefined): DataEncoding {
  if (query === undefined || query === "utf8") return "utf8";
  if (query === "base64") return "base64";
  throw new KeeperError("BadArguments", `unknown encoding ${JSON.stringify(query)}; use utf8 or base64`);
}
