/**
 * Sessions as leases over HTTP: open one, keep it alive, close it. While it lives,
 * requests carrying `X-Edgekeeper-Session: <id>:<password>` run as the session
 * (worker/session-router.ts), so a serverless function can hold an ephemeral node
 * or a lock; they go when the session is closed or not kept alive.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  DEFAULT_HOSTS_PER_LOCATION,
  hostNumberOfSession,
  type Location,
  isHostNumber,
  locationOfContinent,
  parseSessionId,
  pickHost,
  sessionIdHex,
} from "../../protocol/session-ids.ts";
import { KeeperError, limitsFromEnv } from "../../protocol/index.ts";
import type { AppEnv } from "../app.ts";
import { errorResponse } from "../http-errors.ts";
import { callerOf, clientAddressOf, mayRelayClientAddress } from "../identity.ts";
import { optionalInteger } from "../../protocol/op-parsing.ts";
import { readJsonObject } from "../request-body.ts";
import { SESSION_HEADER, type SessionCredentials, hostOfSession, sessionHost, sessionOf } from "../session-router.ts";

/** What a session is given when its caller names no timeout (then negotiated as any other). */
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Where a new session's host lives: in the caller's region when regions are
 * simulated, else "local" locally, else near the caller's continent.
 */
function locationOf(c: Context<AppEnv>): Location {
  const region = c.get("link").region;
  if (region !== undefined) return region;
  if (c.env.EDGEKEEPER_LOCAL === "1") return "local";
  return locationOfContinent((c.req.raw as { cf?: { continent?: unknown } }).cf?.continent);
}

/** The session named by both the URL and the header; they must agree. */
function sessionAt(c: Context<AppEnv>): SessionCredentials {
  const session = sessionOf(c.req);
  if (!session) throw new KeeperError("AuthFailed", `${SESSION_HEADER}: <sessionId>:<password> is required`);
  const id = parseSessionId(c.req.param("id") ?? "");
  if (id !== session.sessionId) throw new KeeperError("BadArguments", `the session in the URL and in ${SESSION_HEADER} differ`);
  return session;
}

export const sessionRoutes = new Hono<AppEnv>();

sessionRoutes.post("/sessions", async (c) => {
  const body = await readJsonObject(c, limitsFromEnv(c.env).maxRequestBytes);
  const requested = optionalInteger(body, "timeoutMs") ?? DEFAULT_TIMEOUT_MS;
  const hostNumber = pickHost(locationOf(c), Number(c.env.EDGEKEEPER_HOSTS_PER_LOCATION ?? DEFAULT_HOSTS_PER_LOCATION));
  const out = await sessionHost(c.get("link"), c.get("namespace"), hostNumber).open(c.get("namespace"), hostNumber, requested);
  if (!out.ok) return errorResponse(c, out.error);
  const grant = out.value;
  return c.json({ sessionId: grant.sessionId, sessionIdHex: sessionIdHex(grant.sessionId), password: grant.password, timeoutMs: grant.timeoutMs }, 201);
});

/**
 * The session socket (protocol/session-protocol.ts): a WebSocket upgrade forwarded
 * to a session host, the one `?session=` names (to resume), or `?host=`, or one
 * picked as for a new session. An id that names no host gets a picked host, whose
 * answer to the resume is `expired`.
 */
sessionRoutes.get("/sessions/socket", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") throw new KeeperError("BadArguments", "/v1/sessions/socket is a WebSocket endpoint (Upgrade: websocket)");
  const session = c.req.query("session");
  const host = c.req.query("host");
  let hostNumber: number | undefined;
  if (session !== undefined) hostNumber = hostNumberOfSession(parseSessionId(session) ?? 0);
  else if (host !== undefined) {
    hostNumber = /^[0-9]{1,6}$/.test(host) ? Number(host) : -1;
    if (!isHostNumber(hostNumber)) throw new KeeperError("BadArguments", `no session host ${JSON.stringify(host)}`);
  }
  hostNumber ??= pickHost(locationOf(c), Number(c.env.EDGEKEEPER_HOSTS_PER_LOCATION ?? DEFAULT_HOSTS_PER_LOCATION));
  const namespace = c.get("namespace");
  const target = new URL("https://session-host/socket");
  target.searchParams.set("namespace", namespace);
  target.searchParams.set("host", String(hostNumber));
  // The host holds every request of the socket to the token's scope.
  target.searchParams.set("scope", c.get("grant").scope);
  // The socket's identity, decided here: the host believes what the Worker says.
  const address = clientAddressOf(c.req, c.env);
  if (address !== undefined) target.searchParams.set("address", address);
  if (mayRelayClientAddress(c)) target.searchParams.set("relay", "1");
  return sessionHost(c.get("link"), namespace, hostNumber).fetch(new Request(target, { headers: { Upgrade: "websocket" } }));
});

sessionRoutes.post("/sessions/:id/keepalive", async (c) => {
  const { sessionId, password } = sessionAt(c);
  const out = await hostOfSession(c.get("link"), c.get("namespace"), sessionId).keepAlive(sessionId, password);
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ sessionId, sessionIdHex: sessionIdHex(sessionId), timeoutMs: out.value.timeoutMs });
});

sessionRoutes.delete("/sessions/:id", async (c) => {
  const { sessionId, password } = sessionAt(c);
  const out = await hostOfSession(c.get("link"), c.get("namespace"), sessionId).close(sessionId, password);
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ sessionId, sessionIdHex: sessionIdHex(sessionId), closed: true });
});

/** getEphemerals: the session's ephemeral nodes whose paths start with `prefix` (default /), on every shard. */
sessionRoutes.get("/ephemerals", async (c) => {
  if (!sessionOf(c.req)) throw new KeeperError("BadArguments", `getEphemerals lists a session's nodes: send ${SESSION_HEADER}`);
  const prefix = c.req.query("prefix") ?? "/";
  const out = await c.get("router").execute(await callerOf(c.req, c.env), { op: "getEphemerals", prefix });
  if (!out.ok) return errorResponse(c, out.error);
  return c.json({ prefix, paths: out.value.paths });
});
