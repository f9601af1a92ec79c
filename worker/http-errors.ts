/**
 * Renders failures as ZooKeeper errors in JSON: { error: { name, code, message, path? } },
 * with the HTTP status from the KeeperError table.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { KeeperError, type KeeperErrorBody, keeperErrorByCode } from "../protocol/index.ts";

export function errorResponse(c: Context, error: KeeperErrorBody, extra: { results?: unknown[] } = {}): Response {
  const status = keeperErrorByCode(error.code).httpStatus as ContentfulStatusCode;
  return c.json({ error, ...extra }, status);
}

/** Hono's onError: KeeperErrors as themselves, anything else as SystemError (a bug). */
export function renderError(err: unknown, c: Context): Response {
  if (err instanceof KeeperError) return errorResponse(c, err.toBody());
  console.error("unexpected error", err);
  return errorResponse(c, new KeeperError("SystemError", "internal error").toBody());
}

