/**
 * The HTTP recipes for one-request code (withLock, getConfig) against one `npm start`,
 * over fetch only: 8 concurrent callers, a caller that dies holding the lock (its
 * fetch goes dark, so its lease expires), interplay with the socket Lock, and a
 * server restart on the same state dir.
 *
 * Lease timeouts: 4 s (the least the default 2 s tick grants).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import { type KeeperError, connect } from "../../client/index.ts";
import { type FetchLike, HttpEndpoint, znodeUrl } from "../../client/recipes/http-endpoint.ts";
import { clearConfigCache, getConfig } from "../../client/recipes/http-config.ts";
import { withLock } from "../../client/recipes/http-lock.ts";
import { Lock } from "../../client/recipes/lock.ts";
import { BOOKMARK_HEADER, type Bookmark, decodeBookmark } from "../../protocol/index.ts";
import { occupancy, recipeEnvironment, until } from "../harness/recipe-clients.ts";

const env = recipeEnvironment("recipes-http");
const CONTENDERS = 8;
const TTL_MS = 4_000;

/** A service binding stand-in: counts requests, and can die (every later request fails). */
function binding(base: string) {
  const b = {
    requests: 0,
    dead: false,
    fetch(input: string, init?: RequestInit): Promise<Response> {
      b.requests++;
      if (b.dead) return Promise.reject(new TypeError("the Worker is gone"));
      return fetch(`${base}${new URL(input).pathname}${new URL(input).search}`, init);
    },
  };
  return b satisfies FetchLike;
}

it("withLock: never two holders among 8 concurrent HTTP callers; released on return and on error", async () => {
  const namespace = env.namespace();
  const base = env.server().base;
  const inside = occupancy();
  let runs = 0;
  await Promise.all(
    Array.from({ length: CONTENDERS }, async (_, i) => {
      for (let n = 0; n < 3; n++) {
        const result = await withLock(
          i % 2 ? base : binding(base),
          "/locks/global",
          async (held) => {
            inside.enter();
            runs++;
            expect(held.node).toMatch(/^\/locks\/global\/[0-9a-f]{32}__lock__\d{10}$/);
            await sleep(5);
            inside.leave();
            return `${i}-${n}`;
          },
          { namespace, ttlMs: TTL_MS, timeoutMs: 60_000 },
        );
        expect(result).toBe(`${i}-${n}`);
      }
    }),
  );
  expect(runs).toBe(CONTENDERS * 3);
  expect(inside.max).toBe(1);

  // An error in fn releases the lock too, and is rethrown.
  await expect(withLock(base, "/locks/global", () => Promise.reject(new Error("boom")), { namespace, ttlMs: TTL_MS })).rejects.toThrow("boom");
  const t0 = Date.now();
  await withLock(base, "/locks/global", () => undefined, { namespace, ttlMs: TTL_MS, timeoutMs: 1_000 });
  expect(Date.now() - t0).toBeLessThan(TTL_MS); // not waiting for a lease to expire
  const zk = await env.open(namespace);
  expect((await zk.getChildren("/locks/global")).children).toEqual([]);
});

it("withLock: a caller that dies holding the lock releases it when its lease expires (fault)", async () => {
  const namespace = env.namespace();
  const base = env.server().base;
  const doomed = binding(base);
  let release!: () => void;
  const holding = new Promise<void>((resolve) => (release = resolve));
  const entered = new Promise<void>((resolve) => {
    void withLock(doomed, "/locks/job", async () => {
      resolve();
      await holding;
    }, { namespace, ttlMs: TTL_MS }).catch(() => undefined);
  });
  await entered;
  // The Worker dies: no keep-alive, no release.
  doomed.dead = true;
  const diedAt = Date.now();
  // Meanwhile a waiter times out, and another waits it out.
  await expect(withLock(base, "/locks/job", () => "never", { namespace, ttlMs: TTL_MS, timeoutMs: 500 })).rejects.toMatchObject({ keeperName: "OperationTimeout" } satisfies Partial<KeeperError>);
  const got = await withLock(base, "/locks/job", () => Date.now(), { namespace, ttlMs: TTL_MS, timeoutMs: 30_000 });
  // Not before the lease could have expired (a lease runs from the last keep-alive, up to a third before the death).
  expect(got - diedAt).toBeGreaterThanOrEqual(TTL_MS - TTL_MS / 3 - 100);
  release();
});

