/**
 * Three processes join a Party one after another and leave; a watcher prints the
 * members as they change. Run `npm start`, then `npx node examples/party.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Party } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["watcher", "pod-1", "pod-2", "pod-3"]);
if (me) {
  const zk = await open(me);
  const party = new Party(zk, "/examples/parties/workers", { identifier: me });
  if (me === "watcher") {
    const live = await party.watch();
    live.on("change", (members) => console.log(`[watcher] members: ${members.join(", ") || "(none)"}`));
    await sleep(6_000);
    await live.close();
  } else {
    await sleep(Number(me.slice(-1)) * 700);
    await party.join(); // re-joins by itself after an expiry, until leave()
    await sleep(2_000);
    await party.leave();
  }
  await zk.close();
}
