/**
 * What the recipes share, on the client's public API only: waiting for a watch, a
 * deadline, an abort or a connection state at once; node names ordered by their
 * sequence suffix; parents created as containers; retries of ConnectionLoss.
 * Not exported from recipes/index.ts: a recipe's helpers, not an API.
 */
import { type ConnectionState, type KeeperClient, KeeperError, isKeeperError } from "../index.ts";

/** Why a wait ended. */
export type WakeReason = "event" | "timeout" | "abort" | "state";

/**
 * One wait: `fire` is the watch listener to pass to a read; `wait()` settles on the
 * first of that watch, the deadline, the signal, or one of `states`.
 *
 * @example
 * const w = new Waiter(zk, deadline, signal);
 * if ((await zk.exists(pred, { watch: w.fire })) !== null) await w.wait();
 */
export class Waiter {
  readonly fire: () => void;
  private readonly settled: Promise<WakeReason>;
  private readonly cleanups: (() => void)[] = [];

  constructor(zk: KeeperClient, deadline = Infinity, signal?: AbortSignal, states: readonly ConnectionState[] = ["reconnected", "lost", "connected", "closed"]) {
    let resolve!: (reason: WakeReason) => void;
    this.settled = new Promise<WakeReason>((r) => (resolve = r)).finally(() => this.cancel());
    this.fire = () => resolve("event");
    for (const state of states) this.cleanups.push(zk.on(state, () => resolve("state")));
    if (deadline !== Infinity) {
      const timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
      this.cleanups.push(() => clearTimeout(timer));
    }
    if (signal) {
      if (signal.aborted) resolve("abort");
      const onAbort = () => resolve("abort");
      signal.addEventListener("abort", onAbort, { once: true });
      this.cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }
  }

  wait(): Promise<WakeReason> {
    return this.settled;
  }

  /** Drops the timer and listeners (the watch, if set, stays until it fires, as in ZooKeeper). */
  cancel(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}

/** Whether the client was closed (a function, so a loop's condition does not narrow the state). */
export function isClosed(zk: KeeperClient): boolean {
  return zk.state === "closed";
}

/** A random id that makes a recipe's node names its own (Curator's "protected" mode). */
export function guid(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** The sequence number ZooKeeper appended (the last 10 digits), or -1. */
export function sequenceOf(name: string): number {
  const match = /(\d{10})$/.exec(name);
  return match ? Number(match[1]) : -1;
}

/** Sequential node names in sequence order (names from several prefixes may mix). */
export function bySequence(names: readonly string[]): string[] {
  return names.filter((n) => sequenceOf(n) >= 0).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/** `path` joined with a child name. */
export function child(path: string, name: string): string {
  return path === "/" ? `/${name}` : `${path}/${name}`;
}

/** The last segment of a path. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Creates `path` and its missing ancestors as CONTAINER nodes (the server reaps them
 * once empty), as Curator's creatingParentContainersIfNeeded does.
 */
export async function ensureContainers(zk: KeeperClient, path: string): Promise<void> {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join("/")}`;
    await retryConnectionLoss(async () => {
      try {
        await zk.create(prefix, undefined, { mode: "CONTAINER" });
      } catch (error) {
        if (!isKeeperError(error, "NodeExists")) throw error;
      }
    });
  }
}

/**
 * Before reading whether a write whose answer was lost (ConnectionLoss) applied: a
 * session's reads show the writes it saw answered, and a read served by a replica may
 * not show this one yet, so the session first syncs (its next reads of `path`'s shard
 * see everything its leader had committed), as ZooKeeper advises before a read that
 * must be current.
 */
export async function syncAfterLostAnswer(zk: KeeperClient, path: string): Promise<void> {
  await retryConnectionLoss(() => zk.sync(path));
}

/**
 * Runs an idempotent call again while it fails with ConnectionLoss (requests wait
 * for the session's resume; a lost session fails them with SessionExpired).
 */
export async function retryConnectionLoss<T>(run: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (error) {
      if (!isKeeperError(error, "ConnectionLoss") || i >= attempts) throw error;
    }
  }
}

/** Deletes a node we own, retrying ConnectionLoss; gone already (NoNode, expired session) is fine. */
export async function deleteOwned(zk: KeeperClient, path: string): Promise<void> {
  try {
    await retryConnectionLoss(() => zk.delete(path));
  } catch (error) {
    if (isKeeperError(error, "NoNode") || isKeeperError(error, "SessionExpired")) return;
    throw error;
  }
}

/** The error a recipe call rejects with when its session expired under it. */
export function sessionExpired(what: string): KeeperError {
  return new KeeperError("SessionExpired", `the session expired: ${what}`);
}

/** The error of an aborted call: the signal's reason, or an AbortError. */
export function aborted(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException("aborted", "AbortError");
}
