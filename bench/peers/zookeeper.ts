/**
 * ZooKeeper 3.8 from Debian's package, standalone on a free loopback port with its
 * own temp data dir and config (see STACK.md), driven by node-zookeeper-client over
 * one TCP connection (one session; requests pipelined on it as ZooKeeper's clients do).
 * Logging goes to the console at WARN; the server is stopped with SIGTERM to its group.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile, mkdir } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import zookeeper from "node-zookeeper-client";
import type { Target } from "../workloads.ts";
import { HOST, freePort, startGroup, stopGroup, tempDir, waitUntil } from "../procs.ts";
import { type Peer, PeerUnavailable } from "./peer.ts";

const JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"];
const MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/** Sends a four-letter word and returns the whole answer (the server closes after it). */
export function fourLetterWord(port: number, word: string, limitMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let answer = "";
    socket.setTimeout(limitMs, () => socket.destroy(new Error(`${word}: no answer in ${limitMs} ms`)));
    socket.on("connect", () => socket.write(word));
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

async function findJava(): Promise<string> {
  const java = process.env.JAVA ?? "java";
  try {
    const { stderr } = await promisify(execFile)(java, ["-version"]);
    return stderr.split("\n")[0]?.trim() ?? java;
  } catch {
    throw new PeerUnavailable(`no Java (\`${java} -version\` failed); install openjdk, or set JAVA`);
  }
}

function call<T>(what: string, run: (done: (error: Error | null, result?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, result) => (error ? reject(new Error(`zookeeper: ${what}: ${error.message}`)) : resolve(result as T))),
  );
}

function zkTarget(client: ReturnType<typeof zookeeper.createClient>): Target {
  return {
    name: "ZooKeeper",
    create: async (path, data) => {
      await call<string>(`create ${path}`, (done) => client.create(path, Buffer.from(data), done));
    },
    remove: (path) => call(`delete ${path}`, (done) => client.remove(path, -1, done)),
    setData: (path, data) => call(`setData ${path}`, (done) => client.setData(path, Buffer.from(data), -1, done)),
    getData: async (path) => {
      const data = await call<Buffer | undefined>(`getData ${path}`, (done) => client.getData(path, done));
      return data?.length ?? 0;
    },
    async close() {
      client.close();
    },
  };
}

export async function startZookeeper(startupLimitMs: number): Promise<Peer> {
  const missing = JARS.filter((jar) => !existsSync(jar));
  if (missing.length > 0) throw new PeerUnavailable(`ZooKeeper not installed (missing ${missing.join(", ")}); apt-get install zookeeper`);
  const javaVersion = await findJava();

  const dir = await tempDir("zookeeper-bench-");
  const confDir = join(dir, "conf");
  const dataDir = join(dir, "data");
  await mkdir(confDir);
  await mkdir(dataDir);
  const port = await freePort();
  await writeFile(
    join(confDir, "zoo.cfg"),
    [
      "tickTime=2000",
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      `clientPortAddress=${HOST}`,
      "maxClientCnxns=0",
      "admin.enableServer=false",
      "4lw.commands.whitelist=*",
      "",
    ].join("\n"),
  );
  // WARN only: at INFO and below ZooKeeper logs every failed request with a hex dump.
  await writeFile(
    join(confDir, "log4j.properties"),
    [
      "log4j.rootLogger=WARN, CONSOLE",
      "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender",
      "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout",
      "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p %c{1} - %m%n",
      "",
    ].join("\n"),
  );

  const proc = startGroup(
    "ZooKeeper",
    process.env.JAVA ?? "java",
    ["-Xms256m", "-Xmx512m", "-cp", [confDir, ...JARS].join(":"), MAIN_CLASS, join(confDir, "zoo.cfg")],
    { cwd: dir, stopSignal: "SIGTERM" },
  );
  try {
    await waitUntil(proc, "imok to ruok", startupLimitMs, async () => (await fourLetterWord(port, "ruok")) === "imok");
  } catch (error) {
    await stopGroup(proc);
    throw new PeerUnavailable(`ZooKeeper did not start: ${(error as Error).message}`);
  }
  const srvr = await fourLetterWord(port, "srvr").catch(() => "");
  const version = /Zookeeper version: ([^-,\s]+)/.exec(srvr)?.[1] ?? "3.8";

  const client = zookeeper.createClient(`${HOST}:${port}`, { sessionTimeout: 30_000, retries: 0 });
  const connected = new Promise<void>((resolve) => client.once("connected", resolve));
  client.connect();
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`node-zookeeper-client: not connected after 10 s`)), 10_000).unref(),
  );
  try {
    await Promise.race([connected, timer]);
  } catch (error) {
    client.close();
    await stopGroup(proc);
    throw error;
  }

  return {
    name: "ZooKeeper",
    description: `ZooKeeper ${version} standalone (${javaVersion}), node-zookeeper-client 1.1.3 at ${HOST}:${port}`,
    target: zkTarget(client),
    async stop() {
      client.close();
      await stopGroup(proc);
    },
  };
}
