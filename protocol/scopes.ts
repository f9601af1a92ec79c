/**
 * What a bearer token's scope lets its holder do, as etcd's roles or Consul's ACL
 * tokens scope access: `read` (reads, watches, streams, sessions), `write` (also
 * every change to znodes), `admin` (also mounts and every admin route). Each scope
 * includes the ones before it. ZooKeeper's ACLs still apply on top of a scope.
 */
import { WRITE_OPS } from "./operations.ts";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Whether a token of `scope` may do what needs `needed`.
 *
 * @example
 * scopeAllows("write", "read"); // true
 * scopeAllows("read", scopeNeededBy({ op: "setData" })); // false
 */
export function scopeAllows(scope: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(scope) >= SCOPES.indexOf(needed);
}

/** The scope an operation needs: `write` for ZooKeeper's writes (check included, as its read-only mode refuses it), else `read`. */
export function scopeNeededBy(request: { op: string }): Scope {
  return WRITE_OPS.has(request.op) ? "write" : "read";
}

export function isScope(value: unknown): value is Scope {
  return (SCOPES as readonly unknown[]).includes(value);
}
