/**
 * ZooKeeper 3.8 from Debian's package, standalone on loopback (see STACK.md): what
 * the benchmark's peer launcher and the tests share. It prepares a config dir and
 * the command line; the caller owns the process (bench/procs.ts registers it for
 * cleanup; tests start it through reference.ts), and says why it cannot run here.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestContext } from "vitest";

export const ZOOKEEPER_HOST = "127.0.0.1";
export const ZOOKEEPER_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"];
const MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/** A free TCP port on loopback (the kernel picks it; it is released before use). Tests and benchmarks share it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: ZOOKEEPER_HOST, port: 0, exclusive: true }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function javaCommand(): string {
  return process.env.JAVA ?? "java";
}

/** The Java version line; throws with a hint when Java is missing. */
export async function javaVersion(): Promise<string> {
  const java = javaCommand();
  try {
    const { stderr } = await promisify(execFile)(java, ["-version"]);
    return stderr.split("\n")[0]?.trim() ?? java;
  } catch {
    throw new Error(`no Java (\`${java} -version\` failed); install openjdk, or set JAVA`);
  }
}

/** Why ZooKeeper cannot be started here (missing jars or Java), or undefined if it can. */
export async function zookeeperUnavailable(): Promise<string | undefined> {
  const missing = ZOOKEEPER_JARS.filter((jar) => !existsSync(jar));
  if (missing.length > 0) return `ZooKeeper not installed (missing ${missing.join(", ")}); apt-get install zookeeper`;
  try {
    await javaVersion();
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/**
 * Once a test's own checks passed: when its comparison with ZooKeeper could not run
 * (`missing` says why), the test is reported skipped, saying so, rather than passed.
 */
export function skipUncompared(ctx: TestContext, missing: string | undefined): void {
  if (missing) ctx.skip(`no comparison with ZooKeeper 3.8: ${missing}`);
}

export interface ZookeeperLaunch {
  command: string;
  args: string[];
  /** Run it from here (its data and conf dirs are inside). */
  cwd: string;
  port: number;
}

export interface ZookeeperOptions {
  /** 4lw.commands.whitelist: a comma list of four-letter words, or "*" (the default) for all. */
  fourLetterWords?: string;
}

/**
 * Writes zoo.cfg and log4j.properties under `dir` for a standalone server on
 * loopback at `port`: four-letter words allowed (all, unless `options` lists them),
 * no admin server, TTL nodes enabled, logging at WARN (below that it logs every
 * failed request with a hex dump).
 */
export async function prepareZookeeper(dir: string, port: number, options: ZookeeperOptions = {}): Promise<ZookeeperLaunch> {
  const confDir = join(dir, "conf");
  const dataDir = join(dir, "data");
  await mkdir(confDir, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  await writeFile(
    join(confDir, "zoo.cfg"),
    [
      "tickTime=2000",
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      `clientPortAddress=${ZOOKEEPER_HOST}`,
      "maxClientCnxns=0",
      "admin.enableServer=false",
      `4lw.commands.whitelist=${options.fourLetterWords ?? "*"}`,
      "extendedTypesEnabled=true",
      "",
    ].join("\n"),
  );
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
  return {
    command: javaCommand(),
    args: ["-Xms256m", "-Xmx512m", "-cp", [confDir, ...ZOOKEEPER_JARS].join(":"), MAIN_CLASS, join(confDir, "zoo.cfg")],
    cwd: dir,
    port,
  };
}

/**
 * Whether the server at `port` serves requests: ZooKeeper answers `ruok` with imok
 * before it does (its `srvr` then says "not currently serving requests").
 */
export async function zookeeperServing(port: number): Promise<boolean> {
  if ((await fourLetterWord(port, "ruok").catch(() => "")) !== "imok") return false;
  return (await fourLetterWord(port, "srvr").catch(() => "")).startsWith("Zookeeper version");
}

/** Sends a four-letter word and returns the whole answer (the server closes after it). */
export function fourLetterWord(port: number, word: string, limitMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ZOOKEEPER_HOST, port });
    let answer = "";
    socket.setTimeout(limitMs, () => socket.destroy(new Error(`${word}: no answer in ${limitMs} ms`)));
    socket.on("connect", () => socket.write(word));
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}
