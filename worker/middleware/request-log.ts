/**
 * The request log: one `info` line per request (method, path without its query,
 * status, ms, namespace, and the ZooKeeper error name of an error answer), `error`
 * for a 5xx. The query is left out: a browser's socket may carry its token there.
 */
import type { MiddlewareHandler } from "hono";
import { Logger, logLevelOf } from "../../durable/log.ts";
import type { AppEnv } from "../app.ts";
import { errorNameOf } from "../http-errors.ts";

export function requestLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = Date.now();
    await next();
    const log = new Logger(logLevelOf(c.env));
    const error = errorNameOf(c.res);
    const namespace = c.get("namespace") as string | undefined;
    const fields = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - started,
      ...(namespace === undefined ? {} : { namespace }),
      ...(error === undefined ? {} : { error }),
    };
    if (c.res.status >= 500) log.error("request", fields);
    else log.info("request", fields);
  };
}
