/**
 * One `npm start` per state directory. Two workerd processes on the same SQLite files
 * both start, and then their writes fail with SQLITE_BUSY; so a start takes a lock
 * file in the directory (created exclusively, holding its pid) and a second start is
 * refused while the process named in it is alive. A lock left by a process that died
 * without removing it (SIGKILL, a crash) is stale: it is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const LOCK_FILE = "edgekeeper.lock";

/** Why a start is refused: another live process holds the directory. */
export class StateDirInUse extends Error {
  readonly stateDir: string;
  readonly pid: number;
  constructor(stateDir: string, pid: number) {
    super(`state directory ${stateDir} is in use by another edgekeeper (pid ${pid}); stop it, or pick another directory with --state`);
    this.stateDir = stateDir;
    this.pid = pid;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // removed meanwhile, or half-written by a start that died
  }
}

/**
 * Takes the directory's lock for this process, or throws StateDirInUse. The lock is
 * removed when this process exits (on any path that runs exit handlers).
 *
 * @example
 * lockStateDir(".edgekeeper"); // throws StateDirInUse if another npm start uses it
 */
export function lockStateDir(stateDir: string): void {
  const path = join(stateDir, LOCK_FILE);
  // Two tries: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx" });
      process.once("exit", () => {
        if (holderOf(path) === process.pid) rmSync(path, { force: true });
      });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const pid = holderOf(path);
    if (pid !== undefined && pid !== process.pid && alive(pid)) throw new StateDirInUse(stateDir, pid);
    rmSync(path, { force: true });
  }
  throw new StateDirInUse(stateDir, holderOf(path) ?? 0);
}
