/** Waiting on the core's Clock port without leaving a timer behind. */
import type { Clock } from "./ports.ts";

/** Waits until `signal` settles or `ms` pass, whichever is first, and frees the timer either way. */
export async function waitAtMost(clock: Clock, signal: Promise<unknown>, ms: number): Promise<void> {
  const sleep = clock.sleep(ms);
  try {
    await Promise.race([signal, sleep.elapsed]);
  } finally {
    sleep.cancel();
  }
}
