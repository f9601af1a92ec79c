/**
 * A Worker that takes a global lock for the length of one request with withLock:
 * fetch only (a service binding to edgekeeper, or its URL), no WebSocket. If this
 * Worker dies holding the lock, the lease expires after `ttlMs` and the next caller
 * gets it. `POST /run` runs the critical section, which writes a report node under
 * /reports behind the lock's fence; concurrent requests anywhere in the world take
 * turns.
 *
 * Deploy: `npx wrangler deploy -c examples/workers/global-lock/wrangler.toml` (with
 * edgekeeper deployed as the service "edgekeeper", and its token set as this Worker's
 * secret EDGEKEEPER_TOKEN), or run it locally against `npm start` with
 * `npx wrangler dev -c examples/workers/global-lock/wrangler.toml --var EDGEKEEPER_URL:http://127.0.0.1:8787`.
 */
import { withLock } from "../../../client/recipes/http-lock.ts";
import { HttpEndpoint, errorOf, znodeUrl } from "../../../client/recipes/http-endpoint.ts";
import { errorResponse } from "../errors.ts";

interface Env {
  /** A service binding to the edgekeeper Worker. */
  EDGEKEEPER?: Fetcher;
  /** Or its URL (used when set, even beside the binding). */
  EDGEKEEPER_URL?: string;
  /** The bearer token of a deployed edgekeeper, needed through a binding too (`wrangler secret put EDGEKEEPER_TOKEN`). */
  EDGEKEEPER_TOKEN?: string;
}

const REPORTS = "/reports";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname !== "/run" || request.method !== "POST") return new Response("POST /run\n", { status: 404 });
    const edgekeeper = new HttpEndpoint(env);
    try {
      // The parent of the reports, once: a second create answers NodeExists, which is fine.
      const parent = await edgekeeper.send("POST", znodeUrl(REPORTS));
      if (parent.status !== 201 && parent.status !== 409) throw errorOf(parent.body, parent.status, `create ${REPORTS}`);
      const result = await withLock(
        env,
        "/locks/nightly-report",
        async ({ node, fence, sessionHeader, signal }) => {
          // The critical section. Writes to edgekeeper that must not happen once the
          // lock is lost go in a multi behind the fence (a failed one throws):
          const { body } = await edgekeeper.request<{ results: { path: string }[] }>("POST", "/v1/multi", {
            headers: { "x-edgekeeper-session": sessionHeader },
            body: { ops: [fence, { op: "create", path: `${REPORTS}/run-`, mode: "PERSISTENT_SEQUENTIAL", data: new Date().toISOString() }] },
          });
          if (signal.aborted) throw new Error("the lease expired while running");
          return { node, report: body.results[1]?.path };
        },
        { ttlMs: 10_000, timeoutMs: 20_000, identifier: request.headers.get("cf-ray") ?? "worker" },
      );
      return Response.json(result);
    } catch (error) {
      return errorResponse(error);
    }
  },
} satisfies ExportedHandler<Env>;
