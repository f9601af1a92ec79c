/**
 * multi's operations as callers write them (values as bytes or strings), their
 * wire form, and a small builder.
 */
import type { Acl } from "../../protocol/acl.ts";
import type { CreateMode } from "../../protocol/modes.ts";
import type { SessionOp } from "../../protocol/session-protocol.ts";
import type { MultiWriteItemResult, WithBase64 } from "../../protocol/operations.ts";
import { type Data, encodeValue } from "./wire.ts";

/** One operation of a multi: applied all or none, in order. */
export type TransactionOp =
  | { op: "create"; path: string; data?: Data; mode?: CreateMode; acl?: Acl[]; ttlMs?: number }
  | { op: "delete"; path: string; version?: number }
  | { op: "setData"; path: string; data: Data; version?: number }
  | { op: "check"; path: string; version?: number };

/** One operation's outcome in a committed multi: `create` answers its path and Stat, `setData` its Stat. */
export type TransactionResult = WithBase64<MultiWriteItemResult>;

type WireMultiOp = Extract<SessionOp, { op: "multi" }>["ops"][number];

/**
 * The wire form of a multi's op: values base64, undefined fields left out.
 *
 * @example
 * toWireOp({ op: "setData", path: "/a", data: "x" }); // { op: "setData", path: "/a", data: "eA==" }
 */
export function toWireOp(op: TransactionOp): WireMultiOp {
  switch (op.op) {
    case "create":
      return compact({ op: "create", path: op.path, data: encodeValue(op.data), mode: op.mode, acl: op.acl, ttlMs: op.ttlMs });
    case "setData":
      return compact({ op: "setData", path: op.path, data: encodeValue(op.data), version: op.version });
    case "delete":
    case "check":
      return compact({ op: op.op, path: op.path, version: op.version });
  }
}

/** Drops undefined fields, so the JSON says only what the caller said. */
export function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/**
 * Collects operations and commits them as one multi.
 *
 * @example
 * const results = await zk.transaction()
 *   .check("/leader", 7)
 *   .create("/jobs/job-", "payload", { mode: "PERSISTENT_SEQUENTIAL" })
 *   .setData("/jobs", "", 3)
 *   .commit();
 */
export class Transaction {
  readonly ops: TransactionOp[] = [];

  private readonly run: (ops: TransactionOp[]) => Promise<TransactionResult[]>;

  constructor(run: (ops: TransactionOp[]) => Promise<TransactionResult[]>) {
    this.run = run;
  }

  create(path: string, data?: Data, options: { mode?: CreateMode; acl?: Acl[]; ttlMs?: number } = {}): this {
    this.ops.push({ op: "create", path, data, ...options });
    return this;
  }

  delete(path: string, version?: number): this {
    this.ops.push({ op: "delete", path, version });
    return this;
  }

  setData(path: string, data: Data, version?: number): this {
    this.ops.push({ op: "setData", path, data, version });
    return this;
  }

  check(path: string, version?: number): this {
    this.ops.push({ op: "check", path, version });
    return this;
  }

  /** Applies every op or none; a failure is the first failing op's KeeperError, with `results`. */
  commit(): Promise<TransactionResult[]> {
    return this.run(this.ops);
  }
}
