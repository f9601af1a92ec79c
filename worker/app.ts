/**
 * The Hono app: origin and host checks, bearer auth, namespace selection, the API
 * routes, errors in ZooKeeper's terms.
 */
import { type Context, type Handler, Hono, type MiddlewareHandler } from "hono";
import type { KeepAlive } from "../durable/directory/shared-rpc.ts";
import type { EdgekeeperEnv } from "../durable/env.ts";
import { KeeperError } from "../protocol/index.ts";
import { renderError } from "./http-errors.ts";
import { authorize } from "./middleware/authorize.ts";
import { SOCKET_PATH, bearerAuth } from "./middleware/bearer-auth.ts";
import { drainUnreadBody } from "./middleware/drain-unread-body.ts";
import { originGuard } from "./middleware/origin-guard.ts";
import { bookmarkHeaders, readContextOf } from "./middleware/read-consistency.ts";
import { selectRegion } from "./middleware/region.ts";
import { requestLog } from "./middleware/request-log.ts";
import { adminRoutes } from "./routes/admin.ts";
import { eventRoutes } from "./routes/events.ts";
import { adminCommandRoutes, metricsRoutes, readiness } from "./routes/monitoring.ts";
import { multiRoutes } from "./routes/multi.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { znodeRoutes } from "./routes/znodes.ts";
import type { RegionLink } from "../durable/base/region-link.ts";
import type { ReadContext } from "../durable/directory/read-routing.ts";
import type { ShardRouter } from "../durable/directory/shard-router.ts";
import { routerFor } from "./session-router.ts";
import type { Grant } from "./tokens.ts";

/**
 * `router` runs a request's operations: through its session's host if it names one,
 * else straight to the shards. `grant`: what the request's bearer token allows.
 * `link`: how the request's calls reach the objects, from the caller's region.
 * `reads`: its read mode and bookmark, advanced by the shards' answers.
 */
export type AppEnv = { Bindings: EdgekeeperEnv & ConsoleBinding; Variables: { router: ShardRouter; namespace: string; grant: Grant; link: RegionLink; reads: ReadContext } };

/**
 * Locally, the console's assets: a worker of their own that `npm start` binds here
 * (bridge/cli/start.ts), since its port reaches this Worker directly. Deployed,
 * Cloudflare serves /ui/ from [assets] before the Worker runs, and there is no binding.
 */
type ConsoleBinding = { CONSOLE_ASSETS?: Fetcher };

export const NAMESPACE_HEADER = "X-Edgekeeper-Namespace";
const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export const app = new Hono<AppEnv>();

app.use("*", drainUnreadBody());
const toConsole: Handler<AppEnv> = (c) => (c.env.CONSOLE_ASSETS ? c.env.CONSOLE_ASSETS.fetch(c.req.raw) : c.notFound());
app.all("/ui", toConsole);
app.all("/ui/*", toConsole);
app.onError(renderError);
// An unknown path or method is 404 (as any web server answers), still in ZooKeeper's
// terms: the error table's Unimplemented says 400, which is for an unknown op.
app.notFound((c) => c.json({ error: new KeeperError("Unimplemented", "no such endpoint; see docs/api.md").toBody() }, 404));

app.use("*", requestLog());
// The console (static assets at /ui/, served before the Worker runs) is the front page.
app.get("/", (c) => c.redirect("/ui/", 302));
app.get("/healthz", (c) => c.json({ ok: true }));
app.get("/readyz", async (c) => {
  const ready = await readiness(c.env);
  return c.json(ready, ready.ok ? 200 : 503);
});

/** Routes that take ?namespace= as well as the header: a browser's WebSocket and a Prometheus scrape cannot set headers. */
const NAMESPACE_IN_QUERY = new Set([SOCKET_PATH, "/metrics"]);

/**
 * The request's ctx.waitUntil, for its router's work that may outlive it: RPCs shared
 * with the isolate's other requests (durable/directory/shared-rpc.ts; not with
 * EDGEKEEPER_SHARED_RPCS=0) and the mount table's refresh. None without an execution
 * context (app.request() in a test).
 */
function keepAliveOf(c: Context<AppEnv>): KeepAlive | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}

const selectNamespace: MiddlewareHandler<AppEnv> = async (c, next) => {
  const fromQuery = NAMESPACE_IN_QUERY.has(c.req.path) ? c.req.query("namespace") : undefined;
  const namespace = fromQuery ?? c.req.header(NAMESPACE_HEADER) ?? "default";
  if (!NAMESPACE_PATTERN.test(namespace)) throw new KeeperError("BadArguments", `${NAMESPACE_HEADER} must match ${NAMESPACE_PATTERN}`);
  c.set("namespace", namespace);
  const reads = readContextOf(c.env, namespace, c.req, c.get("link"));
  c.set("reads", reads);
  c.set("router", routerFor(c.env, namespace, c.req, c.get("link"), reads, keepAliveOf(c)));
  await next();
};

app.use("/v1/*", bookmarkHeaders());
for (const guarded of ["/v1/*", "/metrics"]) app.use(guarded, originGuard(), bearerAuth(), selectRegion(), selectNamespace, authorize());

app.route("/metrics", metricsRoutes);
app.route("/v1/admin/commands", adminCommandRoutes);

app.route("/v1/znodes", znodeRoutes);
app.route("/v1/events", eventRoutes);
app.route("/v1", multiRoutes);
app.route("/v1", sessionRoutes);
app.route("/v1/admin", adminRoutes);
