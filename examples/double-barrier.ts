/**
 * Four processes enter a DoubleBarrier together, work for different times, and leave
 * together. Run `npm start`, then `npx node examples/double-barrier.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { DoubleBarrier } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const names = ["a", "b", "c", "d"];
const me = await asProcesses(import.meta.filename, names);
if (me) {
  const zk = await open(me);
  const barrier = new DoubleBarrier(zk, `/examples/rounds/${Math.floor(Date.now() / 60_000)}`, names.length);
  // Inside, a lost session means we were counted out: stop this round.
  zk.on("lost", () => console.log(`[${me}] lost: out of the round`));
  await sleep(Math.random() * 1_000);
  console.log(`[${me}] entering`);
  await barrier.enter({ timeoutMs: 30_000 });
  console.log(`[${me}] all ${names.length} are in; working`);
  await sleep(Math.random() * 1_500);
  console.log(`[${me}] done, leaving`);
  await barrier.leave({ timeoutMs: 30_000 });
  console.log(`[${me}] all have left`);
  await zk.close();
}
