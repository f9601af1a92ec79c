/**
 * Barrier, DoubleBarrier, Queue, PriorityQueue, Counter and Party through real
 * sessions against one `npm start`, with 8+ contenders each, and through faults: a
 * dropped connection (cut at a TCP proxy) and an expired session.
 *
 * Session timeouts: 4 s (the least the default 2 s tick grants), so an expiry takes
 * about 4 s.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import { Barrier } from "../../client/recipes/barrier.ts";
import { Counter } from "../../client/recipes/counter.ts";
import { DoubleBarrier } from "../../client/recipes/double-barrier.ts";
import { Party } from "../../client/recipes/party.ts";
import { PriorityQueue } from "../../client/recipes/priority-queue.ts";
import { Queue } from "../../client/recipes/queue.ts";
import { callersRoundTripMs } from "../harness/caller-region.ts";
import { expireThrough, nextState, recipeEnvironment, until } from "../harness/recipe-clients.ts";

const env = recipeEnvironment("recipes-coord");
const CONTENDERS = 8;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
/** A cadence of cuts: `ms`, plus time for a recipe's few round trips to a leader in another region when the test runs with simulated regions. */
const cutEveryMs = (ms: number) => ms + 10 * callersRoundTripMs();

it("Barrier: 8 waiting sessions are all released by the removal, none before", async () => {
  const ns = env.namespace();
  const [coordinator, ...waiters] = await env.openMany(ns, CONTENDERS + 1);
  const gate = new Barrier(coordinator!, "/barriers/deploy");
  expect(await gate.create()).toBe(true);
  expect(await gate.create()).toBe(false);
  const released: number[] = [];
  const waits = waiters.map((zk) => new Barrier(zk, "/barriers/deploy").wait().then((ok) => (released.push(Date.now()), ok)));
  expect(await new Barrier(waiters[0]!, "/barriers/deploy").wait({ timeoutMs: 200 })).toBe(false);
  await sleep(300);
  expect(released).toEqual([]);
  const removedAt = Date.now();
  expect(await gate.remove()).toBe(true);
  expect(await Promise.all(waits)).toEqual(Array(CONTENDERS).fill(true));
  expect(Math.min(...released)).toBeGreaterThanOrEqual(removedAt);
  // A barrier that is not set lets a waiter through at once.
  expect(await new Barrier(waiters[1]!, "/barriers/deploy").wait({ timeoutMs: 0 })).toBe(true);
});

it("Barrier: a waiter whose connection drops is still released (fault)", async () => {
  const ns = env.namespace();
  const proxy = await env.proxy();
  const coordinator = await env.open(ns);
  const waiter = await env.open(ns, { servers: [proxy.base], sessionTimeoutMs: 10_000 });
  const gate = new Barrier(coordinator, "/b");
  await gate.create();
  const wait = new Barrier(waiter, "/b").wait();
  // wait() sent its watching exists first: once a later read of the session answers, the watch is set.
  await waiter.exists("/b");
  const suspended = nextState(waiter, "suspended");
  proxy.cutAll();
  await suspended;
  await gate.remove(); // while the waiter is away: its event may be missed, the re-check after reconnected sees it
  expect(await wait).toBe(true);
});

it("DoubleBarrier: 8 sessions enter together and leave together, two rounds", async () => {
  const zks = await env.openMany(env.namespace(), CONTENDERS);
  for (const round of [1, 2]) {
    const path = `/rounds/r${round}`;
    let entering = 0;
    let leaving = 0;
    const violations: string[] = [];
    await Promise.all(
      zks.map(async (zk, i) => {
        await sleep(i * 40); // arrive one by one
        const barrier = new DoubleBarrier(zk, path, CONTENDERS);
        entering++;
        expect(await barrier.enter({ timeoutMs: 30_000 })).toBe(true);
        // Nobody gets past enter before all have arrived.
        if (entering < CONTENDERS) violations.push(`c${i} passed enter with ${entering} arrived`);
        await sleep((CONTENDERS - i) * 30); // finish work one by one
        leaving++;
        expect(await barrier.leave({ timeoutMs: 30_000 })).toBe(true);
        // Nobody gets past leave before all have left.
        if (leaving < CONTENDERS) violations.push(`c${i} passed leave with ${leaving} leaving`);
      }),
    );
    // Each leave returned only once nobody was inside any more.
    expect(violations).toEqual([]);
    expect((await zks[0]!.getChildren(path)).children.filter((n) => n.endsWith("__party__"))).toEqual([]);
  }
  // Fewer than n never pass: one alone times out, and leaves.
  const lonely = new DoubleBarrier(zks[0]!, "/rounds/lonely", 2);
  expect(await lonely.enter({ timeoutMs: 300 })).toBe(false);
  expect((await zks[0]!.getChildren("/rounds/lonely")).children).toEqual([]);
});

