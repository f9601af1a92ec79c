/**
 * PersistentNode, ServiceDiscovery, NodeCache, configValue and TreeCache through
 * real sessions against one `npm start`: 8 registering sessions and 8 writers, and
 * faults: a dropped connection (cut at a TCP proxy), an expired session (its proxy
 * closed for longer than the timeout) and a server restart on the same state dir.
 *
 * Session timeouts: 4 s (the least the default 2 s tick grants) where a test waits for
 * an expiry; 20 s for the restart test, so sessions outlive the restart.
 */
import { expect, it } from "vitest";
import { configValue } from "../../client/recipes/config-value.ts";
import { NodeCache } from "../../client/recipes/node-cache.ts";
import { PersistentNode } from "../../client/recipes/persistent-node.ts";
import { type ServiceInstance, ServiceDiscovery } from "../../client/recipes/service-discovery.ts";
import { TreeCache } from "../../client/recipes/tree-cache.ts";
import { expireThrough, nextState, recipeEnvironment, until } from "../harness/recipe-clients.ts";

const env = recipeEnvironment("recipes-disc");
const CONTENDERS = 8;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const ids = (list: ServiceInstance[]) => list.map((i) => i.id).sort();

it("ServiceDiscovery: 8 instances appear, vanish with their sessions, and are picked by each strategy", async () => {
  const ns = env.namespace();
  const servers = await env.openMany(ns, CONTENDERS);
  const clientZk = await env.open(ns);
  const discovery = new ServiceDiscovery(clientZk);
  const cache = await discovery.watch("api");
  const changes: number[] = [];
  cache.on("change", (list) => changes.push(list.length));
  const regs = await Promise.all(
    servers.map((zk, i) => new ServiceDiscovery(zk).register({ name: "api", id: `api-${i}`, address: `10.0.0.${i}`, port: 8000 + i, metadata: { zone: i % 2 ? "eu" : "us" } })),
  );
  const expected = servers.map((_, i) => `api-${i}`).sort();
  expect(ids(await discovery.instances("api"))).toEqual(expected);
  expect(await discovery.services()).toEqual(["api"]);
  await until(() => cache.instances.length === CONTENDERS, 10_000, "the cache to list 8");
  const one = cache.instances.find((i) => i.id === "api-3")!;
  expect(one).toMatchObject({ name: "api", address: "10.0.0.3", port: 8003, metadata: { zone: "eu" }, health: "healthy" });

  // Round robin visits every instance; sticky keeps one; random stays within the list.
  const rr = await discovery.provider("api", { strategy: "round-robin" });
  await until(() => rr.cache.instances.length === CONTENDERS, 10_000, "the provider's cache");
  expect(new Set(Array.from({ length: CONTENDERS }, () => rr.pick()!.id)).size).toBe(CONTENDERS);
  const sticky = await discovery.provider("api", { strategy: "sticky" });
  await until(() => sticky.cache.instances.length === CONTENDERS, 10_000, "the sticky cache");
  const first = sticky.pick()!.id;
  expect(Array.from({ length: 10 }, () => sticky.pick()!.id).every((id) => id === first)).toBe(true);
  const random = await discovery.provider("api", { strategy: "random" });
  await until(() => random.cache.instances.length === CONTENDERS, 10_000, "the random cache");
  expect(expected).toContain(random.pick()!.id);

  // Health: an unhealthy instance is listed but not picked.
  await regs[0]!.update({ health: "unhealthy" });
  await until(() => rr.cache.instances.find((i) => i.id === "api-0")?.health === "unhealthy", 10_000, "the health change");
  expect(Array.from({ length: 20 }, () => rr.pick()!.id)).not.toContain("api-0");

  // The sticky pick's session dies: it vanishes, and sticky moves to another.
  const stuckIndex = Number(first.slice(4));
  await servers[stuckIndex]!.close();
  await regs[(stuckIndex + 1) % CONTENDERS]!.unregister();
  await until(() => cache.instances.length === CONTENDERS - 2, 10_000, "two instances to vanish");
  await until(() => sticky.cache.instances.length === CONTENDERS - 2, 10_000, "the sticky cache to follow");
  expect(sticky.pick()!.id).not.toBe(first);
  expect(ids(await discovery.instances("api")).length).toBe(CONTENDERS - 2);
  expect(changes.length).toBeGreaterThan(0);
  for (const p of [rr, sticky, random]) await p.close();
  await cache.close();
});

