/**
 * A Worker that reads configuration with getConfig: served from the isolate's memory,
 * refreshed by long-poll (a blocking read that returns when the node changes), handed
 * to `ctx.waitUntil` so it may finish after the response. Fetch only, no WebSocket.
 *
 * Deploy: `npx wrangler deploy -c examples/workers/config/wrangler.toml` (with
 * edgekeeper deployed as the service "edgekeeper", and its token set as this Worker's
 * secret EDGEKEEPER_TOKEN), or locally against `npm start`:
 * `npx wrangler dev -c examples/workers/config/wrangler.toml --var EDGEKEEPER_URL:http://127.0.0.1:8787`.
 */
import { getConfig } from "../../../client/recipes/http-config.ts";
import { errorResponse } from "../errors.ts";

interface Env {
  /** A service binding to the edgekeeper Worker. */
  EDGEKEEPER?: Fetcher;
  /** Or its URL (used when set, even beside the binding). */
  EDGEKEEPER_URL?: string;
  /** The bearer token of a deployed edgekeeper, needed through a binding too. */
  EDGEKEEPER_TOKEN?: string;
}

interface Limits {
  rps: number;
}

export default {
  async fetch(_request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p);
    try {
      const [url, limits] = await Promise.all([
        getConfig(env, "/config/database/url", { waitUntil }),
        getConfig<Limits>(env, "/config/limits", { waitUntil, parse: (text) => JSON.parse(text) as Limits }),
      ]);
      return Response.json({ databaseUrl: url ?? null, rps: limits?.rps ?? 100 });
    } catch (error) {
      return errorResponse(error);
    }
  },
} satisfies ExportedHandler<Env>;
