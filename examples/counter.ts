/**
 * Four processes increment one Counter 50 times each; the total is 200.
 * Run `npm start`, then `npx node examples/counter.ts`.
 */
import { Counter } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const path = `/examples/counters/hits-${process.env.EXAMPLE_RUN ?? (process.env.EXAMPLE_RUN = String(Date.now()))}`;
const me = await asProcesses(import.meta.filename, ["a", "b", "c", "d"]);
const zk = await open(me ?? "main");
const hits = new Counter(zk, path);
if (me) {
  for (let i = 0; i < 50; i++) await hits.add(1);
  console.log(`[${me}] done; the counter is at ${await hits.get()} now`);
} else {
  console.log(`total: ${await hits.get()} (expected 200)`);
}
await zk.close();