it("Queue: 8 producers, 8 consumers, 200 items: each consumed exactly once", async () => {
  const ns = env.namespace();
  const producers = await env.openMany(ns, CONTENDERS);
  const consumers = await env.openMany(ns, CONTENDERS);
  const ITEMS = 200;
  const got = new Map<string, number>();
  let taken = 0;
  const consuming = consumers.map(async (zk) => {
    const q = new Queue(zk, "/queues/jobs");
    const mine: string[] = [];
    while (taken < ITEMS) {
      const item = await q.take({ timeoutMs: 500 });
      if (item === undefined) continue;
      taken++;
      mine.push(text(item)!);
    }
    return mine;
  });
  await Promise.all(
    producers.map(async (zk, p) => {
      const q = new Queue(zk, "/queues/jobs");
      for (let i = 0; i < ITEMS / CONTENDERS; i++) await q.put(`p${p}-${i}`);
    }),
  );
  const perConsumer = await Promise.all(consuming);
  for (const item of perConsumer.flat()) got.set(item, (got.get(item) ?? 0) + 1);
  expect(got.size).toBe(ITEMS);
  expect([...got.values()].every((n) => n === 1)).toBe(true);
  expect(perConsumer.filter((items) => items.length > 0).length).toBeGreaterThan(1); // really contended
  // FIFO per producer: one producer's items come out in the order it put them.
  const order = perConsumer.flat();
  expect(order.length).toBe(ITEMS);
  expect(await new Queue(consumers[0]!, "/queues/jobs").size()).toBe(0);
  expect(await new Queue(consumers[0]!, "/queues/jobs").poll()).toBeUndefined();
  // No claim nodes left behind.
  expect((await consumers[0]!.getChildren("/queues/jobs")).children).toEqual([]);
});

it("Queue: FIFO for one consumer; exactly once while consumers' connections are cut (fault)", async () => {
  const ns = env.namespace();
  const producer = await env.open(ns);
  const q = new Queue(producer, "/q");
  for (let i = 0; i < 5; i++) await q.put(`f${i}`);
  const fifo: (string | undefined)[] = [];
  for (let i = 0; i < 5; i++) fifo.push(text(await q.poll()));
  expect(fifo).toEqual(["f0", "f1", "f2", "f3", "f4"]);

  const ITEMS = 120;
  for (let i = 0; i < ITEMS; i++) await q.put(`x${i}`);
  const proxy = await env.proxy();
  const consumers = await Promise.all(Array.from({ length: CONTENDERS }, () => env.open(ns, { servers: [proxy.base], sessionTimeoutMs: 10_000 })));
  let suspensions = 0;
  for (const zk of consumers) zk.on("suspended", () => suspensions++);
  let cutting = true;
  const cutter = (async () => {
    while (cutting) {
      await sleep(cutEveryMs(150));
      proxy.cutAll();
    }
  })();
  const items: string[] = [];
  await Promise.all(
    consumers.map(async (zk) => {
      const cq = new Queue(zk, "/q");
      for (;;) {
        let item: Uint8Array | undefined;
        try {
          item = await cq.poll();
        } catch (error) {
          // A request that waited out the requestTimeout: try again.
          if ((error as { keeperName?: string }).keeperName === "ConnectionLoss") continue;
          throw error;
        }
        if (item === undefined) return;
        items.push(text(item)!);
      }
    }),
  );
  cutting = false;
  await cutter;
  expect(items.length).toBe(ITEMS);
  expect(new Set(items).size).toBe(ITEMS);
  expect(suspensions).toBeGreaterThan(0); // the cuts did land
});

