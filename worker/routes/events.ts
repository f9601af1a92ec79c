/**
 * GET /v1/events/<path>: a Server-Sent Events stream of the changes to a node or
 * subtree, read from its shard's change log. Each event's id is its zxid, so a
 * client that reconnects with Last-Event-ID (EventSource does) misses nothing the
 * log still holds; if the log has moved past it, an `overflow` event says so.
 * The caller needs READ on the path (as a getData would), and sees only the events
 * of nodes it may read, each judged by the node's ACL as of the event; if it loses
 * READ on the path, an `error` event ends the stream.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { CHANGE_SCOPES, type ChangeScope, KeeperError, limitsFromEnv } from "../../protocol/index.ts";
import type { AppEnv } from "../app.ts";
import { callerOf } from "../identity.ts";
import { checkedPath } from "../../protocol/op-parsing.ts";
import { parseIntegerText } from "../request-body.ts";
import { INDEX_HEADER, znodePathOf } from "./znodes.ts";

const PREFIX = "/v1/events";
/** How long one wait on the shard lasts before a keep-alive comment is sent. */
const KEEPALIVE_MS = 25_000;

function scopeOf(text: string | undefined): ChangeScope {
  if (text === undefined) return "subtree";
  if ((CHANGE_SCOPES as readonly string[]).includes(text)) return text as ChangeScope;
  throw new KeeperError("BadArguments", `unknown scope ${JSON.stringify(text)}; use ${CHANGE_SCOPES.join(", ")}`);
}

export const eventRoutes = new Hono<AppEnv>();

eventRoutes.get("/*", async (c) => {
  const path = checkedPath(znodePathOf(c.req.url, PREFIX), limitsFromEnv(c.env));
  const scope = scopeOf(c.req.query("scope"));
  const caller = await callerOf(c.req, c.env);
  const router = c.get("router");
  const resumeFrom = parseIntegerText(c.req.header("Last-Event-ID") ?? c.req.query("after"), "Last-Event-ID");
  // Also the READ check, answered as an error before any stream starts.
  const opening = await router.changesFor(caller, path, scope, Number.MAX_SAFE_INTEGER);
  if (!opening.ok) throw KeeperError.fromBody(opening.error);
  let after = resumeFrom ?? opening.value.last;
  c.header(INDEX_HEADER, String(after));

  return streamSSE(c, async (stream) => {
    await stream.writeSSE({ event: "ready", id: String(after), data: JSON.stringify({ path, scope, zxid: after }) });
    while (!stream.aborted) {
      const answer = await router.changesFor(caller, path, scope, after);
      if (!answer.ok) {
        await stream.writeSSE({ event: "error", data: JSON.stringify({ error: answer.error }) });
        return;
      }
      const { events, oldest, last } = answer.value;
      if (oldest !== undefined && after < oldest - 1) {
        await stream.writeSSE({ event: "overflow", id: String(last), data: JSON.stringify({ after, oldest }) });
      }
      for (const change of events) {
        await stream.writeSSE({ event: change.event, id: String(change.zxid), data: JSON.stringify(change) });
      }
      after = Math.max(after, last);
      const waited = await router.waitForChange(caller, path, scope, after, KEEPALIVE_MS);
      if (waited.ok && !waited.value.changed) await stream.write(": keep-alive\n\n");
    }
  });
});
