/**
 * getConfig from Node over plain HTTP (the same code runs in a Worker; see
 * examples/workers/config/): the value is served from memory and follows a change
 * by long-poll. Run `npm start`, then `npx node examples/get-config.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { getConfig } from "../client/recipes/http-config.ts";
import { SERVER } from "./shared.ts";

const path = `/example-feature-${Date.now()}`;
await fetch(`${SERVER}/v1/znodes${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data: "off" }) });
console.log("feature:", await getConfig(SERVER, path, { waitSeconds: 3 }));
await fetch(`${SERVER}/v1/znodes${path}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ data: "on" }) });
await sleep(300); // the long-poll answers as soon as the node changes
console.log("feature:", await getConfig(SERVER, path, { waitSeconds: 3 }));
