/**
 * A NodeCache follows a znode while another session writes it and deletes it.
 * Run `npm start`, then `npx node examples/node-cache.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { NodeCache } from "../client/recipes/index.ts";
import { open } from "./shared.ts";

const reader = await open("reader");
const writer = await open("writer");
const path = `/examples/flags-${Date.now()}`;
const cache = new NodeCache(reader, path);
cache.on("change", (now) => console.log(now ? `now: ${new TextDecoder().decode(now.data)} (version ${now.stat.version})` : "now: (no node)"));
await cache.start();
await writer.create(path, "off");
await sleep(200);
await writer.setData(path, "on");
await sleep(200);
await writer.delete(path);
await sleep(200);
await cache.close();
await reader.close();
await writer.close();
