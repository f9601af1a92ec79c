/**
 * Three readers and one writer share a ReadWriteLock, as processes: readers overlap,
 * the writer is alone. Run `npm start`, then `npx node examples/read-write-lock.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ReadWriteLock } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["reader-1", "reader-2", "reader-3", "writer"]);
if (me) {
  const zk = await open(me);
  const rw = new ReadWriteLock(zk, "/examples/locks/catalog", { identifier: me });
  const lock = me === "writer" ? rw.writeLock : rw.readLock;
  for (let n = 1; n <= 2; n++) {
    await lock.acquire();
    console.log(`[${me}] in (${me === "writer" ? "alone" : "shared"}) at ${new Date().toISOString().slice(17, 23)}`);
    await sleep(400);
    console.log(`[${me}] out`);
    await lock.release();
  }
  await zk.close();
}
