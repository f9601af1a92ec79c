/**
 * Processes and temp dirs the benchmark owns, and their cleanup.
 *
 * Every server runs in its own process group (spawned detached), so one signal to
 * the group stops it with all its children (npm -> node -> workerd; java). Every
 * group and temp dir is registered here the moment it exists, and `cleanup()` stops
 * and removes all of them: on success, on error, on Ctrl-C and on the hard timeout.
 * A last synchronous pass on process exit SIGKILLs whatever is still alive.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const HOST = "127.0.0.1";

export interface Proc {
  name: string;
  child: ChildProcess;
  /** stdout and stderr so far (the last 64 KiB). */
  output(): string;
  exited: Promise<void>;
  /** The signal that asks it to stop cleanly (SIGINT for npm start: its Ctrl-C path). */
  stopSignal: NodeJS.Signals;
}

const procs = new Set<Proc>();
const dirs = new Set<string>();
let stopping = false;

/** True once cleanup has begun: nothing new is started, and start-up errors are expected. */
export function isStopping(): boolean {
  return stopping;
}

export async function tempDir(prefix: string): Promise<string> {
  if (stopping) throw new Error("stopping");
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** A free TCP port on loopback, as the tests pick theirs. */
export { freePort } from "../test/harness/zookeeper/launch.ts";

/**
 * Starts a command in a new process group; its output is kept for error messages.
 * `nofile` raises its open-file limit first (to that, or else to the hard limit):
 * the command runs as `sh -c 'ulimit -n ...; exec "$@"'`, so its pid is the same.
 */
export function startGroup(
  name: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stopSignal?: NodeJS.Signals; nofile?: number } = {},
): Proc {
  if (stopping) throw new Error("stopping");
  if (options.nofile !== undefined) {
    const raise = `ulimit -n ${options.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
    [command, args] = ["sh", ["-c", raise, "sh", command, ...args]];
  }
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true, // own process group: the terminal's Ctrl-C does not reach it, we stop it
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const keep = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > 65536) text = text.slice(-65536);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      text += `\n${error.message}`;
      resolve();
    });
  });
  const proc: Proc = { name, child, output: () => text, exited, stopSignal: options.stopSignal ?? "SIGTERM" };
  procs.add(proc);
  return proc;
}

function signalGroup(proc: Proc, signal: NodeJS.Signals): boolean {
  if (proc.child.pid === undefined) return false;
  try {
    process.kill(-proc.child.pid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

function groupAlive(proc: Proc): boolean {
  return signalGroup(proc, 0 as unknown as NodeJS.Signals);
}

/** Asks the group to stop, waits up to `graceMs` for every member to exit, then SIGKILLs it. */
export async function stopGroup(proc: Proc, graceMs = 10_000): Promise<void> {
  if (!procs.has(proc)) return;
  signalGroup(proc, proc.stopSignal);
  const deadline = Date.now() + graceMs;
  while (groupAlive(proc) && Date.now() < deadline) await sleep(100);
  if (groupAlive(proc)) {
    signalGroup(proc, "SIGKILL");
    while (groupAlive(proc) && Date.now() < deadline + 2_000) await sleep(50);
  }
  procs.delete(proc);
}

/** Polls `probe` until it returns true; fails early if the process exits, or after `limitMs`. */
export async function waitUntil(proc: Proc, what: string, limitMs: number, probe: () => Promise<boolean>): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited before ${what}:\n${proc.output().trim()}`);
    try {
      if (await probe()) return;
    } catch {
      // not ready yet
    }
    await sleep(100);
  }
  throw new Error(`${proc.name}: no ${what} after ${limitMs} ms:\n${proc.output().trim()}`);
}

/** Resident memory of a process group: the total and each process's share, in bytes. */
export interface GroupRss {
  total: number;
  /** Per process, by its program's name ("npm", "node", "workerd", "java"); NaN total where /proc is missing. */
  parts: { pid: number; name: string; bytes: number }[];
}

/** A process of a group, as /proc shows it: its stat fields after the command, its status text, its program's name. */
interface GroupProcess {
  pid: number;
  name: string;
  /** /proc/PID/stat's fields after `(comm)`: state is [0], utime [11], stime [12]. */
  stat: string[];
  status: string;
}

/** Every process in `proc`'s group (Linux only; undefined where /proc is missing). */
async function groupProcesses(proc: Proc): Promise<GroupProcess[] | undefined> {
  const pgid = proc.child.pid;
  if (pgid === undefined) return undefined;
  let entries: string[];
  try {
    entries = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  const found: GroupProcess[] = [];
  for (const pid of entries) {
    try {
      const statText = await readFile(`/proc/${pid}/stat`, "utf8");
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")".
      const stat = statText.slice(statText.lastIndexOf(")") + 2).split(" ");
      if (Number(stat[2]) !== pgid) continue;
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      // The program's name from argv[0] ("npm start --port ..." as npm retitles itself, a workerd path): "npm", "workerd".
      const argv0 = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0")[0] ?? "";
      const name = argv0.split(" ")[0]!.split("/").pop() || (/^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?");
      found.push({ pid: Number(pid), name, stat, status });
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/**
 * The resident memory of every process in `proc`'s group (npm, node and workerd for
 * npm start; java for ZooKeeper), from /proc (Linux only; NaN elsewhere).
 */
export async function groupRss(proc: Proc): Promise<GroupRss> {
  const processes = await groupProcesses(proc);
  if (!processes) return { total: Number.NaN, parts: [] };
  const parts: GroupRss["parts"] = [];
  for (const { pid, name, status } of processes) {
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    if (kib !== undefined) parts.push({ pid, name, bytes: Number(kib) * 1024 });
  }
  return { total: parts.reduce((sum, part) => sum + part.bytes, 0), parts };
}

/** Clock ticks a second in /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user and system, in ms) the processes named `name` in `proc`'s group
 * have used so far (workerd, for npm start); NaN where /proc is missing.
 */
export async function groupCpuMs(proc: Proc, name: string): Promise<number> {
  const processes = await groupProcesses(proc);
  if (!processes) return Number.NaN;
  let ticks = 0;
  for (const { stat, name: named } of processes) if (named === name) ticks += Number(stat[11]) + Number(stat[12]);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** This process's open-file limit (soft), from /proc; undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    return line === undefined ? undefined : line === "unlimited" ? Number.POSITIVE_INFINITY : Number(line);
  } catch {
    return undefined;
  }
}

/** Stops every registered process group and removes every temp dir. Safe to call twice. */
export async function cleanup(): Promise<void> {
  stopping = true;
  await Promise.all([...procs].map((proc) => stopGroup(proc)));
  await Promise.all(
    [...dirs].map(async (dir) => {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      dirs.delete(dir);
    }),
  );
}

// Last resort (process.exit from anywhere, an uncaught error): synchronous only.
process.on("exit", () => {
  for (const proc of procs) signalGroup(proc, "SIGKILL");
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // nothing more can be done here
    }
  }
});
