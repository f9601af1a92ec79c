/** A Clock port for tests of the replication core whose time moves only when the test says. */

/**
 * A clock whose time passes only when told: `pass` ends every sleep whose time has
 * come (a sleep of 0, the replica's retry pause here, ends at once). `pending`: the
 * sleeps neither ended nor cancelled, the timers a platform would hold.
 */
export function manualClock() {
  let now = 1_000;
  let sleeps: Array<{ until: number; wake: () => void }> = [];
  return {
    now: () => now,
    pending: () => sleeps.length,
    sleep: (ms: number) => {
      if (ms === 0) return { elapsed: Promise.resolve(), cancel: () => undefined };
      let wake!: () => void;
      const elapsed = new Promise<void>((resolve) => (wake = resolve));
      sleeps.push({ until: now + ms, wake });
      return { elapsed, cancel: () => (sleeps = sleeps.filter((s) => s.wake !== wake)) };
    },
    pass: (ms: number) => {
      now += ms;
      const due = sleeps.filter((s) => s.until <= now);
      sleeps = sleeps.filter((s) => s.until > now);
      for (const { wake } of due) wake();
    },
  };
}