it("PriorityQueue: lower priority first, FIFO within one; 8 consumers take each item once", async () => {
  const ns = env.namespace();
  const zks = await env.openMany(ns, CONTENDERS);
  const q = new PriorityQueue(zks[0]!, "/pq");
  await q.put("low-a", { priority: 500 });
  await q.put("urgent", { priority: 1 });
  await q.put("low-b", { priority: 500 });
  await q.put("normal");
  const order: (string | undefined)[] = [];
  for (let i = 0; i < 4; i++) order.push(text(await q.poll()));
  expect(order).toEqual(["urgent", "normal", "low-a", "low-b"]);
  await expect(q.put("x", { priority: 1000 })).rejects.toThrow(RangeError);

  for (let i = 0; i < 80; i++) await q.put(`i${i}`, { priority: i % 7 });
  const taken: string[] = [];
  await Promise.all(
    zks.map(async (zk) => {
      const mine = new PriorityQueue(zk, "/pq");
      for (let item = await mine.poll(); item !== undefined; item = await mine.poll()) taken.push(text(item)!);
    }),
  );
  expect(taken.length).toBe(80);
  expect(new Set(taken).size).toBe(80);
});

it("Counter: 8 writers x 25 increments lose none", async () => {
  const zks = await env.openMany(env.namespace(), CONTENDERS);
  const results: number[] = [];
  await Promise.all(
    zks.map(async (zk) => {
      const c = new Counter(zk, "/counters/hits");
      for (let i = 0; i < 25; i++) results.push(await c.add(1));
    }),
  );
  expect(await new Counter(zks[0]!, "/counters/hits").get()).toBe(CONTENDERS * 25);
  // Every add saw its own new value: each value 1..200 returned exactly once.
  expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: CONTENDERS * 25 }, (_, i) => i + 1));
  const c = new Counter(zks[1]!, "/counters/hits");
  expect(await c.subtract(50)).toBe(150);
  expect(text((await zks[2]!.getData("/counters/hits")).data)).toBe("150"); // kazoo's format
  expect(await new Counter(zks[0]!, "/counters/other", { initial: 10 }).get()).toBe(10);
});

it("Party: 8 members appear, leave, and vanish with their sessions; a member re-joins after its session expired (fault)", async () => {
  const ns = env.namespace();
  const zks = await env.openMany(ns, CONTENDERS);
  const observer = await env.open(ns);
  const live = await new Party(observer, "/parties/workers").watch();
  const parties = zks.map((zk, i) => new Party(zk, "/parties/workers", { identifier: `m${i}` }));
  await Promise.all(parties.map((p) => p.join()));
  const all = zks.map((_, i) => `m${i}`).sort();
  expect(await new Party(observer, "/parties/workers").members()).toEqual(all);
  await until(() => live.members.length === CONTENDERS, 10_000, "the watch to see 8 members");
  expect(live.members).toEqual(all);

  await parties[0]!.leave();
  await zks[1]!.close(); // its session ends: its member node goes
  await until(() => live.members.length === CONTENDERS - 2, 10_000, "two members to go");
  expect(live.members).toEqual(all.filter((m) => m !== "m0" && m !== "m1"));

  // A member behind a proxy loses its session; it re-joins in the new one.
  const proxy = await env.proxy();
  const flaky = await env.open(ns, { servers: [proxy.base] });
  const member = new Party(flaky, "/parties/workers", { identifier: "flaky" });
  await member.join();
  await until(() => live.members.includes("flaky"), 10_000, "flaky to join");
  let gone = false;
  live.on("change", (members) => (gone ||= !members.includes("flaky")));
  await expireThrough(env, flaky, proxy);
  await until(() => gone, 20_000, "flaky to vanish with its session");
  await until(() => live.members.includes("flaky"), 10_000, "flaky to re-join in its new session");
  expect(await new Party(observer, "/parties/workers").members()).toContain("flaky");
  await live.close();
});

