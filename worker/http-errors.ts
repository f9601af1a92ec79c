/**
 * Renders failures as ZooKeeper errors in JSON: { error: { name, code, message, path? } },
 * with the HTTP status from the KeeperError table.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { EdgekeeperEnv } from "../durable/env.ts";
import { Logger, errorField, logLevelOf } from "../durable/log.ts";
import { KeeperError, type KeeperErrorBody, keeperErrorByCode } from "../protocol/index.ts";

/** The error each error response carries, for the request log (which must not parse bodies). */
const errorNames = new WeakMap<Response, string>();

export function errorResponse(c: Context, error: KeeperErrorBody, extra: { results?: unknown[] } = {}): Response {
  const status = keeperErrorByCode(error.code).httpStatus as ContentfulStatusCode;
  const response = c.json({ error, ...extra }, status);
  errorNames.set(response, error.name);
  return response;
}

/** The ZooKeeper error name a response answered with, if it is an error response. */
export function errorNameOf(response: Response): string | undefined {
  return errorNames.get(response);
}

/** Hono's onError: KeeperErrors as themselves, anything else as SystemError (a bug), logged with its stack. */
export function renderError(err: unknown, c: Context): Response {
  if (err instanceof KeeperError) return errorResponse(c, err.toBody());
  new Logger(logLevelOf(c.env as EdgekeeperEnv)).error("unexpected error", { method: c.req.method, path: c.req.path, error: errorField(err) });
  return errorResponse(c, new KeeperError("SystemError", "internal error").toBody());
}

