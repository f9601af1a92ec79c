/**
 * Two processes contend for one Lock; each takes it three times and writes behind its
 * fence. Run `npm start`, then `npx node examples/lock.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Lock } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["alice", "bob"]);
if (me) {
  const zk = await open(me);
  const lock = new Lock(zk, "/examples/locks/report", { identifier: me });
  // A holder cannot be sure of the lock while suspended, and has lost it on lost.
  zk.on("suspended", () => console.log(`[${me}] suspended: pausing work that needs the lock`));
  zk.on("lost", () => console.log(`[${me}] lost: the lock is gone`));
  for (let n = 1; n <= 3; n++) {
    if (!(await lock.acquire({ timeoutMs: 10_000 }))) {
      console.log(`[${me}] gave up after 10 s`);
      continue;
    }
    try {
      console.log(`[${me}] holds the lock (${n}/3); queue: ${(await lock.contenders()).join(", ")}`);
      // The write applies only if we still hold the lock (else: NoNode, nothing written).
      await zk.multi([lock.fence(), { op: "setData", path: lock.path, data: `last written by ${me}` }]);
      await sleep(300);
    } finally {
      await lock.release();
      console.log(`[${me}] released`);
    }
    await sleep(50);
  }
  await zk.close();
}
