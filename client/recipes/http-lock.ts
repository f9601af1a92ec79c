/**
 * withLock: a global lock for code that lives for one request (a Worker, a serverless
 * function), over HTTP only: no socket. It opens a session as a lease
 * (`POST /v1/sessions`, timeout `ttlMs`), creates an EPHEMERAL_SEQUENTIAL lock node
 * with it (`X-Edgekeeper-Session`), waits for the node before its own with blocking
 * reads (`?index=&wait=`) on that node alone, runs `fn`, and closes the session,
 * which deletes the node, on return or error. While it waits and while `fn` runs it
 * keeps the lease alive every third of the timeout; if the Worker dies, the
 * keep-alives stop and the lease expires after `ttlMs`, releasing the lock.
 *
 * The node layout is Lock's (`<path>/<guid>__lock__<seq>`), so withLock callers and
 * `Lock` holders over the socket exclude each other on the same path.
 *
 * Status: beta. Tested with 8 concurrent HTTP callers (a shared counter detects any
 * overlap), release on error, and a caller that dies holding the lock (the next one
 * gets it after the lease expires) (test/client/recipes-http.test.ts). See
 * docs/recipes/with-lock.md.
 */
import { KeeperError, type TransactionOp } from "../index.ts";
import { HttpEndpoint, type HttpOptions, type HttpTarget, checkZnodePath, znodeUrl } from "./http-endpoint.ts";

export interface WithLockOptions extends HttpOptions {
  /** The lease's timeout: how long the lock outlives a caller that died holding it (default 10,000; the server grants 4-40 s by default). */
  ttlMs?: number;
  /** Give up waiting after this long: withLock rejects with OperationTimeout (default: wait as long as it takes). */
  timeoutMs?: number;
  /** Stored in the lock node (who holds it). */
  identifier?: string;
  /** Aborting while waiting gives up (the lease is closed) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Longest single blocking read, seconds (default 30, at most 60). */
  waitSeconds?: number;
}

/** What `fn` gets while it holds the lock. */
export interface HeldLock {
  /** The lock node. */
  node: string;
  sessionId: number;
  /** `X-Edgekeeper-Session` of the lease: send it with writes that should run as the holder. */
  sessionHeader: string;
  /** A `check` of the lock node: put it first in a `/v1/multi` that must apply only while the lock is held. */
  fence: Extract<TransactionOp, { op: "check" }>;
  /** Aborted if the lease is found expired (a keep-alive answered SessionExpired): stop, the lock is gone. */
  signal: AbortSignal;
}

interface SessionBody {
  sessionId: number;
  password: string;
  timeoutMs: number;
}

const SEQ = /(\d{10})$/;

/**
 * Runs `fn` while holding the lock on `path`; resolves with what `fn` returns.
 *
 * @example
 * // In a Worker with a service binding EDGEKEEPER (or EDGEKEEPER_URL) in env:
 * const report = await withLock(env, "/locks/nightly-report", async ({ fence }) => {
 *   return buildReport();
 * }, { ttlMs: 10_000, timeoutMs: 5_000 });
 */
export async function withLock<T>(target: HttpTarget, path: string, fn: (lock: HeldLock) => Promise<T> | T, options: WithLockOptions = {}): Promise<T> {
  checkZnodePath(path); // before a session is opened for it
  const http = new HttpEndpoint(target, options);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const { body: session } = await http.request<SessionBody>("POST", "/v1/sessions", { body: { timeoutMs: options.ttlMs ?? 10_000 } });
  const sessionHeader = `${session.sessionId}:${session.password}`;
  const headers = { "x-edgekeeper-session": sessionHeader };
  const lost = new AbortController();
  const stop = new AbortController();
  const keepalive = keepAlive(http, session, headers, lost, stop.signal);
  try {
    const node = await createLockNode(http, path, headers, options.identifier ?? "");
    await waitForTurn(http, path, node, deadline, options, lost.signal);
    if (lost.signal.aborted) throw new KeeperError("SessionExpired", `the lease of ${path} expired while waiting`);
    return await fn({ node, sessionId: session.sessionId, sessionHeader, fence: { op: "check", path: node, version: 0 }, signal: lost.signal });
  } finally {
    stop.abort();
    await keepalive;
    // Closing the session deletes the lock node; if this fails, the lease expires by itself.
    await http.request("DELETE", `/v1/sessions/${session.sessionId}`, { headers }).catch(() => undefined);
  }
}

