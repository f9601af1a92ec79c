/**
 * Reads to its end a request body that nothing read, before the answer goes out.
 *
 * An early refusal (an unknown route, a method a route does not take, a bearer
 * token or origin refused) never reads the body. workerd then cannot reuse the
 * kept-alive connection: with a few MiB still unread it closes it, and a client
 * still sending gets EPIPE or a reset instead of its 4xx, and the next request
 * on that connection fails. Draining (bytes are discarded, never held) keeps the
 * connection usable. Bodies are drained up to four times the request limit
 * (drainLimitOf): past that the connection is given up.
 */
import type { MiddlewareHandler } from "hono";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { limitsFromEnv } from "../../protocol/index.ts";
import { drainLimitOf, readChunks } from "../request-body.ts";

/**
 * @example
 * app.use("*", drainUnreadBody());
 */
export function drainUnreadBody(): MiddlewareHandler<{ Bindings: EdgekeeperEnv }> {
  return async (c, next) => {
    try {
      await next();
    } finally {
      // Also when next() throws: an unknown route's refusal (app.notFound) reaches
      // Hono's onError only after passing through here.
      const body = c.req.raw.body;
      const maxBytes = limitsFromEnv(c.env).maxRequestBytes;
      if (body && !c.req.raw.bodyUsed && Number(c.req.header("Content-Length") ?? "0") <= drainLimitOf(maxBytes)) {
        // A client that goes away mid-body has nothing left to answer.
        await readChunks(body, maxBytes, () => undefined).catch(() => undefined);
      }
    }
  };
}