it("ServiceDiscovery: a registration is re-created in the client's new session after its session expired (fault)", async () => {
  const ns = env.namespace();
  const proxy = await env.proxy();
  const serverZk = await env.open(ns, { servers: [proxy.base] });
  const watcherZk = await env.open(ns);
  const reg = await new ServiceDiscovery(serverZk).register({ name: "db", id: "db-1", address: "10.1.0.1", port: 5432 });
  await reg.update({ metadata: { role: "primary" } });
  const cache = await new ServiceDiscovery(watcherZk).watch("db");
  expect(cache.instances.map((i) => i.id)).toEqual(["db-1"]);
  const oldOwner = (await watcherZk.exists("/services/db/db-1"))!.ephemeralOwner;
  const recreated = new Promise<string>((resolve) => reg.onRecreated(resolve));
  // The gap between the old node's deletion and its re-creation may be short: listen, don't poll.
  let vanished = false;
  cache.on("change", (list) => (vanished ||= list.length === 0));
  await expireThrough(env, serverZk, proxy);
  await until(() => vanished, 20_000, "the instance to vanish with its session");
  expect(await recreated).toBe("/services/db/db-1");
  await until(() => cache.instances.length === 1, 10_000, "the instance to be listed again");
  const stat = (await watcherZk.exists("/services/db/db-1"))!;
  expect(stat.ephemeralOwner).toBe(serverZk.sessionId);
  expect(stat.ephemeralOwner).not.toBe(oldOwner);
  // The re-created node carries the latest payload.
  expect(cache.instances[0]).toMatchObject({ id: "db-1", metadata: { role: "primary" } });
  // Deleted by someone else while live: re-created as well.
  await watcherZk.delete("/services/db/db-1");
  await until(async () => (await watcherZk.exists("/services/db/db-1")) !== null, 10_000, "re-creation after a delete");
  await reg.unregister();
  await until(() => cache.instances.length === 0, 10_000, "unregister");
  await cache.close();
});

it("PersistentNode: sequential mode keeps one node, re-created after a deletion", async () => {
  const [zk, other] = await env.openMany(env.namespace(), 2);
  const node = new PersistentNode(zk!, "/members/m-", "hello", { mode: "EPHEMERAL_SEQUENTIAL" });
  await node.start();
  const firstPath = node.path!;
  expect(firstPath).toMatch(/^\/members\/m-\d{10}$/);
  await other!.delete(firstPath);
  await until(() => node.path !== firstPath, 10_000, "a new sequential node");
  await until(async () => (await other!.getChildren("/members")).children.length === 1, 10_000, "one node");
  await node.setData("changed");
  expect(text((await other!.getData(node.path!)).data)).toBe("changed");
  await node.close();
  expect((await other!.getChildren("/members")).children).toEqual([]);
});

it("NodeCache and configValue: 8 writers; every cache converges to the last value written", async () => {
  const ns = env.namespace();
  const writers = await env.openMany(ns, CONTENDERS);
  const readers = await env.openMany(ns, 3);
  await writers[0]!.create("/config", "");
  await writers[0]!.create("/config/database", "");
  const url = await configValue(readers[0]!, "/config/database/url", { defaultValue: "jdbc:none" });
  expect(url.value).toBe("jdbc:none"); // not there yet
  const cache = new NodeCache(readers[1]!, "/config/database/url");
  const seen: (string | undefined)[] = [];
  cache.on("change", (now) => seen.push(text(now?.data)));
  await cache.start();
  const parsed = await configValue(readers[2]!, "/config/database/url", { parse: (b) => text(b)!.length });
  await writers[0]!.create("/config/database/url", "jdbc:postgresql://db-0/app");
  await until(() => url.value === "jdbc:postgresql://db-0/app", 10_000, "the first value");
  await Promise.all(
    writers.map(async (zk, w) => {
      for (let i = 0; i < 10; i++) await zk.setData("/config/database/url", `jdbc:postgresql://db-${w}-${i}/app`);
    }),
  );
  // After a sync, as ZooKeeper asks: a read from a replica sees the session's own
  // writes, not necessarily the other writers' last ones.
  await writers[0]!.sync("/config/database/url");
  const last = text((await writers[0]!.getData("/config/database/url")).data)!;
  await until(() => url.value === last && text(cache.current?.data) === last && parsed.value === last.length, 10_000, "convergence");
  expect(url.stat?.version).toBe(CONTENDERS * 10);
  expect(seen.at(-1)).toBe(last);
  // Deleted: back to the default; created again: the new value.
  await writers[1]!.delete("/config/database/url");
  await until(() => url.value === "jdbc:none" && cache.current === undefined, 10_000, "the deletion");
  await writers[1]!.create("/config/database/url", "jdbc:mysql://db/app");
  await until(() => url.value === "jdbc:mysql://db/app", 10_000, "the re-creation");
  await url.close();
  await cache.close();
  await parsed.close();
});

