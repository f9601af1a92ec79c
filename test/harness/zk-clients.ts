/**
 * For Node-side tests of the wire bridge: where `npm start` put it, and
 * node-zookeeper-client (a client no one here wrote) connected to it, with its
 * callbacks as promises; and zkCli.sh (ZooKeeper's own Java client) driven line by line.
 *
 * @example
 * const port = await bridgePort(server);
 * const client = await nzc(port);
 * const [data] = await call<[Buffer, unknown]>((cb) => client.getData("/a", cb));
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import type { LocalServer } from "./local-server.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Any = any;
export const zookeeper: Any = createRequire(import.meta.url)("node-zookeeper-client");

export const hostPort = (port: number) => `127.0.0.1:${port}`;

/** The one line `npm start` prints for the bridge. */
export const LISTENING = /edgekeeper: ZooKeeper protocol on 127\.0\.0\.1:(\d+)/;

/** The bridge's port, from the line `npm start` prints (NaN if it never came). */
export async function bridgePort(server: LocalServer): Promise<number> {
  for (let i = 0; i < 100 && !LISTENING.test(server.output()); i++) await sleep(100);
  return Number(LISTENING.exec(server.output())?.[1]);
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

/** A zkCli.sh kept running: commands sent one by one, its output read as it comes. */
export interface InteractiveZkCli {
  send(command: string): void;
  output(): string;
  /** Resolves once the output holds `text`; fails after `withinMs` with the output so far. */
  waitFor(text: string, withinMs?: number): Promise<void>;
  quit(): Promise<void>;
}

/**
 * Starts zkCli.sh on the bridge at `port` (ZooKeeper's own Java client), for tests
 * that need it alive while others write: its watcher prints each event it gets.
 *
 * @example
 * const cli = startZkCli(port);
 * cli.send("addWatch -m PERSISTENT_RECURSIVE /");
 * await cli.waitFor("type:NodeCreated path:/a");
 */
export function startZkCli(port: number): InteractiveZkCli {
  const child = spawn(ZKCLI, ["-server", hostPort(port)], { stdio: ["pipe", "pipe", "pipe"] });
  let text = "";
  child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise((done) => child.once("exit", done));
  return {
    send: (command) => child.stdin.write(`${command}\n`),
    output: () => text,
    async waitFor(wanted, withinMs = 60_000) {
      const until = Date.now() + withinMs;
      while (!text.includes(wanted)) {
        if (Date.now() > until || child.exitCode !== null) throw new Error(`zkCli.sh never printed ${JSON.stringify(wanted)}:\n${text}`);
        await sleep(50);
      }
    },
    async quit() {
      if (child.exitCode === null) child.stdin.end("quit\n");
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** zkCli.sh, ZooKeeper's own Java client, run interactively: a command per line in, its output out. */
export interface ZkCliSession {
  /** What its watcher printed so far: `Type path` for node events, `state State` for connection changes. */
  events: string[];
  send(command: string): void;
  /** How many lines of its output so far are exactly `line`. */
  countLines(line: string): number;
  kill(): void;
}

/**
 * zkCli.sh on `server` with a session timeout, in its own process group; resolves once
 * it is connected (within `limitMs`, a limit for a stuck start, not a speed assertion).
 */
export async function zkCliSession(server: string, sessionTimeoutMs: number, limitMs = 30_000): Promise<ZkCliSession> {
  const child = spawn(ZKCLI, ["-timeout", String(sessionTimeoutMs), "-server", server], { detached: true, stdio: ["pipe", "pipe", "pipe"] });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  };
  let output = "";
  const events: string[] = [];
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`zkCli.sh did not connect to ${server} in ${limitMs} ms:\n${output}`)), limitMs);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      events.splice(0, events.length);
      for (const [, state, type, path] of output.matchAll(/WatchedEvent state:(\w+) type:(\w+) path:(\S+)/g)) {
        events.push(type === "None" ? `state ${state}` : `${type} ${path}`);
      }
      if (events.includes("state SyncConnected")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await connected.catch((error: Error) => {
    kill();
    throw error;
  });
  return {
    events,
    send: (command) => child.stdin.write(`${command}\n`),
    countLines: (line) => output.split("\n").filter((printed) => printed === line).length,
    kill,
  };
}
