/**
 * For Node-side tests: `npm start` on a free port with state in a temporary
 * directory, stopped as Ctrl-C stops it (or, for a test of npm start itself, run
 * with the port and state it picks: npmStart); and a TCP proxy in front of it whose
 * connections a test can cut or blackhole (a partition: silence, then healing), as
 * network failures do.
 *
 * @example
 * const server = await startLocalServer();
 * const proxy = await startProxy(server.port);
 * proxy.cutAll(); // every client socket through the proxy drops
 * proxy.blackhole(); // nothing passes, nothing closes ...
 * proxy.restore(); // ... until now
 * await server.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { type Server, type Socket, connect as tcpConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type CallerRegions, type RegionBridge, type RegionFront, startRegionBridge, startRegionFront, testRegions } from "./caller-region.ts";
import { freePort } from "./zookeeper/launch.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const STARTUP_LIMIT_MS = 120_000; // a limit for a stuck start, not a speed assertion

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

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `npm start` run as a terminal runs a foreground job: in a process group of its own. */
export interface NpmStart {
  /** Its stdout and stderr so far. */
  output(): string;
  /** How npm ended, once it has. */
  exited: Promise<Exit>;
  hasExited(): boolean;
  /** Whether any process of its group (npm, node, workerd) is still there. */
  groupAlive(): boolean;
  /** Ctrl-C: SIGINT to the whole group; how npm ended, or undefined if it is still running after `limitMs`. */
  interrupt(limitMs?: number): Promise<Exit | undefined>;
  /** SIGKILL to whatever is left of the group. */
  kill(): void;
}

export interface NpmStartOptions {
  port: number;
  state: string;
  /** The wire-protocol port; unset, npm start takes it from the environment (EDGEKEEPER_ZK_PORT). */
  zkPort?: number;
  /** Settings, as a user would export them (EDGEKEEPER_TOKEN, say). */
  env?: Record<string, string>;
  /** More options after the port and state ones (`--regions wnam,apac`, say). */
  args?: readonly string[];
}

/**
 * Starts `npm start -- --port P --state DIR` from the repository in its own process group.
 *
 * @example
 * const server = npmStart({ port, state });
 * await waitHealthy(`http://127.0.0.1:${port}`, server);
 * expect(await server.interrupt()).toEqual({ code: 0, signal: null });
 */