it("configValue: stays current through a dropped connection and an expired session (fault)", async () => {
  const ns = env.namespace();
  let proxy = await env.proxy();
  const reader = await env.open(ns, { servers: [proxy.base] });
  const writer = await env.open(ns);
  await writer.create("/flag", "a");
  const flag = await configValue(reader, "/flag");
  expect(flag.value).toBe("a");
  // Cut: the change made while away is seen after reconnected (re-read), not lost.
  const suspended = nextState(reader, "suspended");
  const reconnected = nextState(reader, "reconnected");
  proxy.cutAll();
  await suspended;
  await writer.setData("/flag", "b");
  await reconnected;
  await until(() => flag.value === "b", 10_000, "the value written while cut");
  // Expired: the watch is set again in the new session.
  const lost = nextState(reader, "lost");
  const port = Number(new URL(proxy.base).port);
  await proxy.close();
  await writer.setData("/flag", "c");
  await lost;
  proxy = await env.proxy(port);
  // The new session's read that showed "c" also set its watch.
  await until(() => flag.value === "c", 15_000, "the value written while expired");
  await writer.setData("/flag", "d");
  await until(() => flag.value === "d", 10_000, "a change after the new session");
  await flag.close();
});

it("TreeCache: a subtree kept current under 8 writers, through a dropped connection (fault)", async () => {
  const ns = env.namespace();
  const proxy = await env.proxy();
  const reader = await env.open(ns, { servers: [proxy.base], sessionTimeoutMs: 10_000 });
  const writers = await env.openMany(ns, CONTENDERS);
  await writers[0]!.create("/app", "root");
  await writers[0]!.create("/app/old", "x");
  const tree = new TreeCache(reader, "/app");
  const types = new Map<string, number>();
  tree.on("change", (c) => types.set(c.type, (types.get(c.type) ?? 0) + 1));
  await tree.start();
  expect(tree.children("/app")).toEqual(["old"]);
  await Promise.all(
    writers.map(async (zk, w) => {
      await zk.create(`/app/w${w}`, "0");
      for (let i = 1; i <= 5; i++) await zk.setData(`/app/w${w}`, String(i));
      await zk.create(`/app/w${w}/leaf`, `leaf-${w}`);
      if (w === 3) proxy.cutAll(); // the reader's socket drops mid-way
    }),
  );
  await writers[0]!.delete("/app/old");
  const expectTree = () =>
    tree.children("/app").join(",") === writers.map((_, w) => `w${w}`).join(",") &&
    writers.every((_, w) => text(tree.get(`/app/w${w}`)?.data) === "5" && text(tree.get(`/app/w${w}/leaf`)?.data) === `leaf-${w}`);
  await until(expectTree, 15_000, "the tree to converge");
  expect(tree.get("/app/old")).toBeUndefined();
  expect(types.get("added")).toBeGreaterThanOrEqual(CONTENDERS * 2);
  expect(types.get("removed")).toBeGreaterThanOrEqual(1);
  // Depth-limited: children only.
  const shallow = new TreeCache(writers[0]!, "/app", { maxDepth: 1 });
  await shallow.start();
  expect(shallow.get("/app/w0/leaf")).toBeUndefined();
  expect(text(shallow.get("/app/w0")?.data)).toBe("5");
  await shallow.close();
  await tree.close();
});

it("configValue and ServiceDiscovery: a server restart on the same state dir (fault)", async () => {
  const ns = env.namespace();
  const reader = await env.open(ns, { sessionTimeoutMs: 20_000 });
  const registrant = await env.open(ns, { sessionTimeoutMs: 20_000 });
  const writer = await env.open(ns, { sessionTimeoutMs: 20_000 });
  await writer.create("/cfg", "before");
  const cfg = await configValue(reader, "/cfg");
  await new ServiceDiscovery(registrant).register({ name: "web", id: "web-1", address: "10.2.0.1" });
  const services = await new ServiceDiscovery(reader).watch("web");
  expect(services.instances.length).toBe(1);
  await env.server().restart();
  await until(async () => {
    try {
      await writer.setData("/cfg", "after");
      return true;
    } catch {
      return false;
    }
  }, 30_000, "a write after the restart");
  await until(() => cfg.value === "after", 20_000, "the value written after the restart");
  // The registration is there (its session resumed, or it was re-created in a new one).
  await until(async () => (await new ServiceDiscovery(writer).instances("web")).length === 1, 30_000, "the instance after the restart");
  await until(() => services.instances.length === 1, 10_000, "the cache after the restart");
  await cfg.close();
  await services.close();
});
