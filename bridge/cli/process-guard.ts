/**
 * The last line of defence of the long-running commands (`npm start`, `proxy`): an
 * error nothing caught is logged and the process keeps serving, so that one bad
 * request or reply never takes every other client down with it. Installed once the
 * servers are up (a failure to start still ends the process). The log is bounded:
 * at most LINES_PER_MINUTE lines a minute, then one line counting the rest.
 */

const LINES_PER_MINUTE = 10;

/**
 * @example
 * keepServingOnUncaughtErrors((line) => console.error(line));
 */
export function keepServingOnUncaughtErrors(log: (line: string) => void): void {
  let windowStartedAt = 0;
  let logged = 0;
  let suppressed = 0;
  const report = (what: string, error: unknown) => {
    const now = Date.now();
    if (now - windowStartedAt >= 60_000) {
      if (suppressed > 0) log(`edgekeeper: ${suppressed} more uncaught errors in the last minute, not shown`);
      windowStartedAt = now;
      logged = 0;
      suppressed = 0;
    }
    if (logged++ >= LINES_PER_MINUTE) {
      suppressed++;
      return;
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`edgekeeper: ${what}, still serving: ${detail}`);
  };
  process.on("uncaughtException", (error) => report("uncaught exception", error));
  process.on("unhandledRejection", (reason) => report("unhandled rejection", reason));
}
