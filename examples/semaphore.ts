/**
 * Five processes share a Semaphore of 2 leases: at most two work at once. Run
 * `npm start`, then `npx node examples/semaphore.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Semaphore } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["w1", "w2", "w3", "w4", "w5"]);
if (me) {
  const zk = await open(me);
  const sem = new Semaphore(zk, "/examples/semaphores/db", 2, { identifier: me });
  const lease = await sem.acquire({ timeoutMs: 30_000 });
  if (!lease) {
    console.log(`[${me}] no lease within 30 s`);
  } else {
    console.log(`[${me}] got a lease; holders now: ${(await sem.holders()).join(", ")}`);
    await sleep(500);
    await lease.release();
    console.log(`[${me}] gave it back`);
  }
  await zk.close();
}
