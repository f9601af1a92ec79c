/**
 * The one table of ZooKeeper errors, used by every surface: the HTTP API renders
 * it, the wire bridge sends its codes, the client turns codes back into typed errors.
 * Names and codes are KeeperException.Code's; the HTTP status is ours.
 */

export interface KeeperErrorInfo {
  readonly name: string;
  readonly code: number;
  readonly httpStatus: number;
  readonly message: string;
}

const table = {
  Ok: { code: 0, httpStatus: 200, message: "ok" },
  SystemError: { code: -1, httpStatus: 500, message: "system error" },
  RuntimeInconsistency: { code: -2, httpStatus: 409, message: "runtime inconsistency" },
  DataInconsistency: { code: -3, httpStatus: 500, message: "data inconsistency" },
  ConnectionLoss: { code: -4, httpStatus: 503, message: "connection loss" },
  MarshallingError: { code: -5, httpStatus: 400, message: "marshalling error" },
  Unimplemented: { code: -6, httpStatus: 400, message: "unimplemented" },
  OperationTimeout: { code: -7, httpStatus: 504, message: "operation timeout" },
  BadArguments: { code: -8, httpStatus: 400, message: "bad arguments" },
  NewConfigNoQuorum: { code: -13, httpStatus: 409, message: "no quorum of new config" },
  ReconfigInProgress: { code: -14, httpStatus: 409, message: "reconfig in progress" },
  UnknownSession: { code: -12, httpStatus: 404, message: "unknown session" },
  APIError: { code: -100, httpStatus: 500, message: "API error" },
  NoNode: { code: -101, httpStatus: 404, message: "no node" },
  NoAuth: { code: -102, httpStatus: 403, message: "not authorized" },
  BadVersion: { code: -103, httpStatus: 412, message: "bad version" },
  NoChildrenForEphemerals: { code: -108, httpStatus: 409, message: "ephemeral nodes may not have children" },
  NodeExists: { code: -110, httpStatus: 409, message: "node exists" },
  NotEmpty: { code: -111, httpStatus: 409, message: "directory not empty" },
  SessionExpired: { code: -112, httpStatus: 410, message: "session expired" },
  InvalidCallback: { code: -113, httpStatus: 400, message: "invalid callback" },
  InvalidACL: { code: -114, httpStatus: 400, message: "invalid ACL" },
  AuthFailed: { code: -115, httpStatus: 401, message: "authentication failed" },
  SessionMoved: { code: -118, httpStatus: 409, message: "session moved" },
  NotReadOnly: { code: -119, httpStatus: 409, message: "not a read-only call" },
  EphemeralOnLocalSession: { code: -120, httpStatus: 400, message: "ephemeral node on local session" },
  NoWatcher: { code: -121, httpStatus: 404, message: "no watcher" },
  RequestTimeout: { code: -122, httpStatus: 504, message: "request timeout" },
  ReconfigDisabled: { code: -123, httpStatus: 400, message: "reconfig disabled" },
  SessionClosedRequireSaslAuth: { code: -124, httpStatus: 401, message: "session closed because SASL auth is required" },
  QuotaExceeded: { code: -125, httpStatus: 413, message: "quota exceeded" },
  Throttled: { code: -127, httpStatus: 429, message: "request throttled" },
} as const satisfies Record<string, Omit<KeeperErrorInfo, "name">>;

export type KeeperErrorName = keyof typeof table;

/** Every error of the table, by name. */
export const KEEPER_ERRORS: Readonly<Record<KeeperErrorName, KeeperErrorInfo>> = Object.fromEntries(
  Object.entries(table).map(([name, info]) => [name, { name, ...info }]),
) as Record<KeeperErrorName, KeeperErrorInfo>;

const byCode = new Map<number, KeeperErrorInfo>(Object.values(KEEPER_ERRORS).map((e) => [e.code, e]));

/** Looks an error up by its ZooKeeper code; unknown codes read as SystemError. */
export function keeperErrorByCode(code: number): KeeperErrorInfo {
  return byCode.get(code) ?? KEEPER_ERRORS.SystemError;
}

/** The JSON shape of an error on every surface. */
export interface KeeperErrorBody {
  name: KeeperErrorName;
  code: number;
  message: string;
  path?: string;
}

/**
 * A ZooKeeper error as a JS exception.
 *
 * @example
 * throw new KeeperError("NoNode", "/config/db does not exist", "/config/db");
 */
export class KeeperError extends Error {
  readonly code: number;
  readonly keeperName: KeeperErrorName;
  readonly path: string | undefined;
  readonly httpStatus: number;

  constructor(name: KeeperErrorName, detail?: string, path?: string) {
    const info = KEEPER_ERRORS[name];
    super(detail ?? (path ? `${info.message}: ${path}` : info.message));
    this.name = `KeeperError.${name}`;
    this.keeperName = name;
    this.code = info.code;
    this.path = path;
    this.httpStatus = info.httpStatus;
  }

  /** The serialisable form, as it crosses RPC and HTTP. */
  toBody(): KeeperErrorBody {
    const body: KeeperErrorBody = { name: this.keeperName, code: this.code, message: this.message };
    if (this.path !== undefined) body.path = this.path;
    return body;
  }

  /** Rebuilds an error from its serialised form. */
  static fromBody(body: KeeperErrorBody): KeeperError {
    return new KeeperError(body.name, body.message, body.path);
  }
}

/** True for the named ZooKeeper error. */
export function isKeeperError(err: unknown, name?: KeeperErrorName): err is KeeperError {
  return err instanceof KeeperError && (name === undefined || err.keeperName === name);
}