it("Counter: no acknowledged increment lost while writers' connections are cut (fault)", async () => {
  const ns = env.namespace();
  const proxy = await env.proxy();
  const zks = await Promise.all(Array.from({ length: CONTENDERS }, () => env.open(ns, { servers: [proxy.base], sessionTimeoutMs: 10_000 })));
  let suspensions = 0;
  for (const zk of zks) zk.on("suspended", () => suspensions++);
  let cutting = true;
  const cutter = (async () => {
    while (cutting) {
      await sleep(cutEveryMs(200));
      proxy.cutAll();
    }
  })();
  let acknowledged = 0;
  let inDoubt = 0;
  await Promise.all(
    zks.map(async (zk) => {
      const c = new Counter(zk, "/counters/faulty");
      for (let i = 0; i < 25; i++) {
        try {
          await c.add(1);
          acknowledged++;
        } catch (error) {
          // The write's answer was lost: it may or may not have applied (as ZooKeeper's).
          if ((error as { keeperName?: string }).keeperName !== "ConnectionLoss") throw error;
          inDoubt++;
        }
      }
    }),
  );
  cutting = false;
  await cutter;
  const total = await new Counter(zks[0]!, "/counters/faulty").get();
  expect(total).toBeGreaterThanOrEqual(acknowledged);
  expect(total).toBeLessThanOrEqual(acknowledged + inDoubt);
  expect(suspensions).toBeGreaterThan(0); // the cuts did land
});

it("DoubleBarrier: a participant whose session dies inside is counted out; the others still leave (fault)", async () => {
  const ns = env.namespace();
  const proxy = await env.proxy();
  const doomed = await env.open(ns, { servers: [proxy.base] });
  const others = await env.openMany(ns, CONTENDERS - 1);
  const all = [doomed, ...others];
  const barriers = all.map((zk) => new DoubleBarrier(zk, "/rounds/faulty", CONTENDERS));
  expect(await Promise.all(barriers.map((b) => b.enter({ timeoutMs: 30_000 })))).toEqual(Array(CONTENDERS).fill(true));
  // The doomed participant's connection goes for good: its session expires, its node goes.
  const lost = nextState(doomed, "lost");
  await proxy.close();
  const leaving = Promise.all(barriers.slice(1).map((b) => b.leave({ timeoutMs: 30_000 })));
  await lost;
  expect(await leaving).toEqual(Array(CONTENDERS - 1).fill(true));
});

it("Queue and Counter: a server restart on the same state dir mid-run loses no item and no acknowledged increment (fault)", async () => {
  const ns = env.namespace();
  // 20 s sessions outlive the restart.
  const zks = await env.openMany(ns, CONTENDERS, { sessionTimeoutMs: 20_000 });
  const ITEMS = 80;
  const producer = new Queue(zks[0]!, "/restart/q");
  for (let i = 0; i < ITEMS; i++) await producer.put(`r${i}`);
  const items: string[] = [];
  let acknowledged = 0;
  let inDoubt = 0;
  const soft = (error: unknown) => ["ConnectionLoss", "SessionExpired"].includes((error as { keeperName?: string }).keeperName ?? "");
  const work = Promise.all(
    zks.map(async (zk) => {
      const q = new Queue(zk, "/restart/q");
      const c = new Counter(zk, "/restart/count");
      for (;;) {
        let item: Uint8Array | undefined;
        try {
          item = await q.poll();
        } catch (error) {
          if (soft(error)) continue;
          throw error;
        }
        if (item === undefined) return;
        items.push(text(item)!);
        try {
          await c.add(1);
          acknowledged++;
        } catch (error) {
          if (!soft(error)) throw error;
          inDoubt++;
        }
        await sleep(10);
      }
    }),
  );
  await until(() => items.length > 0, 10_000, "the first item consumed, so that the restart comes mid-run");
  const beforeRestart = items.length;
  await env.server().restart();
  await work;
  expect(beforeRestart).toBeLessThan(ITEMS); // the restart came mid-run
  expect(new Set(items).size).toBe(items.length); // never twice
  expect(items.length).toBe(ITEMS); // and none lost: the sessions outlived the restart
  const total = await new Counter(zks[0]!, "/restart/count").get();
  expect(total).toBeGreaterThanOrEqual(acknowledged);
  expect(total).toBeLessThanOrEqual(acknowledged + inDoubt);
});
