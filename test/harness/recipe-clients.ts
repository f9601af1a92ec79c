/**
 * For the recipe tests: one `npm start` per test file, clients opened in a namespace
 * of the test's own (through a TCP proxy when a test cuts connections), everything
 * closed after the file; plus waiting helpers and an overlap detector.
 *
 * @example
 * const env = recipeEnvironment("queue");
 * it("...", async () => {
 *   const [a, b] = await env.openMany(env.namespace(), 2);
 * });
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll } from "vitest";
import { type ConnectionState, type KeeperClient, connect } from "../../client/index.ts";
import { callerRegionOption } from "./caller-region.ts";
import { type LocalServer, type Proxy, startLocalServer, startProxy } from "./local-server.ts";

/** The least session timeout the default 2 s tick grants: expiry tests wait this long. */
export const SHORT_TIMEOUT_MS = 4_000;

export interface RecipeEnvironment {
  server(): LocalServer;
  namespace(): string;
  open(namespace: string, options?: { servers?: string[]; sessionTimeoutMs?: number }): Promise<KeeperClient>;
  openMany(namespace: string, count: number, options?: { sessionTimeoutMs?: number }): Promise<KeeperClient[]>;
  /** A proxy to the server (on `port`, to bring back one closed before). */
  proxy(port?: number): Promise<Proxy>;
}

/** Registers beforeAll/afterAll for a test file and hands out its clients. */
export function recipeEnvironment(prefix: string): RecipeEnvironment {
  let server: LocalServer | undefined;
  const clients: KeeperClient[] = [];
  const proxies: Proxy[] = [];
  let counter = 0;
  beforeAll(async () => {
    server = await startLocalServer();
  });
  afterAll(async () => {
    await Promise.all(clients.map((zk) => zk.close().catch(() => undefined)));
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
    await server?.stop();
  });
  const env: RecipeEnvironment = {
    server: () => server!,
    namespace: () => `${prefix}-${process.pid}-${++counter}`,
    async open(namespace, options = {}) {
      const zk = await connect({
        servers: options.servers ?? [server!.base],
        namespace,
        sessionTimeoutMs: options.sessionTimeoutMs ?? SHORT_TIMEOUT_MS,
        backoff: { baseMs: 20, capMs: 200 },
        ...callerRegionOption(),
      });
      clients.push(zk);
      return zk;
    },
    openMany: (namespace, count, options) => Promise.all(Array.from({ length: count }, () => env.open(namespace, options))),
    async proxy(port) {
      const p = await startProxy(server!.port, port === undefined ? {} : { port });
      proxies.push(p);
      return p;
    },
  };
  return env;
}

export const portOf = (p: Proxy): number => Number(new URL(p.base).port);

/** Resolves at the client's next report of `state`. */
export function nextState(zk: KeeperClient, state: ConnectionState): Promise<void> {
  return new Promise((resolve) => {
    const off = zk.on(state, () => {
      off();
      resolve();
    });
  });
}

/** Polls `check` every 25 ms until it holds; throws after `limitMs` (a limit for a stuck test, not a speed assertion). */
export async function until(check: () => boolean | Promise<boolean>, limitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Expires the session of a client whose only server is `proxy`: closes the proxy,
 * waits for `lost`, then opens a proxy on the same port again and waits for the new
 * session's `connected`. Returns the new proxy.
 */
export async function expireThrough(env: RecipeEnvironment, zk: KeeperClient, proxy: Proxy): Promise<Proxy> {
  const port = portOf(proxy);
  const lost = nextState(zk, "lost");
  await proxy.close();
  await lost;
  const connected = nextState(zk, "connected");
  const back = await env.proxy(port);
  await connected;
  return back;
}

/** Counts who is inside a critical section; `max` is the most ever at once. */
export function occupancy(): { now: number; max: number; enter(): void; leave(): void } {
  const o = {
    now: 0,
    max: 0,
    enter() {
      o.now++;
      o.max = Math.max(o.max, o.now);
    },
    leave() {
      o.now--;
    },
  };
  return o;
}
