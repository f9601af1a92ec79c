/**
 * Reconnect delays: exponential, capped, with jitter so that many clients dropped
 * by one deploy do not come back in step.
 */

export interface BackoffOptions {
  /** The delay before the second attempt (the first after a drop is immediate). Default 50 ms. */
  baseMs?: number;
  /** No delay is longer than this. Default 2,000 ms. */
  capMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 50, capMs: 2_000 };

/**
 * The delay before reconnect attempt `attempt` (0 = the first after a drop: no
 * delay, straight to the next server). Later attempts wait base x 2^(attempt-1),
 * capped, then scaled by a jitter factor in [0.5, 1) ("equal jitter").
 *
 * @example
 * backoffDelay(0);                       // 0
 * backoffDelay(3, { baseMs: 100 }, () => 0.5); // 100 * 4 * 0.75 = 300
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  if (attempt <= 0) return 0;
  const { baseMs, capMs } = { ...DEFAULT_BACKOFF, ...options };
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}
