/**
 * Read modes and bookmarks over HTTP. A request may choose its read mode
 * (`X-Edgekeeper-Consistency`) and send back the bookmark of an earlier answer
 * (`X-Edgekeeper-Bookmark`), for read-your-writes without a session; every answer
 * of a routed request then carries the caller's bookmark advanced by what it showed
 * and `X-Edgekeeper-Served-By: <region>/<leader|replica>` (docs/consistency.md).
 */
import type { MiddlewareHandler } from "hono";
import type { RegionLink } from "../../durable/base/region-link.ts";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { ReadContext, readRoutingOf } from "../../durable/directory/read-routing.ts";
import { BOOKMARK_HEADER, CONSISTENCY_HEADER, decodeBookmark, emptyBookmark, encodeBookmark, parseReadMode } from "../../protocol/index.ts";
import type { RequestHeaders } from "../identity.ts";
import type { AppEnv } from "../app.ts";
import { SOCKET_PATH } from "./bearer-auth.ts";

export const SERVED_BY_HEADER = "X-Edgekeeper-Served-By";

/** The read mode and bookmark a request names, from the caller's region (`link`); a bad mode or bookmark is BadArguments. */
export function readContextOf(env: EdgekeeperEnv, namespace: string, req: RequestHeaders, link: RegionLink): ReadContext {
  const mode = parseReadMode(req.header(CONSISTENCY_HEADER));
  const sent = req.header(BOOKMARK_HEADER);
  const bookmark = sent === undefined || sent.trim() === "" ? emptyBookmark(namespace) : decodeBookmark(sent, namespace);
  return new ReadContext(readRoutingOf(env), mode, bookmark, { callerRegion: link.region });
}

/**
 * Puts the bookmark and served-by on the answer of every request that was routed
 * (reads, writes and their errors); set before `c.var.reads` exists, it wraps them all.
 */
export function bookmarkHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const reads = c.get("reads");
    // The socket route answers with the session host's own response (headers fixed):
    // its sessions' answers carry their zxids and shards in the socket's messages.
    if (!reads || c.req.path === SOCKET_PATH) return;
    c.res.headers.set(BOOKMARK_HEADER, encodeBookmark(reads.bookmark));
    if (reads.servedBy !== undefined) c.res.headers.set(SERVED_BY_HEADER, reads.servedBy);
  };
}
