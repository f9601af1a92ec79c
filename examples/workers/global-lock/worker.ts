/**
 * A Worker that takes a global lock for the length of one request with withLock:
 * fetch only (a service binding to edgekeeper, or its URL), no WebSocket. If this
 * Worker dies holding the lock, the lease expires after `ttlMs` and the next caller
 * gets it. `POST /run` runs the critical section; concurrent requests anywhere in the
 * world take turns.
 *
 * Deploy: `npx wrangler deploy -c examples/workers/global-lock/wrangler.toml` (with
 * edgekeeper deployed as the service "edgekeeper"), or run it locally against
 * `npm start` with `npx wrangler dev -c examples/workers/global-lock/wrangler.toml --var EDGEKEEPER_URL:http://127.0.0.1:8787`.
 */
import { withLock } from "../../../client/recipes/http-lock.ts";

interface Env {
  /** A service binding to the edgekeeper Worker. */
  EDGEKEEPER?: Fetcher;
  /** Or its URL. */
  EDGEKEEPER_URL?: string;
  /** The bearer token of a deployed edgekeeper (`wrangler secret put EDGEKEEPER_TOKEN`). */
  EDGEKEEPER_TOKEN?: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname !== "/run" || request.method !== "POST") return new Response("POST /run\n", { status: 404 });
    try {
      const result = await withLock(
        env,
        "/locks/nightly-report",
        async ({ node, fence, sessionHeader, signal }) => {
          // The critical section. Writes to edgekeeper that must not happen once the
          // lock is lost go in a multi behind the fence:
          const base = env.EDGEKEEPER ? "http://localhost" : env.EDGEKEEPER_URL; // a binding ignores the host
          const write = await (env.EDGEKEEPER ?? globalThis).fetch(`${base}/v1/multi`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-edgekeeper-session": sessionHeader, ...(env.EDGEKEEPER_TOKEN ? { authorization: `Bearer ${env.EDGEKEEPER_TOKEN}` } : {}) },
            body: JSON.stringify({ ops: [fence, { op: "create", path: "/reports/run-", mode: "PERSISTENT_SEQUENTIAL", data: new Date().toISOString() }] }),
          });
          if (signal.aborted) throw new Error("the lease expired while running");
          return { node, written: write.status === 200 };
        },
        { ttlMs: 10_000, timeoutMs: 20_000, identifier: request.headers.get("cf-ray") ?? "worker" },
      );
      return Response.json(result);
    } catch (error) {
      const name = (error as { keeperName?: string }).keeperName;
      return Response.json({ error: name ?? String(error) }, { status: name === "OperationTimeout" ? 503 : 500 });
    }
  },
} satisfies ExportedHandler<Env>;