export function npmStart(options: NpmStartOptions): NpmStart {
  const zkPort = options.zkPort === undefined ? [] : ["--zk-port", String(options.zkPort)];
  const child: ChildProcess = spawn("npm", ["start", "--", "--port", String(options.port), ...zkPort, "--state", options.state, ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  let ended = false;
  const exited = new Promise<Exit>((done) =>
    child.on("exit", (code, signal) => {
      ended = true;
      done({ code, signal });
    }),
  );
  const signalGroup = (signal: NodeJS.Signals | 0) => {
    try {
      process.kill(-child.pid!, signal);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  return {
    output: () => text,
    exited,
    hasExited: () => ended,
    groupAlive: () => signalGroup(0),
    async interrupt(limitMs = 10_000) {
      signalGroup("SIGINT");
      return Promise.race([exited, sleep(limitMs).then(() => undefined)]);
    },
    kill: () => void signalGroup("SIGKILL"),
  };
}

/** Resolves true once /healthz at `base` answers; false if the server exited or `limitMs` passed. */
export async function waitHealthy(base: string, server: NpmStart, limitMs = STARTUP_LIMIT_MS): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (server.hasExited()) return false;
    try {
      if ((await fetch(`${base}/healthz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return false;
}

/** Settings for `npm start`, as a user would export them (`env`), and more options (`args`). */
type StartOptions = { env?: Record<string, string>; args?: readonly string[] };

/**
 * `npm start` in its own process group; resolves once /healthz answers. `env`: settings
 * for it, as a user would export them (EDGEKEEPER_TOKEN, say); `args`: more options.
 * With EDGEKEEPER_TEST_REGIONS set, it simulates those regions and its callers stand
 * in one that is not the leader's (test/harness/caller-region.ts), unless `args` name regions.
 */
export async function startLocalServer(options: StartOptions = {}): Promise<LocalServer> {
  const callers = testRegions();
  // A test that picks its own regions is left as it is.
  if (callers && !options.args?.includes("--regions")) return startWithCallersIn(callers, options);
  return startOnFreePorts(options);
}

/**
 * `npm start -- --regions LIST` with the test's callers in `callers.caller`: `base` and
 * `port` are a front that puts HTTP callers there, `zkPort` a bridge of that region
 * (test/harness/caller-region.ts). A restart restarts npm start alone, as a server's
 * restart leaves its callers' bridge and network running.
 */
async function startWithCallersIn(callers: CallerRegions, options: StartOptions): Promise<LocalServer> {
  const server = await startOnFreePorts({ ...options, args: [...(options.args ?? []), "--regions", callers.regions.join(",")] });
  let front: RegionFront | undefined;
  let bridge: RegionBridge | undefined;
  const stop = async () => {
    await bridge?.stop();
    await front?.close();
    await server.stop();
  };
  try {
    front = await startRegionFront(server.port, callers.caller);
    bridge = await startRegionBridge(server.base, callers.caller, options.env);
  } catch (error) {
    await stop();
    throw error;
  }
  const bridgeOutput = bridge.output;
  return { ...server, base: front.base, port: front.port, zkPort: bridge.port, output: () => server.output() + bridgeOutput(), stop };
}

async function startOnFreePorts(options: StartOptions): Promise<LocalServer> {
  // A free port can be taken by another process before npm start binds it (the
  // machine's ephemeral range is shared): then it says so and exits, and a new pair is tried.
  for (let attempt = 1; ; attempt++) {
    const [port, zkPort] = [await freePort(), await freePort()];
    try {
      return await startOn(port, zkPort, options);
    } catch (err) {
      if (attempt >= 3 || !PORT_TAKEN.test(String(err))) throw err;
    }
  }
}

/** What npm start says when a port it was given was taken meanwhile (its output is in the failure). */
const PORT_TAKEN = /is already in use/;

async function startOn(port: number, zkPort: number, { env, args }: { env?: Record<string, string>; args?: readonly string[] }): Promise<LocalServer> {
  const state = await mkdtemp(join(tmpdir(), "edgekeeper-client-"));
  const base = `http://127.0.0.1:${port}`;
  // A wire-protocol port of its own too, so servers of several tests never meet on 2181.
  const start = () => npmStart({ port, zkPort, state, ...(env ? { env } : {}), ...(args ? { args } : {}) });
  let running = start();
  /** Output of every run so far, the current one last. */
  let before = "";
  const output = () => before + running.output();
  const halt = async () => {
    if (!running.hasExited()) await running.interrupt();
    running.kill(); // whatever outlived Ctrl-C
  };
  const stop = async () => {
    await halt();
    await rm(state, { recursive: true, force: true });
  };
  const restart = async () => {
    await halt();
    before = output();
    running = start();
    if (!(await waitHealthy(base, running))) throw new Error(`npm start did not become healthy again:\n${output()}`);
  };
  const exited = () => running.hasExited();
  if (await waitHealthy(base, running)) return { base, port, zkPort, output, exited, restart, stop };
  await stop();
  throw new Error(`npm start did not become healthy:\n${output()}`);
}

export interface Proxy {
  base: string;
  /** Cuts every connection through the proxy (no close frame); new ones are let through. */
  cutAll(): void;
  /**
   * Cuts every connection on its client's side only: the server's side stays open and
   * hears nothing more (what it writes is lost), as when a path dies unseen by the server.
   */
  cutClientSides(): void;
  /**
   * A network partition: from now on nothing passes either way, not even a close, and
   * new connections are accepted but reach nothing, until {@link restore}. A client
   * that gives up its connection meanwhile leaves the server's side open and unaware.
   */
  blackhole(): void;
  /** Ends a blackhole: what was held back goes through, in order, and so does what follows. */
  restore(): void;
  close(): Promise<void>;
}

/** One client connection through the proxy; its upstream is dialled once nothing holds it. */
class ProxiedConnection {
  private upstream: Socket | undefined;
  private readonly heldForUpstream: Buffer[] = [];
  private readonly heldForClient: Buffer[] = [];
  private held: boolean;
  /** The client's side was cut alone: the upstream stays open, its writes go nowhere. */
  private orphaned = false;
  /** The server closed during a partition: the client hears of it when it heals. */
  private upstreamGone = false;
  private readonly client: Socket;
  private readonly targetPort: number;
  private readonly localAddress: string | undefined;
  private readonly onEnd: () => void;

  constructor(client: Socket, targetPort: number, localAddress: string | undefined, held: boolean, onEnd: () => void) {
    this.client = client;
    this.targetPort = targetPort;
    this.localAddress = localAddress;
    this.held = held;
    this.onEnd = onEnd;
    client.on("data", (chunk: Buffer) => (this.held || !this.upstream ? this.heldForUpstream.push(chunk) : this.upstream.write(chunk)));
    client.on("close", () => this.clientClosed()).on("error", () => this.clientClosed());
    if (!held) this.dial();
  }

  private dial(): void {
    const upstream = tcpConnect({ port: this.targetPort, host: "127.0.0.1", ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
    this.upstream = upstream;
    upstream.on("data", (chunk: Buffer) => {
      if (this.orphaned) return;
      if (this.held) this.heldForClient.push(chunk);
      else this.client.write(chunk);
    });
    upstream.on("close", () => this.upstreamClosed()).on("error", () => this.upstreamClosed());
    for (const chunk of this.heldForUpstream.splice(0)) upstream.write(chunk);
  }

  private clientClosed(): void {
    if (this.orphaned) return;
    if (this.held && this.upstream) this.orphaned = true;
    else this.cut();
  }

  private upstreamClosed(): void {
    if (this.held && !this.orphaned) this.upstreamGone = true;
    else this.cut();
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    if (this.upstreamGone) return this.cut();
    if (!this.upstream) this.dial();
    else for (const chunk of this.heldForUpstream.splice(0)) this.upstream.write(chunk);
    const forClient = this.heldForClient.splice(0);
    if (!this.orphaned) for (const chunk of forClient) this.client.write(chunk);
  }

  cutClientSide(): void {
    if (!this.upstream) return this.cut(); // never reached the server: nothing there to leave open
    this.orphaned = true;
    this.client.destroy();
  }

  cut(): void {
    this.client.destroy();
    this.upstream?.destroy();
    this.onEnd();
  }
}

/**
 * A TCP proxy on a free loopback port (or on `options.port`, say the port of a proxy
 * closed before, to bring a client's only server back) to 127.0.0.1:`targetPort`;
 * its connections come from `options.localAddress` (another loopback address, say,
 * so that the target sees a client other than 127.0.0.1).
 */
export async function startProxy(targetPort: number, options: { port?: number; localAddress?: string } = {}): Promise<Proxy> {
  const connections = new Set<ProxiedConnection>();
  let held = false;
  const server: Server = createServer((client) => {
    const connection: ProxiedConnection = new ProxiedConnection(client, targetPort, options.localAddress, held, () => connections.delete(connection));
    connections.add(connection);
  });
  server.listen(options.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const cutAll = () => {
    for (const connection of [...connections]) connection.cut();
  };
  return {
    base: `http://127.0.0.1:${port}`,
    cutAll,
    cutClientSides: () => {
      for (const connection of [...connections]) connection.cutClientSide();
    },
    blackhole: () => {
      held = true;
      for (const connection of connections) connection.hold();
    },
    restore: () => {
      held = false;
      for (const connection of connections) connection.release();
    },
    close: async () => {
      cutAll();
      server.close();
      await once(server, "close");
    },
  };
}
