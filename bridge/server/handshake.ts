/**
 * The connect handshake: a ConnectRequest opens an edgekeeper session (its host
 * negotiates the timeout) or resumes one by id and password, on any bridge
 * connection and any bridge.
 *
 * - New session: on a host the bridge picks (round robin over its hosts for new
 *   sessions); the id ZooKeeper clients see is our id (a safe integer) as a long.
 * - Resume: a session this bridge holds is checked against its password here and
 *   re-attached (its previous connection is dropped); any other goes to the host its
 *   id names, which moves it to this bridge's link.
 * - Expired, unknown or wrong password: a ConnectResponse with timeout 0 and session
 *   id 0, then close (ZooKeeper does the same; the client reports Expired).
 * - The reply is exactly ZooKeeper 3.8's: the password as its 16 raw bytes (a resume
 *   sends them back), and the trailing readOnly byte only when the request carried
 *   one (older C clients send none and check the reply's exact length, 36 bytes).
 * - lastZxidSeen: the client's view must not be ahead of ours. Ours is the highest
 *   zxid this bridge has told any session, else what the session's host reports now
 *   (one exists("/") through the session); zxids are per shard, so in a namespace with
 *   mounts this compares against the highest zxid of any shard the bridge has seen.
 *   A client ahead is closed without a reply ("try another server"). A session
 *   resumed from another bridge asks its host what its client had been shown of each
 *   shard at that zxid, for its setWatches (session.ts).
 */
import { type ConnectRequest, encodeConnectResponse } from "../../protocol/jute/index.ts";
import { hostNumberOfSession } from "../../protocol/session-ids.ts";
import { SESSION_PASSWORD_BYTES, sessionPasswordBytes, sessionPasswordText } from "../../protocol/session-password.ts";
import type { ConnectAnswer, HostLink } from "../upstream/host-link.ts";
import type { BridgeContext } from "./context.ts";
import { BridgeSession } from "./session.ts";

export type HandshakeResult = { ok: true; session: BridgeSession; response: Uint8Array } | { ok: false; response?: Uint8Array };

/** The readOnly byte of a reply: there only when the request had one (we never serve read-only). */
const readOnlyFor = (request: ConnectRequest): false | undefined => (request.readOnly === undefined ? undefined : false);

/** The ConnectResponse for an expired, unknown or refused session. */
export function expiredResponse(request: ConnectRequest): Uint8Array {
  return encodeConnectResponse({ protocolVersion: 0, timeOut: 0, sessionId: 0n, passwd: new Uint8Array(SESSION_PASSWORD_BYTES), readOnly: readOnlyFor(request) });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function makeSession(context: BridgeContext, link: HostLink, answer: Extract<ConnectAnswer, { t: "connected" }>, clientAddress: string | undefined, seenZxid?: bigint): BridgeSession {
  const { sessionId: id, password, timeoutMs } = answer;
  const session = new BridgeSession(link, id, password, timeoutMs, clientAddress, (ended) => {
    if (context.sessions.get(ended.id) === ended) context.sessions.delete(ended.id);
  });
  // Resumed from another bridge: its zxids go on from the host's highest, and its setWatches compares per shard.
  session.zxid = answer.zxid ?? 0;
  if (seenZxid !== undefined && answer.shownAt) session.resumedAt = { zxid: seenZxid, shards: answer.shownAt };
  context.sessions.set(id, session);
  return session;
}

/**
 * The host's answer to a connect; one that throttles connects throws: the client is
 * then closed without a reply and tries again, as after any lost connection.
 */
async function connectUpstream(link: HostLink, request: Parameters<HostLink["connect"]>[0]): Promise<ConnectAnswer> {
  const answer = await link.connect(request);
  if (answer.t === "refused" && answer.error.name === "Throttled") throw new Error(`session host: ${answer.error.message ?? "throttled"}`);
  return answer;
}

/** Tells the host that a session held here now serves a client at another address. */
async function moveAddress(session: BridgeSession, clientAddress: string | undefined): Promise<BridgeSession | undefined> {
  if (session.clientAddress === clientAddress) return session;
  const answer = await connectUpstream(session.link, { timeoutMs: session.timeoutMs, sessionId: session.id, password: session.password, ...(clientAddress ? { clientAddress } : {}) });
  if (answer.t !== "connected") return undefined;
  session.clientAddress = clientAddress;
  return session;
}

async function openOrResume(context: BridgeContext, request: ConnectRequest, clientAddress: string | undefined): Promise<{ session?: BridgeSession; resumed: boolean }> {
  const address = clientAddress ? { clientAddress } : {};
  if (request.sessionId === 0n) {
    const link = context.links.get(context.pickHost());
    const answer = await connectUpstream(link, { timeoutMs: request.timeOut, ...address });
    if (answer.t !== "connected") return { resumed: false };
    return { session: makeSession(context, link, answer, clientAddress), resumed: false };
  }
  const id = request.sessionId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(request.sessionId) : -1;
  const host = hostNumberOfSession(id);
  // Every password is 16 bytes: any other length is a wrong one, refused here.
  if (host === undefined || request.passwd.byteLength !== SESSION_PASSWORD_BYTES) return { resumed: true };
  const held = context.sessions.get(id);
  if (held && !held.ended) {
    if (!sameBytes(sessionPasswordBytes(held.password), request.passwd)) return { resumed: true };
    const moved = await moveAddress(held, clientAddress);
    return moved ? { session: moved, resumed: true } : { resumed: true };
  }
  const link = context.links.get(host);
  const seen = request.lastZxidSeen > 0n && request.lastZxidSeen <= BigInt(Number.MAX_SAFE_INTEGER) ? { seenZxid: Number(request.lastZxidSeen) } : {};
  const answer = await connectUpstream(link, { timeoutMs: request.timeOut, sessionId: id, password: sessionPasswordText(request.passwd), ...address, ...seen });
  if (answer.t !== "connected") return { resumed: true };
  return { session: makeSession(context, link, answer, clientAddress, request.lastZxidSeen), resumed: true };
}

/** Current zxid of the session's host, read through the session. */
function probeZxid(session: BridgeSession): Promise<number> {
  return new Promise((resolve) => session.call({ op: "exists", path: "/" }, () => resolve(session.zxid)));
}

/**
 * Runs the handshake for a client at `clientAddress` (its ip identity); a rejected
 * promise means the link failed or the host throttles connects (close without reply).
 */
export async function handshake(context: BridgeContext, request: ConnectRequest, clientAddress: string | undefined): Promise<HandshakeResult> {
  const { session, resumed } = await openOrResume(context, request, clientAddress);
  if (!session) return { ok: false, response: expiredResponse(request) };
  if (request.lastZxidSeen > 0n && request.lastZxidSeen > BigInt(Math.max(context.highestZxid(), session.zxid))) {
    const zxid = await probeZxid(session);
    context.noteZxid(zxid);
    if (request.lastZxidSeen > BigInt(zxid)) {
      if (!resumed) session.call({ op: "close" }, () => session.end());
      else session.detach(undefined); // unless a connection holds it, it waits for a resume
      return { ok: false };
    }
  }
  const response = encodeConnectResponse({
    protocolVersion: 0,
    timeOut: session.timeoutMs,
    sessionId: BigInt(session.id),
    passwd: sessionPasswordBytes(session.password),
    readOnly: readOnlyFor(request),
  });
  return { ok: true, session, response };
}
