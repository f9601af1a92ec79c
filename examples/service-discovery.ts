/**
 * Two service processes register "api" instances; a client process watches them and
 * picks one round robin. Stopping a service process (its session ends) removes its
 * instance. Run `npm start`, then `npx node examples/service-discovery.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ServiceDiscovery } from "../client/recipes/index.ts";
import { asProcesses, open } from "./shared.ts";

const me = await asProcesses(import.meta.filename, ["client", "api-1", "api-2"]);
if (me) {
  const zk = await open(me);
  const discovery = new ServiceDiscovery(zk, { basePath: "/examples/services" });
  if (me === "client") {
    const api = await discovery.provider("api", { strategy: "round-robin" });
    api.cache.on("change", (list) => console.log(`[client] instances: ${list.map((i) => `${i.id}@${i.address}:${i.port}`).join(", ") || "(none)"}`));
    for (let i = 0; i < 12; i++) {
      const target = api.pick();
      console.log(`[client] pick: ${target ? `${target.address}:${target.port}` : "(none listed)"}`);
      await sleep(500);
    }
    await api.close();
  } else {
    const port = me === "api-1" ? 8081 : 8082;
    const reg = await discovery.register({ name: "api", id: me, address: "127.0.0.1", port, metadata: { version: "1.4.2" } });
    // A registration re-creates itself after an expiry; tell the operator when it does.
    reg.onRecreated(() => console.log(`[${me}] registration re-created in a new session`));
    await sleep(me === "api-1" ? 2_500 : 5_000);
    await reg.update({ health: "draining" });
    await sleep(500);
    await reg.unregister();
  }
  await zk.close();
}
