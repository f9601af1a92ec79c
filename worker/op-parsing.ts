/**
 * Turns JSON request bodies into shard operations, checking every field's type.
 */
import {
  type Acl,
  type CreateOp,
  type DataEncoding,
  KeeperError,
  type MultiReadItemOp,
  type MultiWriteOp,
  decodeData,
  parseAclList,
  parseCreateMode,
} from "../protocol/index.ts";
import { type JsonObject, optionalInteger, requiredString } from "./request-body.ts";

function dataOf(body: JsonObject): Uint8Array {
  return decodeData(body.data, body.encoding);
}

function aclOf(body: JsonObject): Acl[] | undefined {
  return body.acl === undefined || body.acl === null ? undefined : parseAclList(body.acl);
}

export function createOpOf(path: string, body: JsonObject): CreateOp {
  const ttlMs = optionalInteger(body, "ttlMs");
  const op: CreateOp = { op: "create", path, data: dataOf(body), mode: parseCreateMode(body.mode) };
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
export function multiOpsOf(body: JsonObject, maxOps: number): MultiWriteOp[] {
  return opsOf(body, maxOps).map((raw, index): MultiWriteOp => {
    const item = asObject(raw, index);
    const path = requiredString(item, "path");
    const version = optionalInteger(item, "version");
    switch (item.op) {
      case "create":
        return createOpOf(path, item);
      case "delete":
        return version === undefined ? { op: "delete", path } : { op: "delete", path, version };
      case "setData":
        return version === undefined ? { op: "setData", path, data: dataOf(item) } : { op: "setData", path, data: dataOf(item), version };
      case "check":
        return version === undefined ? { op: "check", path } : { op: "check", path, version };
      default:
        throw new KeeperError("Unimplemented", `ops[${index}]: unknown multi operation ${JSON.stringify(item.op)}; use create, delete, setData or check`);
    }
  });
}

/** The ops of a multiRead: getData and getChildren. */
export function multiReadOpsOf(body: JsonObject, maxOps: number): MultiReadItemOp[] {
  return opsOf(body, maxOps).map((raw, index): MultiReadItemOp => {
    const item = asObject(raw, index);
    const path = requiredString(item, "path");
    if (item.op === "getData" || item.op === "getChildren") return { op: item.op, path };
    throw new KeeperError("Unimplemented", `ops[${index}]: unknown multiRead operation ${JSON.stringify(item.op)}; use getData or getChildren`);
  });
}

/** The encoding a caller asked values to be returned in (?encoding=base64). */
export function preferredEncoding(query: string | undefined): DataEncoding {
  if (query === undefined || query === "utf8") return "utf8";
  if (query === "base64") return "base64";
  throw new KeeperError("BadArguments", `unknown encoding ${JSON.stringify(query)}; use utf8 or base64`);
}
