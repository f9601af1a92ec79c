/**
 * One producer puts 30 jobs on a Queue; three consumer processes take them, each job
 * exactly once. Run `npm start`, then `npx node examples/queue.ts`.
 */
import { Queue } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["producer", "c1", "c2", "c3"]);
if (me) {
  const zk = await open(me);
  const jobs = new Queue(zk, "/examples/queues/jobs");
  if (me === "producer") {
    for (let i = 0; i < 30; i++) await jobs.put(JSON.stringify({ job: i }));
    for (let i = 0; i < 3; i++) await jobs.put("stop"); // one per consumer
    console.log(`[${me}] put 30 jobs`);
  } else {
    let done = 0;
    for (;;) {
      const item = await jobs.take({ timeoutMs: 30_000 });
      if (item === undefined || new TextDecoder().decode(item) === "stop") break;
      done++;
      console.log(`[${me}] took ${new TextDecoder().decode(item)}`);
    }
    console.log(`[${me}] took ${done} jobs`);
  }
  await zk.close();
}
