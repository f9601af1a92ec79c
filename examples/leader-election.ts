/**
 * Three processes stand for election; the leader leads for a second and resigns, the
 * next takes over; an observer prints every leader. Run `npm start`, then
 * `npx node examples/leader-election.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { LeaderElection } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["observer", "node-a", "node-b", "node-c"]);
if (me === "observer") {
  const zk = await open(me);
  const stop = AbortSignal.timeout(6_000);
  for await (const leader of new LeaderElection(zk, "/examples/elections/scheduler").observe({ signal: stop })) {
    console.log(`[observer] leader: ${leader ?? "(none)"}`);
  }
  await zk.close();
} else if (me) {
  const zk = await open(me);
  const election = new LeaderElection(zk, "/examples/elections/scheduler", { identifier: me });
  await election.run(async (lost) => {
    console.log(`[${me}] leading`);
    for (let i = 0; i < 10 && !lost.aborted; i++) await sleep(100);
    console.log(`[${me}] resigning`);
  });
  await zk.close();
}
