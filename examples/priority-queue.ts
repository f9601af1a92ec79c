/**
 * Items put with priorities come out lowest number first.
 * Run `npm start`, then `npx node examples/priority-queue.ts`.
 */
import { PriorityQueue } from "../client/recipes/index.ts";
import { open } from "./shared.ts";

const zk = await open("mailer");
const mail = new PriorityQueue(zk, `/examples/queues/mail-${Date.now()}`);
await mail.put("newsletter", { priority: 500 });
await mail.put("invoice", { priority: 100 });
await mail.put("password reset", { priority: 1 });
for (let item = await mail.poll(); item !== undefined; item = await mail.poll()) {
  console.log("sending", new TextDecoder().decode(item));
}
await zk.close();
