/**
 * The recipes (client/recipes/) through real sessions against one `npm start`:
 * each guarantee under contention of 8+ sessions, then under faults: a dropped
 * connection (cut at a TCP proxy), a killed client (its proxy gone, so its session
 * expires at the server), a server restart on the same state dir, and fencing of a
 * holder whose session expired.
 *
 * Session timeouts: 4 s (the least the default 2 s tick grants) where a test waits
 * for an expiry; 20 s for the restart test, so sessions outlive the restart.
 * Overlap is detected with counters shared by every contender of this process.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import { isKeeperError } from "../../client/index.ts";
import { LeaderElection, LeaderLatch, Lock, ReadWriteLock, Semaphore } from "../../client/recipes/index.ts";
import { SHORT_TIMEOUT_MS, nextState, occupancy, portOf, recipeEnvironment, until } from "../harness/recipe-clients.ts";

const CONTENDERS = 8;
/** How long a Semaphore holder keeps its lease waiting for another to take one: a limit, not a speed assertion. */
const SHARING_LIMIT_MS = 10_000;

const env = recipeEnvironment("recipes");
const { open, openMany, proxy } = env;

it("Lock: never two holders among 8 sessions, each acquiring 5 times", async () => {
  const zks = await openMany(env.namespace(), CONTENDERS);
  const inside = occupancy();
  let acquisitions = 0;
  await Promise.all(
    zks.map(async (zk, i) => {
      const lock = new Lock(zk, "/locks/shared", { identifier: `c${i}` });
      for (let n = 0; n < 5; n++) {
        expect(await lock.acquire({ timeoutMs: 60_000 })).toBe(true);
        inside.enter();
        acquisitions++;
        // The fence is good while held.
        await zk.multi([lock.fence(), { op: "check", path: "/locks/shared" }]);
        await sleep(2);
        inside.leave();
        await lock.release();
      }
    }),
  );
  expect(acquisitions).toBe(CONTENDERS * 5);
  expect(inside.max).toBe(1);
  // Nothing left behind: every waiter's node was deleted.
  expect((await zks[0]!.getChildren("/locks/shared").catch(() => ({ children: [] }))).children).toEqual([]);
});

it("Lock: re-entrant per object; timeouts give up and leave the queue; the queue is served in order", async () => {
  const [a, b, c] = await openMany(env.namespace(), 3);
  const la = new Lock(a!, "/l", { identifier: "a" });
  const lb = new Lock(b!, "/l", { identifier: "b" });
  expect(await la.acquire()).toBe(true);
  expect(await la.acquire({ timeoutMs: 0 })).toBe(true); // re-entrant
  expect(await lb.acquire({ timeoutMs: 0 })).toBe(false);
  const t0 = Date.now();
  expect(await lb.acquire({ timeoutMs: 300 })).toBe(false);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  expect(await la.contenders()).toEqual(["a"]); // the timed-out waiters left the queue
  await la.release();
  expect(la.isAcquired).toBe(true); // one hold left
  expect(await lb.acquire({ timeoutMs: 0 })).toBe(false);

  // Queue order: with a <- b <- c, releasing a hands the lock to b, and c keeps waiting.
  const lc = new Lock(c!, "/l", { identifier: "c" });
  const bWon = lb.acquire();
  await until(async () => (await la.contenders()).length === 2, 5_000, "b queued");
  const cWon = lc.acquire();
  await until(async () => (await la.contenders()).length === 3, 5_000, "c queued");
  const queue = await la.queue();
  await la.release();
  expect(la.isAcquired).toBe(false);
  expect(await bWon).toBe(true);
  expect(lc.isAcquired).toBe(false);
  expect(await la.contenders()).toEqual(["b", "c"]);
  expect(queue.length).toBe(3);
  await lb.release();
  expect(await cWon).toBe(true);
  await lc.release();
  await expect(lc.release()).rejects.toMatchObject({ keeperName: "BadArguments" });
});

