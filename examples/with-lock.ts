/**
 * withLock from Node over plain HTTP (the same code runs in a Worker; see
 * examples/workers/global-lock/): three processes run a critical section in turn.
 * Run `npm start`, then `npx node examples/with-lock.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { withLock } from "../client/recipes/http-lock.ts";
import { SERVER, asProcesses } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["a", "b", "c"]);
if (me) {
  for (let n = 1; n <= 2; n++) {
    await withLock(SERVER, "/examples/locks/http", async ({ node, signal }) => {
      console.log(`[${me}] holds the lock (${n}/2) as ${node}`);
      await sleep(300);
      if (signal.aborted) console.log(`[${me}] the lease expired: stopping`);
    }, { ttlMs: 10_000, timeoutMs: 30_000, identifier: me });
    console.log(`[${me}] released`);
  }
}
