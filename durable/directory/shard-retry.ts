/**
 * The retries of a call to a shard, in one place. Two cases, each with today's budget:
 *
 * - The shard answered that it does not serve the path (`moved`: the cached mount
 *   table was stale, or a mount is being recorded), or the copy asked no longer leads
 *   it (`notLeader`: a move of its leader is sealing it, or has moved it): ask again
 *   with a fresh table, after a short pause, for about 3 s in all (a move's pause),
 *   at most MOVED_RETRY_DELAYS_MS.length times. Any answer that says "ask elsewhere"
 *   is this case; the caller's `elsewhere` names it.
 * - The RPC itself failed with an error the platform marks retryable (never one of an
 *   overloaded object): the same call again, at most TRANSIENT_ATTEMPTS times in all.
 *   Only for calls that are safe to repeat (a session's writes carry their cxid, so a
 *   write already applied is answered with its stored reply).
 *
 * A call that failed without an answer of the object's own is ConnectionLoss
 * (`lostCall`), ZooKeeper's error for a call whose fate is unknown, never SystemError.
 */
import { KeeperError, isKeeperError } from "../../protocol/index.ts";

/**
 * Pauses before each attempt while the answer says "ask elsewhere": a mount being
 * recorded (stub made, table not yet) takes the first few; a leader's move (sealed,
 * its successor not yet leading) up to 3 s.
 */
export const MOVED_RETRY_DELAYS_MS: readonly number[] = [0, 20, 100, 200, 400, 500, 500, 500, 500, 500];

/** Attempts of one shard call that failed with an error the platform marks retryable. */
export const TRANSIENT_ATTEMPTS = 3;

/**
 * Calls `attempt` until its answer is not one that says "ask elsewhere"; `fresh` is
 * false on the first attempt only (use the cached mount table), true after.
 *
 * @example
 * const outcome = await untilServed((fresh) => send(await router.table(fresh)), (o) => !o.ok && o.moved === true);
 */
export async function untilServed<T>(attempt: (fresh: boolean) => Promise<T>, elsewhere: (answer: T) => boolean): Promise<T> {
  for (const [n, delayMs] of MOVED_RETRY_DELAYS_MS.entries()) {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const answer = await attempt(n > 0);
    if (!elsewhere(answer)) return answer;
  }
  throw new KeeperError("SystemError", "the mount table and the shards disagree about who serves this path");
}

/**
 * Calls `call`, again if it failed with an error the platform marks retryable.
 *
 * @example
 * const outcomes = await retryingTransient(() => router.hostExecuteBatch(call, caller, requests));
 */
export async function retryingTransient<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= TRANSIENT_ATTEMPTS || !isRetryable(err)) throw err;
    }
  }
}

/**
 * The error to answer for a call to an object that failed: the object's own answer
 * (a KeeperError; or an error its code threw, `remote` and not a reset: a bug) as it
 * is; else the call was cut (the object restarted, was reset or aborted, the platform
 * lost the call) and whether it was applied is unknown: ConnectionLoss, for the
 * caller to retry, with the platform's error as its cause.
 *
 * @example
 * try { return await stub.execute(...); } catch (err) { throw lostCall(err); }
 */
export function lostCall(err: unknown): unknown {
  if (err instanceof KeeperError) return err;
  const flags = err as { remote?: unknown; durableObjectReset?: unknown } | null;
  if (typeof flags === "object" && flags !== null && flags.remote === true && flags.durableObjectReset !== true) return err;
  const lost = new KeeperError("ConnectionLoss", `the call was cut: ${err instanceof Error ? err.message : String(err)}`);
  lost.cause = err;
  return lost;
}

/** An RPC failure the platform says may be retried (never one of an overloaded object); for a lost call, its cause's flags. */
function isRetryable(err: unknown): boolean {
  const flags = (isKeeperError(err, "ConnectionLoss") && err.cause !== undefined ? err.cause : err) as { retryable?: unknown; overloaded?: unknown } | null;
  return typeof flags === "object" && flags !== null && flags.retryable === true && flags.overloaded !== true;
}
