/**
 * For Node-side tests: `npm start` on a free port with state in a temporary
 * directory, stopped as Ctrl-C stops it; and a TCP proxy in front of it whose
 * connections a test can cut, as a network failure does.
 *
 * @example
 * const server = await startLocalServer();
 * const proxy = await startProxy(server.port);
 * proxy.cutAll(); // every client socket through the proxy drops
 * await server.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { type Server, type Socket, connect as tcpConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const repoRoot = resolve(import.meta.dirname, "../..");
const STARTUP_LIMIT_MS = 120_000; // a limit for a stuck start, not a speed assertion

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

export interface LocalServer {
  base: string;
  port: number;
  /** The ZooKeeper wire-protocol port (the bridge in the same process). */
  zkPort: number;
  output(): string;
  /** Whether the `npm start` process has exited (say, crashed). */
  exited(): boolean;
  /** Ctrl-C, then `npm start` again on the same port and state dir; resolves once healthy. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

interface Running {
  exited(): boolean;
  /** SIGINT to the group (Ctrl-C), SIGKILL if it is still there after 10 s. */
  interrupt(): Promise<void>;
}

/** `npm start` in its own process group, its output appended to `log`. */
function spawnServer(port: number, zkPort: number, state: string, log: (text: string) => void): Running {
  // A wire-protocol port of its own too, so servers of several tests never meet on 2181.
  const child: ChildProcess = spawn("npm", ["start", "--", "--port", String(port), "--zk-port", String(zkPort), "--state", state], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => log(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => log(chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((done) =>
    child.on("exit", () => {
      exited = true;
      done();
    }),
  );
  return {
    exited: () => exited,
    async interrupt() {
      if (exited) return;
      try {
        process.kill(-child.pid!, "SIGINT");
      } catch {
        // already gone
      }
      await Promise.race([exit, sleep(10_000)]);
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // stopped cleanly
      }
    },
  };
}

/** Resolves once /healthz answers; false if the server exited or the limit passed. */
async function healthy(base: string, running: Running): Promise<boolean> {
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (Date.now() < deadline) {
    if (running.exited()) return false;
    try {
      if ((await fetch(`${base}/healthz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return false;
}

/** `npm start` in its own process group; resolves once /healthz answers. */
export async function startLocalServer(): Promise<LocalServer> {
  const [port, zkPort] = [await freePort(), await freePort()];
  const state = await mkdtemp(join(tmpdir(), "edgekeeper-client-"));
  let text = "";
  const log = (chunk: string) => (text += chunk);
  let running = spawnServer(port, zkPort, state, log);
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await running.interrupt();
    await rm(state, { recursive: true, force: true });
  };
  const restart = async () => {
    await running.interrupt();
    running = spawnServer(port, zkPort, state, log);
    if (!(await healthy(base, running))) throw new Error(`npm start did not become healthy again:\n${text}`);
  };
  const exited = () => running.exited();
  if (await healthy(base, running)) return { base, port, zkPort, output: () => text, exited, restart, stop };
  await stop();
  throw new Error(`npm start did not become healthy:\n${text}`);
}

export interface Proxy {
  base: string;
  /** Cuts every connection through the proxy (no close frame); new ones are let through. */
  cutAll(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on a free loopback port (or on `options.port`, say the port of a proxy
 * closed before, to bring a client's only server back) to 127.0.0.1:`targetPort`.
 */
export async function startProxy(targetPort: number, options: { port?: number } = {}): Promise<Proxy> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  server.listen(options.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${port}`,
    cutAll: () => {
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
    },
    close: async () => {
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      server.close();
      await once(server, "close");
    },
  };
}

/**
 * Why the session socket cannot be tested yet, or undefined when it can: the route
 * answers 404, or the Worker's "no such endpoint" (Unimplemented), until it lands.
 */
export async function sessionSocketMissing(base: string): Promise<string | undefined> {
  const response = await fetch(`${base}/v1/sessions/socket`);
  const body = (await response.json().catch(() => ({}))) as { error?: { name?: string } };
  if (response.status === 404 || body.error?.name === "Unimplemented") {
    return `GET /v1/sessions/socket answers ${response.status}${body.error?.name ? ` ${body.error.name}` : ""}: the session socket is not served yet`;
  }
  return undefined;
}