it("withLock and the socket Lock exclude each other on the same path", async () => {
  const namespace = env.namespace();
  const zk = await env.open(namespace);
  const lock = new Lock(zk, "/locks/shared");
  expect(await lock.acquire()).toBe(true);
  await expect(withLock(env.server().base, "/locks/shared", () => 1, { namespace, ttlMs: TTL_MS, timeoutMs: 500 })).rejects.toMatchObject({ keeperName: "OperationTimeout" });
  const waiting = withLock(env.server().base, "/locks/shared", () => lock.isAcquired, { namespace, ttlMs: TTL_MS, timeoutMs: 10_000 });
  await until(async () => (await lock.contenders()).length === 2, 10_000, "withLock to queue behind the socket Lock");
  await lock.release();
  expect(await waiting).toBe(false);
  // The fence works over HTTP: a multi with it applies while held.
  await withLock(env.server().base, "/locks/shared", async (held) => {
    const response = await fetch(`${env.server().base}/v1/multi`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-edgekeeper-namespace": namespace, "x-edgekeeper-session": held.sessionHeader },
      body: JSON.stringify({ ops: [held.fence, { op: "create", path: "/fenced", data: "ok" }] }),
    });
    expect(response.status).toBe(200);
  }, { namespace, ttlMs: TTL_MS });
  expect(await lock.acquire({ timeoutMs: 1_000 })).toBe(true);
  await lock.release();
});

it("getConfig: served from the cache, refreshed by long-poll, missing node undefined", async () => {
  clearConfigCache();
  const namespace = env.namespace();
  const writer = await connect({ servers: [env.server().base], namespace, sessionTimeoutMs: TTL_MS });
  try {
    const b = binding(env.server().base);
    const polls: Promise<unknown>[] = [];
    const options = { namespace, waitSeconds: 5, waitUntil: (p: Promise<unknown>) => void polls.push(p) };
    expect(await getConfig(b, "/config/database/url", options)).toBeUndefined();
    await writer.create("/config", "");
    await writer.create("/config/database", "");
    await writer.create("/config/database/url", "jdbc:postgresql://db-1/app");
    await until(async () => (await getConfig(b, "/config/database/url", options)) === "jdbc:postgresql://db-1/app", 10_000, "the created value");
    // Hot path: many reads, no request beyond the long-poll.
    const before = b.requests;
    for (let i = 0; i < 100; i++) expect(await getConfig(b, "/config/database/url", options)).toBe("jdbc:postgresql://db-1/app");
    expect(b.requests - before).toBeLessThanOrEqual(1);
    // 8 writers: converges on the last value.
    const writers = await env.openMany(namespace, CONTENDERS);
    await Promise.all(writers.map(async (zk, w) => {
      for (let i = 0; i < 5; i++) await zk.setData("/config/database/url", `jdbc:postgresql://db-${w}-${i}/app`);
    }));
    // After a sync: a read from a replica sees the session's own writes, not necessarily the other writers' last ones.
    await writer.sync("/config/database/url");
    const last = new TextDecoder().decode((await writer.getData("/config/database/url")).data);
    await until(async () => (await getConfig(b, "/config/database/url", options)) === last, 10_000, "convergence");
    // A parser, and a base URL target with its own cache.
    await writer.create("/config/limits", JSON.stringify({ rps: 7 }));
    expect(await getConfig(env.server().base, "/config/limits", { namespace, parse: JSON.parse, waitSeconds: 2 })).toEqual({ rps: 7 });
    await Promise.all(polls);
  } finally {
    await writer.close();
  }
});

it("getConfig: recovers after a server restart on the same state dir (fault)", async () => {
  clearConfigCache();
  const namespace = env.namespace();
  const base = env.server().base;
  const options = { namespace, waitSeconds: 2, maxStaleMs: 200 };
  const zk = await connect({ servers: [base], namespace, sessionTimeoutMs: 20_000 });
  await zk.create("/flag", "on");
  expect(await getConfig(base, "/flag", options)).toBe("on");
  await env.server().restart();
  await until(async () => {
    try {
      await zk.setData("/flag", "off");
      return true;
    } catch {
      return false;
    }
  }, 30_000, "a write after the restart");
  await until(async () => (await getConfig(base, "/flag", options).catch(() => undefined)) === "off", 15_000, "the value after the restart");
  await zk.close();
});

