/**
 * A coordinator holds three worker processes at a Barrier, then lifts it.
 * Run `npm start`, then `npx node examples/barrier.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Barrier } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["coordinator", "w1", "w2", "w3"]);
if (me) {
  const zk = await open(me);
  const gate = new Barrier(zk, "/examples/barriers/deploy");
  if (me === "coordinator") {
    await gate.create();
    console.log(`[${me}] barrier set; lifting it in 2 s`);
    await sleep(2_000);
    await gate.remove();
    console.log(`[${me}] barrier lifted`);
  } else {
    await sleep(300); // let the coordinator set it first
    console.log(`[${me}] waiting at the barrier`);
    console.log(`[${me}] released: ${await gate.wait({ timeoutMs: 30_000 })}`);
  }
  await zk.close();
}
