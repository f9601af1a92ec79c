/** The core's Clock on the Workers runtime: wall time and timers. */
import type { Clock } from "./core/index.ts";

export const WORKER_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
