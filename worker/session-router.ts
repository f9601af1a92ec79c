/**
 * The one place that decides where a request's operations go: straight to the
 * shards (no session), or through the session's host, which runs them in the
 * session's order with its id (ephemeral modes allowed). The session id names its
 * host, so no lookup is needed.
 *
 * Header: `X-Edgekeeper-Session: <id>:<password>` (id decimal or 0x hex), on every
 * request of the session. `X-Edgekeeper-Cxid: <n>` gives a write the number a retry
 * repeats, so the retry applies once.
 */
import type { RegionLink } from "../durable/base/region-link.ts";
import type { ReadContext } from "../durable/directory/read-routing.ts";
import { ShardRouter } from "../durable/directory/shard-router.ts";
import type { KeepAlive } from "../durable/directory/shared-rpc.ts";
import type { EdgekeeperEnv } from "../durable/env.ts";
import type { SessionHostApi } from "../durable/session/session-host.ts";
import { hostNumberOfSession, locationOfHost, parseSessionId } from "../protocol/session-ids.ts";
import { type Caller, KeeperError, type Outcome, type ResultOf, SEQUENTIAL, type ShardRequest } from "../protocol/index.ts";
import type { RequestHeaders } from "./identity.ts";

export const SESSION_HEADER = "X-Edgekeeper-Session";
export const CXID_HEADER = "X-Edgekeeper-Cxid";

/** A session as a request names it. */
export interface SessionCredentials {
  sessionId: number;
  password: string;
}

/** The session host object numbered `hostNumber` of a namespace (placed near its location), reached over `link`. */
export function sessionHost(link: RegionLink, namespace: string, hostNumber: number): SessionHostApi {
  const location = locationOfHost(hostNumber);
  const stub = link.host(namespace, hostNumber, location === "local" ? undefined : (location as DurableObjectLocationHint));
  return stub as unknown as SessionHostApi;
}

/** The host a session's id names; an id no host issued is an expired session. */
export function hostOfSession(link: RegionLink, namespace: string, sessionId: number): SessionHostApi {
  const hostNumber = hostNumberOfSession(sessionId);
  if (hostNumber === undefined) throw new KeeperError("SessionExpired", `no session ${sessionId} exists`);
  return sessionHost(link, namespace, hostNumber);
}

/** The session a request names, if any; a malformed header is BadArguments. */
export function sessionOf(req: RequestHeaders): SessionCredentials | undefined {
  const header = req.header(SESSION_HEADER);
  if (header === undefined) return undefined;
  const colon = header.indexOf(":");
  const sessionId = colon > 0 ? parseSessionId(header.slice(0, colon)) : undefined;
  if (sessionId === undefined) throw new KeeperError("BadArguments", `${SESSION_HEADER} must be "<sessionId>:<password>"`);
  return { sessionId, password: header.slice(colon + 1).trim() };
}

/** The cxid a request gives its write, if any. */
function cxidOf(req: RequestHeaders): number | undefined {
  const text = req.header(CXID_HEADER);
  if (text === undefined) return undefined;
  const cxid = /^[0-9]{1,15}$/.test(text.trim()) ? Number(text.trim()) : 0;
  if (cxid <= 0) throw new KeeperError("BadArguments", `${CXID_HEADER} must be a positive integer`);
  return cxid;
}

/**
 * Sends every operation through the session's host. Everything else (mount
 * tables, long polls, change streams) is the ShardRouter's, unchanged: a long poll
 * must not hold up the session's pipeline.
 */
export class SessionRouter extends ShardRouter {
  private readonly host: SessionHostApi;
  private readonly session: SessionCredentials;
  private readonly cxid: number | undefined;

  constructor(env: EdgekeeperEnv, namespace: string, session: SessionCredentials, cxid: number | undefined, link: RegionLink, reads: ReadContext, keepAlive?: KeepAlive) {
    super(env, namespace, link, reads, keepAlive);
    this.host = hostOfSession(link, namespace, session.sessionId);
    this.session = session;
    this.cxid = cxid;
  }

  /** Runs the request as the session, in its order; a closed session or a wrong password throws. */
  override async execute<K extends ShardRequest["op"]>(caller: Caller, request: ShardRequest & { op: K }): Promise<Outcome<ResultOf[K]>> {
    const stamped: ShardRequest = {
      ...request,
      ...(this.cxid === undefined ? {} : { cxid: this.cxid }),
      ...(this.reads === undefined || this.reads.mode === SEQUENTIAL ? {} : { consistency: this.reads.mode }),
    };
    const out = await this.host.execute(this.session.sessionId, this.session.password, caller.ids, [stamped]);
    if (!out.ok) throw KeeperError.fromBody(out.error);
    const [outcome] = out.value;
    if (!outcome) throw new KeeperError("SystemError", "session host returned no outcome");
    await this.relayed(request, outcome);
    return outcome as Outcome<ResultOf[K]>;
  }
}

/**
 * The router for a request: through its session's host if it names one, else
 * straight to the shards; its calls go over `link`, and `reads` (the request's read
 * mode and bookmark) is advanced by their answers. `keepAlive`: see ShardRouter.
 */
export function routerFor(env: EdgekeeperEnv, namespace: string, req: RequestHeaders, link: RegionLink, reads: ReadContext, keepAlive?: KeepAlive): ShardRouter {
  const session = sessionOf(req);
  const cxid = cxidOf(req);
  if (!session) {
    if (cxid !== undefined) throw new KeeperError("BadArguments", `${CXID_HEADER} needs a session (${SESSION_HEADER})`);
    return new ShardRouter(env, namespace, link, reads, keepAlive);
  }
  return new SessionRouter(env, namespace, session, cxid, link, reads, keepAlive);
}
