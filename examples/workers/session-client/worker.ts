/**
 * The TypeScript client inside a Worker: a session over WebSocket for the length of
 * one request, here to add to a shared Counter (compare-and-set, retried on a
 * conflict). `POST /hit` answers the new count.
 *
 * The client reaches edgekeeper by URL only (EDGEKEEPER_URL, and EDGEKEEPER_TOKEN
 * when deployed): it opens its socket with `new WebSocket(url)`, which a service
 * binding cannot serve. A session per request costs a connect and a close; for one
 * or two operations the HTTP recipes (withLock, getConfig) are cheaper, and they
 * work over a binding.
 *
 * Locally against `npm start`:
 * `npx wrangler dev -c examples/workers/session-client/wrangler.toml --var EDGEKEEPER_URL:http://127.0.0.1:8787`.
 */
import { connect } from "../../../client/index.ts";
import { Counter } from "../../../client/recipes/index.ts";
import { errorResponse } from "../errors.ts";

interface Env {
  /** edgekeeper's URL: https://<your worker>, or http://127.0.0.1:8787 for npm start. */
  EDGEKEEPER_URL?: string;
  /** The bearer token of a deployed edgekeeper (`wrangler secret put EDGEKEEPER_TOKEN`). */
  EDGEKEEPER_TOKEN?: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname !== "/hit" || request.method !== "POST") return new Response("POST /hit\n", { status: 404 });
    if (!env.EDGEKEEPER_URL) return Response.json({ error: "BadArguments", message: "set EDGEKEEPER_URL (a service binding cannot carry the client's WebSocket)" }, { status: 500 });
    try {
      const zk = await connect({
        servers: [env.EDGEKEEPER_URL],
        sessionTimeoutMs: 10_000,
        connectTimeoutMs: 10_000,
        ...(env.EDGEKEEPER_TOKEN ? { token: env.EDGEKEEPER_TOKEN } : {}),
      });
      try {
        return Response.json({ hits: await new Counter(zk, "/counters/worker-hits").add(1) });
      } finally {
        await zk.close();
      }
    } catch (error) {
      return errorResponse(error);
    }
  },
} satisfies ExportedHandler<Env>;