it("ReadWriteLock: readers share, a writer is alone (4 readers, 4 writers)", async () => {
  const zks = await openMany(env.namespace(), CONTENDERS);
  const locks = zks.map((zk) => new ReadWriteLock(zk, "/rw"));
  // Readers share: every reader holds the lock at once (each releases only once all do).
  const readLocks = locks.filter((_, i) => i % 2 === 0).map((rw) => rw.readLock);
  let holding = 0;
  await Promise.all(
    readLocks.map(async (lock) => {
      expect(await lock.acquire({ timeoutMs: 60_000 })).toBe(true);
      holding++;
      await until(() => holding === readLocks.length, 60_000, "every reader to hold the read lock");
      await lock.release();
    }),
  );
  // A writer is alone: readers and writers contending, never a writer beside anyone.
  let readers = 0;
  let writers = 0;
  let violations = 0;
  await Promise.all(
    locks.map(async (rw, i) => {
      const lock = i % 2 === 0 ? rw.readLock : rw.writeLock;
      for (let n = 0; n < 4; n++) {
        expect(await lock.acquire({ timeoutMs: 60_000 })).toBe(true);
        if (lock === rw.readLock) {
          readers++;
          if (writers > 0) violations++;
          await sleep(30);
          if (writers > 0) violations++;
          readers--;
        } else {
          writers++;
          if (writers > 1 || readers > 0) violations++;
          await sleep(5);
          if (writers > 1 || readers > 0) violations++;
          writers--;
        }
        await lock.release();
      }
    }),
  );
  expect(violations).toBe(0);
});

it("Semaphore: never more than 3 leases among 8 sessions; a killed holder's lease comes back after expiry", async () => {
  const namespace = env.namespace();
  const zks = await openMany(namespace, CONTENDERS);
  const held = occupancy();
  await Promise.all(
    zks.map(async (zk, i) => {
      const sem = new Semaphore(zk, "/sem", 3, { identifier: `c${i}` });
      for (let n = 0; n < 3; n++) {
        const lease = await sem.acquire({ timeoutMs: 60_000 });
        expect(lease).not.toBeNull();
        held.enter();
        await zk.multi([lease!.fence()]);
        // Held until leases have been shared (a bound in case the semaphore never shares,
        // which the check below then catches): with simulated regions a lease takes
        // several cross-region round trips, longer than any fixed hold.
        await sleep(100);
        for (const deadline = Date.now() + SHARING_LIMIT_MS; held.max < 2 && Date.now() < deadline; ) await sleep(25);
        held.leave();
        await lease!.release();
      }
    }),
  );
  expect(held.max).toBeLessThanOrEqual(3); // the guarantee
  expect(held.max).toBeGreaterThan(1); // and leases were shared (3 is timing-dependent)

  // A holder killed: its proxy goes, its session expires, its lease returns.
  const p = await proxy();
  const dead = await open(namespace, { servers: [p.base] });
  const survivors = zks.slice(0, 2).map((zk) => new Semaphore(zk, "/sem", 3));
  const leases = [await survivors[0]!.acquire(), await survivors[1]!.acquire(), await new Semaphore(dead, "/sem", 3).acquire()];
  expect(leases.every((l) => l !== null)).toBe(true);
  expect(await survivors[0]!.acquire({ timeoutMs: 200 })).toBeNull();
  await p.close();
  const t0 = Date.now();
  const fourth = await survivors[0]!.acquire({ timeoutMs: 30_000 });
  expect(fourth).not.toBeNull();
  expect(Date.now() - t0).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 1_000);
  expect((await survivors[0]!.holders()).length).toBe(3);
});

