/**
 * The classic configuration case: `/config/database/url` holds a JDBC URL, and one
 * line gets a value that is always current. Run `npm start`, then
 * `npx node examples/config-value.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { configValue } from "../client/recipes/index.ts";
import { open } from "./shared.ts";

const app = await open("app");
const ops = await open("ops");
for (const path of ["/config", "/config/database"]) await ops.create(path).catch(() => undefined);
await ops.create("/config/database/url", "jdbc:postgresql://db-1:5432/app").catch(() => ops.setData("/config/database/url", "jdbc:postgresql://db-1:5432/app"));

const url = await configValue(app, "/config/database/url");
console.log("connecting to", url.value);
url.on("change", (next, before) => console.log(`database URL changed: ${before} -> ${next}`));

await ops.setData("/config/database/url", "jdbc:postgresql://db-2:5432/app"); // a failover
await sleep(300);
console.log("url.value is now", url.value);
await url.close();
await app.close();
await ops.close();