it("getConfig: a long-poll that never settles (a Worker's cancelled waitUntil) is given up, not trusted forever (fault)", async () => {
  clearConfigCache();
  const namespace = env.namespace();
  const base = env.server().base;
  // Blocking reads go nowhere; plain reads work.
  const stuck = {
    fetch(input: string, init?: RequestInit): Promise<Response> {
      const url = new URL(input);
      if (url.searchParams.has("index")) return new Promise<Response>(() => undefined);
      return fetch(`${base}${url.pathname}${url.search}`, init);
    },
  };
  const zk = await connect({ servers: [base], namespace, sessionTimeoutMs: TTL_MS });
  try {
    await zk.create("/mode", "a");
    const options = { namespace, waitSeconds: 1, maxStaleMs: 0 };
    expect(await getConfig(stuck, "/mode", options)).toBe("a");
    await zk.setData("/mode", "b");
    expect(await getConfig(stuck, "/mode", options)).toBe("a"); // trusted while the round may still answer
    await sleep(6_500); // waitSeconds + 5 s: the round is given up
    expect(await getConfig(stuck, "/mode", options)).toBe("b");
  } finally {
    await zk.close();
  }
});

it("getConfig and withLock refuse a path with a dot segment (BadArguments) before any request, as ZooKeeper's client does", async () => {
  clearConfigCache();
  const namespace = env.namespace();
  const zk = await connect({ servers: [env.server().base], namespace, sessionTimeoutMs: TTL_MS });
  try {
    // URL parsing would turn /public/../secret into /secret: another node than the one named.
    await zk.create("/secret", "not for this caller");
    const b = binding(env.server().base);
    await expect(getConfig(b, "/public/../secret", { namespace })).rejects.toMatchObject({ keeperName: "BadArguments" });
    let ran = false;
    await expect(withLock(b, "/locks/../secret", () => (ran = true), { namespace, ttlMs: TTL_MS })).rejects.toMatchObject({ keeperName: "BadArguments" });
    expect(ran).toBe(false);
    expect(b.requests).toBe(0);
    expect((await zk.getChildren("/secret")).children).toEqual([]);
  } finally {
    await zk.close();
  }
});

it("HttpEndpoint: each request carries the bookmarks earlier answers showed, merged per shard; an answer's bookmark of another namespace is not kept", async () => {
  const namespace = env.namespace();
  const base = env.server().base;
  // Every bookmark the endpoint sends, decoded (undefined: none sent).
  const sent: (Bookmark | undefined)[] = [];
  const recording: FetchLike = {
    fetch(input, init) {
      const header = (init?.headers as Record<string, string> | undefined)?.[BOOKMARK_HEADER];
      sent.push(header ? decodeBookmark(header, namespace) : undefined);
      return fetch(`${base}${new URL(input).pathname}`, init);
    },
  };
  const shown = (headers: Headers, ns = namespace): Bookmark => decodeBookmark(headers.get(BOOKMARK_HEADER)!, ns);
  const http = new HttpEndpoint(recording, { namespace });

  const { shard } = (await http.request<{ mount: { shard: string } }>("POST", "/v1/admin/mounts", { body: { prefix: "/m" } })).body.mount;
  const top = shown((await http.request("POST", znodeUrl("/top"), { body: { data: "t" } })).headers);
  // Sent with an empty bookmark of its own, so its answer shows the mount's shard only.
  const below = shown((await http.request("POST", znodeUrl("/m/x"), { body: { data: "x" }, headers: { [BOOKMARK_HEADER]: "" } })).headers);
  expect([...below.shards.keys()]).toEqual([shard]);
  await http.request("GET", znodeUrl("/top"));
  const merged = sent.at(-1)!;
  expect(merged.shards.get(shard)).toBe(below.shards.get(shard));
  expect(merged.shards.get("root")).toBeGreaterThanOrEqual(top.shards.get("root")!);

  // Another namespace's writes, its root shard then past this one's: its answer's bookmark is not the endpoint's.
  const other = env.namespace();
  const theirs = new HttpEndpoint(base, { namespace: other });
  for (let i = 0; i < 5; i++) await theirs.request("POST", znodeUrl(`/n${i}`));
  const foreign = await http.request("POST", znodeUrl("/n5"), { headers: { "x-edgekeeper-namespace": other, [BOOKMARK_HEADER]: "" } });
  expect(shown(foreign.headers, other).shards.get("root")).toBeGreaterThan(merged.shards.get("root")!);
  await http.request("GET", znodeUrl("/top"));
  expect(sent.at(-1)).toEqual(merged);
});