it("LeaderElection: exactly one leader among 8; a new one after the leader's session expires; observers follow", async () => {
  const namespace = env.namespace();
  const p = await proxy();
  // The first candidate (through a proxy we can kill) campaigns first, so it leads.
  const first = await open(namespace, { servers: [p.base] });
  const others = await openMany(namespace, CONTENDERS - 1);
  const observer = await open(namespace);
  const leaders = occupancy();
  const firstElection = new LeaderElection(first, "/election", { identifier: "c0" });
  expect(await firstElection.campaign()).toBe(true);
  leaders.enter();

  const seen: (string | undefined)[] = [];
  const observing = (async () => {
    for await (const leader of new LeaderElection(observer, "/election").observe()) {
      seen.push(leader);
      if (seen.length >= 2 && leader !== "c0" && leader !== undefined) break;
    }
  })();
  await until(() => seen.length === 1, 10_000, "the observer's first answer");
  expect(seen[0]).toBe("c0");

  let elected: string | undefined;
  const campaigns = others.map(async (zk, i) => {
    const election = new LeaderElection(zk, "/election", { identifier: `c${i + 1}` });
    expect(await election.campaign()).toBe(true);
    leaders.enter();
    elected ??= election.identifier;
    await sleep(20);
    leaders.leave();
    await election.resign();
  });
  await until(async () => (await firstElection.contenders()).length === CONTENDERS, 10_000, "every candidate queued");
  expect(await firstElection.leader()).toBe("c0");
  expect(elected).toBeUndefined();

  // Kill the leader: nobody else leads before its session expires.
  const lost = nextState(first, "lost");
  const killedAt = Date.now();
  await p.close();
  leaders.leave(); // as far as the test is concerned it is dead: a new leader may come only after expiry
  await Promise.all(campaigns);
  await observing;
  expect(leaders.max).toBe(1);
  expect(seen[0]).toBe("c0");
  expect(seen[1]).toMatch(/^c[1-7]$/);
  expect(elected).toMatch(/^c[1-7]$/);
  await lost;
  expect(firstElection.isLeader).toBe(false);
  expect(Date.now() - killedAt).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 1_000);
});

it("LeaderLatch: one member of 8 has leadership; closing it hands leadership on", async () => {
  const zks = await openMany(env.namespace(), CONTENDERS);
  const latches = zks.map((zk, i) => new LeaderLatch(zk, "/latch", { identifier: `m${i}` }));
  const leading = occupancy();
  for (const latch of latches) {
    latch.on("isLeader", () => leading.enter());
    latch.on("notLeader", () => leading.leave());
    latch.start();
  }
  const winner = await Promise.race(latches.map(async (l) => ((await l.await({ timeoutMs: 30_000 })) ? l : undefined)));
  expect(winner).toBeDefined();
  await sleep(300);
  expect(latches.filter((l) => l.hasLeadership())).toEqual([winner]);
  await winner!.close();
  expect(winner!.hasLeadership()).toBe(false);
  const rest = latches.filter((l) => l !== winner);
  await until(() => rest.some((l) => l.hasLeadership()), 10_000, "a new leader");
  expect(rest.filter((l) => l.hasLeadership()).length).toBe(1);
  expect(leading.max).toBe(1);
  for (const latch of rest) await latch.close();
  expect(leading.now).toBe(0);
});

it("LeaderLatch: the leader's session expires, another member leads, the old one re-joins as a follower", async () => {
  const namespace = env.namespace();
  const p = await proxy();
  const port = portOf(p);
  const first = await open(namespace, { servers: [p.base] });
  const firstLatch = new LeaderLatch(first, "/latch", { identifier: "m0" });
  firstLatch.start();
  expect(await firstLatch.await({ timeoutMs: 10_000 })).toBe(true);
  const zks = await openMany(namespace, CONTENDERS - 1);
  const latches = zks.map((zk, i) => new LeaderLatch(zk, "/latch", { identifier: `m${i + 1}` }));
  for (const latch of latches) latch.start();
  await until(async () => (await firstLatch.election.contenders()).length === CONTENDERS, 10_000, "every member queued");
  expect(latches.some((l) => l.hasLeadership())).toBe(false);
  const notLeader = new Promise<void>((resolve) => firstLatch.on("notLeader", resolve));
  await p.close();
  await notLeader; // suspended: no longer claims leadership
  expect(firstLatch.hasLeadership()).toBe(false);
  await until(() => latches.some((l) => l.hasLeadership()), 30_000, "a new leader after expiry");
  expect(latches.filter((l) => l.hasLeadership()).length).toBe(1);
  await proxy(port);
  await until(async () => (await firstLatch.election.contenders()).includes("m0"), 30_000, "the old leader re-joined");
  expect(firstLatch.hasLeadership()).toBe(false);
  expect(latches.filter((l) => l.hasLeadership()).length).toBe(1);
  for (const latch of [firstLatch, ...latches]) await latch.close();
});