/** Keep-alives every third of the timeout until `stop`; aborts `lost` if the lease is gone. */
async function keepAlive(http: HttpEndpoint, session: SessionBody, headers: Record<string, string>, lost: AbortController, stop: AbortSignal): Promise<void> {
  const every = Math.max(100, Math.floor(session.timeoutMs / 3));
  while (!stop.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, every);
      stop.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (stop.aborted) return;
    try {
      await http.request("POST", `/v1/sessions/${session.sessionId}/keepalive`, { headers });
    } catch (error) {
      if (error instanceof KeeperError && (error.keeperName === "SessionExpired" || error.keeperName === "AuthFailed")) {
        lost.abort(error);
        return;
      }
      // A failed keep-alive (network): try again at the next tick, the lease has time.
    }
  }
}

async function createLockNode(http: HttpEndpoint, path: string, headers: Record<string, string>, identifier: string): Promise<string> {
  const prefix = `${path}/${crypto.randomUUID().replaceAll("-", "")}__lock__`;
  for (let attempt = 0; ; attempt++) {
    try {
      const { body } = await http.request<{ path: string }>("POST", znodeUrl(prefix), { headers, body: { data: identifier, mode: "EPHEMERAL_SEQUENTIAL" } });
      return body.path;
    } catch (error) {
      if (!(error instanceof KeeperError) || error.keeperName !== "NoNode" || attempt > 3) throw error;
      await createContainers(http, path);
    }
  }
}

/** Creates `path` and its missing ancestors as containers, as Lock does. */
async function createContainers(http: HttpEndpoint, path: string): Promise<void> {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const { status, body } = await http.send<{ error?: { name?: string } }>("POST", znodeUrl(`/${parts.slice(0, i).join("/")}`), { body: { mode: "CONTAINER" } });
    if (status >= 300 && body.error?.name !== "NodeExists") throw new KeeperError("SystemError", `creating ${path}: HTTP ${status} ${body.error?.name ?? ""}`);
  }
}

/** Waits until no lock node precedes ours, watching only the one just before it. */
async function waitForTurn(http: HttpEndpoint, path: string, node: string, deadline: number, options: WithLockOptions, lost: AbortSignal): Promise<void> {
  const name = node.slice(node.lastIndexOf("/") + 1);
  const waitSeconds = Math.min(60, Math.max(1, options.waitSeconds ?? 30));
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (lost.aborted) return;
    const { body } = await http.request<{ children: string[] }>("GET", `${znodeUrl(path)}?view=children`);
    const queue = body.children.filter((n) => (n.includes("__lock__") || n.includes("__rlock__")) && SEQ.test(n)).sort((a, b) => seqOf(a) - seqOf(b));
    const index = queue.indexOf(name);
    if (index < 0) throw new KeeperError("NoNode", "the lock node vanished while waiting (the lease expired?)", node);
    if (index === 0) return;
    const predecessor = znodeUrl(`${path}/${queue[index - 1]}`);
    const first = await http.send("GET", `${predecessor}?view=stat`);
    if (first.status === 404) continue;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new KeeperError("OperationTimeout", `timed out waiting for the lock ${path}`, path);
    const wait = Math.max(1, Math.min(waitSeconds, Math.ceil(remaining / 1000)));
    const index0 = first.headers.get("x-edgekeeper-index");
    // Returns when the predecessor changes (deleted), or after `wait` seconds.
    await http.send("GET", `${predecessor}?view=stat&index=${index0}&wait=${wait}`, { signal: options.signal });
  }
}

function seqOf(name: string): number {
  return Number(SEQ.exec(name)?.[1] ?? -1);
}
