/**
 * For Node-side tests of the wire bridge: where `npm start` put it, and
 * node-zookeeper-client (a client no one here wrote) connected to it, with its
 * callbacks as promises; and zkCli.sh (ZooKeeper's own Java client), run once or
 * driven line by line.
 *
 * @example
 * const port = await bridgePort(server);
 * const client = await nzc(port);
 * const [data] = await call<[Buffer, unknown]>((cb) => client.getData("/a", cb));
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { LocalServer } from "./local-server.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Any = any;
export const zookeeper: Any = createRequire(import.meta.url)("node-zookeeper-client");

const repoRoot = resolve(import.meta.dirname, "../..");

export const hostPort = (port: number) => `127.0.0.1:${port}`;

/** The one line `npm start` prints for the bridge. */
export const LISTENING = /edgekeeper: ZooKeeper protocol on 127\.0\.0\.1:(\d+)/;

/**
 * The port of the bridge the test's ZooKeeper clients use, once npm start has printed
 * its bridge's line (NaN if it never came): npm start's, or with simulated regions the
 * callers' region's (`LocalServer.zkPort`).
 */
export async function bridgePort(server: LocalServer): Promise<number> {
  for (let i = 0; i < 100 && !LISTENING.test(server.output()); i++) await sleep(100);
  return LISTENING.test(server.output()) ? server.zkPort : NaN;
}

/** A node-zookeeper-client session on the bridge, connected. */
export async function nzc(port: number, options: { sessionTimeout?: number } = {}): Promise<Any> {
  const client = zookeeper.createClient(hostPort(port), { sessionTimeout: options.sessionTimeout ?? 10_000, retries: 0 });
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error("node-zookeeper-client did not connect")), 20_000);
    client.once("connected", () => {
      clearTimeout(timer);
      done();
    });
    client.connect();
  });
  return client;
}

/** A node-zookeeper-client call as a promise: the error rejects; one result, or the results as an array. */
export function call<T>(fn: (cb: (error: Any, ...rest: Any[]) => void) => void): Promise<T> {
  return new Promise((done, fail) => fn((error, ...rest) => (error ? fail(error) : done((rest.length > 1 ? rest : rest[0]) as T))));
}

/** Creates `path` holding `value` with node-zookeeper-client on `port`, and the value it then reads back. */
export async function nzcCreateAndRead(port: number, path: string, value: string): Promise<string> {
  const client: Any = await nzc(port);
  try {
    await call((cb) => client.create(path, Buffer.from(value), zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, cb));
    const [data] = await call<[Buffer, unknown]>((cb) => client.getData(path, cb));
    return data.toString();
  } finally {
    client.close();
  }
}

/** Where Debian's ZooKeeper package puts its command-line client. */
export const ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh";

/** Why zkCli.sh cannot run here (a test skips with it), or undefined. */
export function zkCliUnavailable(): string | undefined {
  return existsSync(ZKCLI) ? undefined : `${ZKCLI} not installed (apt-get install zookeeper)`;
}

export interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs a program from the repository's root to its end, with `input` on stdin. */
export function run(command: string, args: readonly string[], input = ""): Promise<Run> {
  return new Promise((done, fail) => {
    const child = execFile(command, args, { cwd: repoRoot, timeout: 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error && typeof error.code === "number" ? error.code : error ? null : 0;
      if (error && code === null) fail(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stderr}`));
      else done({ stdout, stderr, code });
    });
    child.stdin!.end(input);
  });
}

/** zkCli.sh on `server` (host:port) run once: a command as `args`, or commands a line each as `input`. */
export function zkCli(server: string, args: readonly string[], input = ""): Promise<Run> {
  return run(ZKCLI, ["-server", server, ...args], input);
}

/** zkCli.sh, ZooKeeper's own Java client, run interactively: a command per line in, its output out. */
export interface ZkCli {
  send(command: string): void;
  /** What its watcher printed so far, kept up to date: `Type path` for node events, `state State` for connection changes. */
  readonly events: string[];
  /** How many lines of its output so far are exactly `line`. */
  countLines(line: string): number;
  /** Resolves once the output holds `text`; fails after `limitMs` with the output so far. */
  waitFor(text: string, limitMs?: number): Promise<void>;
  /** Kills it, and the Java process it started. */
  stop(): void;
}

export interface ZkCliOptions {
  /** The session timeout it asks for (zkCli's `-timeout`); its own default otherwise. */
  sessionTimeoutMs?: number;
  /** How long it may take to connect: a limit for a stuck start, not a speed assertion. */
  limitMs?: number;
}

/**
 * Starts zkCli.sh on `server` (host:port) in its own process group, kept running for
 * tests that need it alive while others write or the network fails; resolves once
 * its session is connected.
 *
 * @example
 * const cli = await startZkCli(hostPort(port));
 * cli.send("addWatch -m PERSISTENT_RECURSIVE /");
 * await cli.waitFor("type:NodeCreated path:/a");
 * cli.stop();
 */
export async function startZkCli(server: string, options: ZkCliOptions = {}): Promise<ZkCli> {
  const timeout = options.sessionTimeoutMs === undefined ? [] : ["-timeout", String(options.sessionTimeoutMs)];
  const child = spawn(ZKCLI, [...timeout, "-server", server], { detached: true, stdio: ["pipe", "pipe", "pipe"] });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  let text = "";
  const events: string[] = [];
  const read = (chunk: Buffer) => {
    text += chunk.toString();
    // Only whole lines: a path cut between two chunks is not an event yet.
    const lines = text.slice(0, text.lastIndexOf("\n") + 1);
    events.splice(0, events.length);
    for (const [, state, type, path] of lines.matchAll(/WatchedEvent state:(\w+) type:(\w+) path:(\S+)/g)) {
      events.push(type === "None" ? `state ${state}` : `${type} ${path}`);
    }
  };
  child.stdout.on("data", read);
  child.stderr.on("data", read);
  const cli: ZkCli = {
    send: (command) => child.stdin.write(`${command}\n`),
    events,
    countLines: (line) => text.split("\n").filter((printed) => printed === line).length,
    async waitFor(wanted, limitMs = 60_000) {
      const deadline = Date.now() + limitMs;
      while (!text.includes(wanted)) {
        if (Date.now() > deadline || exited()) throw new Error(`zkCli.sh on ${server} never printed ${JSON.stringify(wanted)}:\n${text}`);
        await sleep(50);
      }
    },
    stop() {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // the group is gone
      }
    },
  };
  await cli.waitFor("state:SyncConnected type:None", options.limitMs ?? 30_000).catch((error: Error) => {
    cli.stop();
    throw error;
  });
  return cli;
}
