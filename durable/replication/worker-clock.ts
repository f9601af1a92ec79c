/** The core's Clock on the Workers runtime: wall time and timers (cleared when cancelled). */
import type { Clock } from "./core/index.ts";

export const WORKER_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => {
    let timer!: ReturnType<typeof setTimeout>;
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    return { elapsed, cancel: () => clearTimeout(timer) };
  },
};
