/**
 * What a session's request asks of its host: a shard request, or one of the host's
 * own operations (sync, addWatch, removeWatches, addAuth, close). The request
 * itself is checked by protocol/op-parsing.ts, with the session protocol's rules.
 */
import {
  type HostOnlyOp,
  type Limits,
  type Scope,
  type ShardRequest,
  scopeNeededBy,
} from "../../protocol/index.ts";
import { type OpParsing, parseOp } from "../../protocol/op-parsing.ts";

export type HostOp = { op: "shard"; request: ShardRequest } | HostOnlyOp;

const HOST_ONLY_OPS: ReadonlySet<string> = new Set<HostOnlyOp["op"]>(["sync", "addWatch", "removeWatches", "addAuth", "close"]);

/** How the session protocol sends operations: values as base64; a create's or delete's path checked by the shard. */
export function sessionOpParsing(limits: Limits): OpParsing {
  return { limits, values: "base64", paths: "server" };
}

/**
 * Checks one operation of a `req` message and says what the host is to do.
 *
 * @example
 * parseSessionOp({ op: "getData", path: "/a", watch: true }, limits); // { op: "shard", request: {...} }
 */
export function parseSessionOp(raw: unknown, limits: Limits): HostOp {
  const op = parseOp(raw, sessionOpParsing(limits));
  return isHostOnly(op) ? op : { op: "shard", request: op };
}

function isHostOnly(op: { op: string }): op is HostOnlyOp {
  return HOST_ONLY_OPS.has(op.op);
}

/** The scope a host operation needs: a shard request's own; the host's operations only read. */
export function scopeNeededByHostOp(op: HostOp): Scope {
  return op.op === "shard" ? scopeNeededBy(op.request) : "read";
}