it("fault: a dropped connection resumed within the timeout keeps the lock", async () => {
  const namespace = env.namespace();
  const p = await proxy();
  const holder = await open(namespace, { servers: [p.base] });
  const waiter = await open(namespace);
  const lock = new Lock(holder, "/locks/drop", { identifier: "holder" });
  expect(await lock.acquire()).toBe(true);
  const other = new Lock(waiter, "/locks/drop", { identifier: "waiter" });
  let otherHeld = false;
  const waiting = other.acquire().then((ok) => (otherHeld = ok));
  const suspended = nextState(holder, "suspended");
  const reconnected = nextState(holder, "reconnected");
  p.cutAll();
  await suspended;
  await reconnected;
  expect(lock.isAcquired).toBe(true);
  await holder.multi([lock.fence(), { op: "create", path: "/written-under-lock" }]);
  await sleep(200);
  expect(otherHeld).toBe(false);
  await lock.release();
  await waiting;
  expect(otherHeld).toBe(true);
  await other.release();
});

it("fault: a killed client's lock passes on after its session expires, and its fence then fails", async () => {
  const namespace = env.namespace();
  const p = await proxy();
  const port = portOf(p);
  const holder = await open(namespace, { servers: [p.base] });
  const lock = new Lock(holder, "/locks/kill", { identifier: "doomed" });
  expect(await lock.acquire()).toBe(true);
  const fence = lock.fence();
  const zks = await openMany(namespace, CONTENDERS - 1);
  const inside = occupancy();
  inside.enter(); // the doomed holder
  const killedAt = Date.now();
  const lost = nextState(holder, "lost");
  const passedAt: number[] = [];
  const contenders = zks.map(async (zk, i) => {
    const l = new Lock(zk, "/locks/kill", { identifier: `c${i}` });
    expect(await l.acquire({ timeoutMs: 60_000 })).toBe(true);
    inside.enter();
    passedAt.push(Date.now());
    await zk.create(`/after-${i}`);
    await sleep(5);
    inside.leave();
    await l.release();
  });
  await until(async () => (await lock.contenders()).length === CONTENDERS, 10_000, "every contender queued behind the holder");
  await p.close(); // the holder can no longer reach the server: as good as killed
  await lost;
  inside.leave();
  await Promise.all(contenders);
  expect(inside.max).toBe(1);
  expect(Math.min(...passedAt) - killedAt).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 1_000);
  expect(lock.isAcquired).toBe(false);

  // Fencing: the old holder, back in a new session, still thinks it may write. Its fence says no.
  await proxy(port);
  await nextState(holder, "connected");
  const error = await holder.multi([fence, { op: "create", path: "/stale-write" }]).catch((e: unknown) => e);
  expect(isKeeperError(error, "NoNode") || isKeeperError(error, "BadVersion")).toBe(true);
  expect(await holder.exists("/stale-write")).toBeNull();
  await lock.release(); // forgets the lock; nothing to delete
});

it("fault: a server restart on the same state dir breaks no lock guarantee", async () => {
  const namespace = env.namespace();
  const zks = await openMany(namespace, CONTENDERS, { sessionTimeoutMs: 20_000 });
  const states: string[] = [];
  for (const zk of zks) zk.on("state", (s) => states.push(s));
  const inside = occupancy();
  let acquisitions = 0;
  let restarting = false;
  const locks = zks.map((zk, i) => new Lock(zk, "/locks/restart", { identifier: `c${i}` }));
  const work = locks.map(async (lock, i) => {
    for (let n = 0; n < 3; n++) {
      // A contender whose session expired in the outage starts over in its new session.
      let held = false;
      while (!held) {
        held = await lock.acquire({ timeoutMs: 120_000 }).catch((e: unknown) => {
          if (isKeeperError(e, "SessionExpired") || isKeeperError(e, "ConnectionLoss")) return false;
          throw e;
        });
      }
      inside.enter();
      acquisitions++;
      await sleep(i === 0 && n === 0 ? 1_500 : 10); // the first holder holds across the restart
      inside.leave();
      await lock.release().catch(() => undefined);
    }
  });
  await until(() => acquisitions > 0, 10_000, "the first acquisition, held across the restart");
  restarting = true;
  await env.server().restart();
  restarting = false;
  await Promise.all(work);
  expect(restarting).toBe(false);
  expect(acquisitions).toBe(CONTENDERS * 3);
  expect(inside.max).toBe(1);
  expect(states).toContain("suspended");
  console.log(`restart: state changes ${JSON.stringify(states.reduce<Record<string, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {}))}`);
});
