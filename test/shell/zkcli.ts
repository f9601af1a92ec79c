/**
 * Runs zkCli.sh and our shell the same way and puts their output in one shape for
 * comparison: times, zxids and session ids normalised, the server's name replaced,
 * Java's logging noise dropped.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fourLetterWord, prepareZookeeper } from "../harness/zookeeper/launch.ts";

export const ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh";
const repoRoot = resolve(import.meta.dirname, "../..");

export interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs a program to its end, with `input` on stdin. */
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

/** `npx edgekeeper shell -server <server> args...` from the repository, as a user runs it. */
export function shell(server: string, args: readonly string[], input = ""): Promise<Run> {
  return run("npx", ["edgekeeper", "shell", "-server", server, ...args], input);
}

export function zkCli(server: string, args: readonly string[], input = ""): Promise<Run> {
  return run(ZKCLI, ["-server", server, ...args], input);
}

const JAVA_DATE = /^(c|m)time = [A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}$/;

/** One output stream with what legitimately differs between two servers replaced. */
export function normalise(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => !line.startsWith("SLF4J:"))
    .map((line) =>
      line
        .replace(/^Connecting to .*/, "Connecting to SERVER")
        .replace(/^([cmp]Zxid) = 0x[0-9a-f]+$/, "$1 = 0xZXID")
        .replace(JAVA_DATE, "$1time = DATE")
        .replace(/^ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*$/, "ephemeralOwner = 0xSESSION"),
    );
}

/** The block zkCli's watcher prints once the session is open. */
export const CONNECTED_BLOCK = ["", "WATCHER::", "", "WatchedEvent state:SyncConnected type:None path:null"];

/**
 * Drops the connected block: zkCli prints it from another thread, so where it lands
 * (or whether, before a usage error) is a race, and a process that exits meanwhile may
 * leave only its first lines, at the end of the output.
 */
export function withoutConnectedBlock(lines: string[]): string[] {
  const out = [...lines];
  // The empty string after the output's last newline is no line of the block.
  const endsWithNewline = out.at(-1) === "";
  if (endsWithNewline) out.pop();
  for (let i = 0; i < out.length; i++) {
    const whole = i + CONNECTED_BLOCK.length <= out.length && CONNECTED_BLOCK.every((l, j) => out[i + j] === l);
    const cutShort = out.length - i >= 2 && out.slice(i).every((l, j) => CONNECTED_BLOCK[j] === l);
    if (whole || cutShort) {
      out.splice(i, whole ? CONNECTED_BLOCK.length : out.length - i);
      break;
    }
  }
  if (endsWithNewline) out.push("");
  return out;
}

/** Why zkCli.sh cannot run here, or undefined. */
export function zkCliUnavailable(): string | undefined {
  return existsSync(ZKCLI) ? undefined : `${ZKCLI} is missing (apt-get install zookeeper)`;
}

export interface Zookeeper {
  server: string;
  stop(): Promise<void>;
}

/** ZooKeeper 3.8 from launch.ts on `port`, in `dir`; resolves once zkCli.sh can use it. */
export async function startZookeeper(dir: string, port: number): Promise<Zookeeper> {
  const launch = await prepareZookeeper(dir, port);
  const child: ChildProcess = spawn(launch.command, launch.args, { cwd: launch.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const server = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    process.kill(-child.pid!, "SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ZooKeeper exited:\n${output}`);
    if ((await fourLetterWord(port, "ruok").catch(() => "")) === "imok" && (await zkCli(server, ["ls", "/"])).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ZooKeeper did not take sessions in 60 s:\n${output}`);
    }
    await sleep(200);
  }
  return { server, stop };
}
