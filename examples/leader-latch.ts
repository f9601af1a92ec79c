/**
 * Three processes keep a LeaderLatch; each leads in turn as the leader before it
 * leaves. Run `npm start`, then `npx node examples/leader-latch.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { LeaderLatch } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["pod-1", "pod-2", "pod-3"]);
if (me) {
  const zk = await open(me);
  const latch = new LeaderLatch(zk, "/examples/latches/compactor", { identifier: me });
  latch.on("isLeader", () => console.log(`[${me}] isLeader`));
  latch.on("notLeader", () => console.log(`[${me}] notLeader`));
  latch.start();
  await latch.await();
  console.log(`[${me}] members: ${(await latch.election.contenders()).join(", ")}`);
  await sleep(700);
  await latch.close();
  await zk.close();
}
