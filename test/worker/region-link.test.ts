/**
 * The region link (durable/base/region-link.ts) carries calls between the Worker and
 * the objects: without EDGEKEEPER_REGIONS it hands out the plain stub and delays
 * nothing; with it, each call waits the one-way delay of protocol/regions.ts's
 * matrix before it is sent and after its answer, and a function passed along a call
 * is called back with the delays the other way, in order. The test records the delays the
 * link chose (its wait hook), never elapsed time; the timer under the real waits runs
 * on a clock of the test's.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PunctualTimer } from "../../durable/base/punctual-timer.ts";
import { type DelayHooks, RegionLink } from "../../durable/base/region-link.ts";
import { ReadContext, readRoutingOf } from "../../durable/directory/read-routing.ts";
import { ShardRouter } from "../../durable/directory/shard-router.ts";
import { shardObjectName } from "../../durable/env.ts";
import { type Caller, SEQUENTIAL, emptyBookmark } from "../../protocol/index.ts";
import { meanRoundTripMs } from "../../protocol/regions.ts";
import { hostNumberOf } from "../../protocol/session-ids.ts";
import { uniqueNamespace } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";
import { ANON, bytes, lastZxid, ok } from "../harness/shard.ts";

/** Delays chosen without jitter (random 0), recorded instead of waited. */
function recorder(random = 0): DelayHooks & { waits: number[] } {
  const waits: number[] = [];
  return { waits, wait: async (ms) => void waits.push(ms), random: () => random };
}

const ANONYMOUS: Caller = { sessionId: 0, ids: [] };

const FIVE = { ...env, EDGEKEEPER_REGIONS: "wnam,enam,weur,apac,oc" };

describe("the region link", () => {
  it("delays nothing and hands out the plain stub without regions", async () => {
    const delays = recorder();
    const link = RegionLink.at(env, "apac", delays);
    const name = shardObjectName(uniqueNamespace(), "root");
    expect(link.region).toBeUndefined();
    const stats = await link.shard(name).stats("/");
    expect(stats.lastZxid).toBeGreaterThan(0);
    await link.directory(uniqueNamespace()).table();
    expect(delays.waits).toEqual([]);
  });

  it("waits half the matrix's round trip each way, from the caller's region to the object's", async () => {
    const namespace = uniqueNamespace();
    const delays = recorder();
    const link = RegionLink.at(FIVE, "apac", delays);
    // A shard's leader and the directory live in the first region (wnam): apac-wnam is 89 ms.
    await link.shard(shardObjectName(namespace, "root")).stats("/");
    await link.directory(namespace).table();
    // A session host lives in its number's location: apac to apac is 6 ms.
    await link.host(namespace, hostNumberOf("apac", 0)).stats();
    // A replica lives in the region its name ends with: apac to oc is 104 ms.
    await link.shard(`${shardObjectName(namespace, "root")}@oc`).stats("/");
    expect(delays.waits).toEqual([44.5, 44.5, 44.5, 44.5, 3, 3, 52, 52]);
  });

  it("adds up to a tenth of the delay as jitter", async () => {
    const delays = recorder(0.5);
    await RegionLink.at(FIVE, "weur", delays).shard(shardObjectName(uniqueNamespace(), "root")).stats("/");
    // weur-wnam is 137 ms: 68.5 each way, plus 0.5 x 10%.
    expect(delays.waits).toEqual([68.5 * 1.05, 68.5 * 1.05]);
    // A random draw's mean is a half: the round trip's mean, as the benchmarks' targets count it.
    expect(delays.waits[0]! + delays.waits[1]!).toBeCloseTo(meanRoundTripMs("weur", "wnam"), 9);
  });

  it("calls a function passed along a call back the other way, each call arriving after the one made before it", async () => {
    const leaderName = shardObjectName(uniqueNamespace(), "root");
    const leader = env.SHARD.get(env.SHARD.idFromName(leaderName));
    const head = await lastZxid(leader);
    // The second wait asked for is the first push's way back: held until the second push is under way.
    const waits: number[] = [];
    let releaseFirstPush!: () => void;
    const firstPushHeld = new Promise<void>((resolve) => (releaseFirstPush = resolve));
    const delays: DelayHooks = { random: () => 0, wait: async (ms) => (waits.push(ms) === 2 ? firstPushHeld : undefined) };
    const pushed: number[][] = [];
    // A replica in oc pulls from its leader in wnam (162 ms round trip), giving its way back.
    const pull = RegionLink.at(FIVE, "oc", delays).shard(leaderName).replicationRequest(
      { type: "pull", replica: `${leaderName}@oc`, fromZxid: head, maxBytes: 1 << 20 },
      async (page) => {
        pushed.push(page.kind === "entries" ? page.entries.map((entry) => entry.zxid) : []);
        return true;
      },
    );
    // Each write is pushed as it commits (the pull streams); the second push comes behind the first.
    await eventually("the pull on its way", async () => waits.length === 1);
    await ok(leader, ANON, { op: "create", path: "/a", data: bytes("1") });
    await eventually("the first push on its way", async () => waits.length === 2);
    await ok(leader, ANON, { op: "create", path: "/b", data: bytes("2") });
    await eventually("the second push on its way", async () => waits.length === 3);
    expect(pushed).toEqual([]);
    releaseFirstPush();
    const answer = await pull;
    expect(pushed).toEqual([[head + 1], [head + 2]]);
    // The pull there, each push back and its answer there, the pull's answer back: 81 ms each.
    expect(waits).toEqual([81, 81, 81, 81, 81, 81]);
    expect(answer).toMatchObject({ kind: "entries", afterZxid: head + 2, entries: [] });
  });

  it("places a caller of no named region, and a host of another location, in the leader region", async () => {
    const delays = recorder();
    const link = RegionLink.at({ ...env, EDGEKEEPER_REGIONS: "enam,oc" }, undefined, delays);
    expect(link.region).toBe("enam");
    await link.host(uniqueNamespace(), hostNumberOf("local", 1)).stats();
    expect(delays.waits).toEqual([3, 3]);
  });

  it("places each object's own calls in its region: a host in its number's location, a replica in its name's region", () => {
    const namespace = uniqueNamespace();
    expect(RegionLink.ofHost(FIVE, `${namespace}/sessions-${hostNumberOf("oc", 3)}`).region).toBe("oc");
    expect(RegionLink.ofHost(FIVE, `${namespace}/sessions-${hostNumberOf("local", 0)}`).region).toBe("wnam");
    expect(RegionLink.ofShard(FIVE, `${shardObjectName(namespace, "root")}@weur`).region).toBe("weur");
    expect(RegionLink.ofShard(FIVE, shardObjectName(namespace, "root")).region).toBe("wnam");
    expect(RegionLink.ofShard(env, `${shardObjectName(namespace, "root")}@weur`).region).toBeUndefined();
  });

  it("knows an object's region from its name inside the object", async () => {
    const namespace = uniqueNamespace();
    const host = env.SESSION_HOST.get(env.SESSION_HOST.idFromName(`${namespace}/sessions-${hostNumberOf("apac", 2)}`));
    const name = await runInDurableObject(host, (_instance, state) => state.id.name);
    expect(name).toBe(`${namespace}/sessions-${hostNumberOf("apac", 2)}`);
  });
});

describe("a read in the caller's region", () => {
  it("routed to the caller's replica pays one in-region round trip and nothing else", async () => {
    const namespace = uniqueNamespace();
    const delays = recorder();
    const link = RegionLink.at(FIVE, "apac", delays);
    /** One getData as the Worker makes it for an HTTP request from apac: who served it. */
    const read = async () => {
      const reads = new ReadContext(readRoutingOf(FIVE), SEQUENTIAL, emptyBookmark(namespace), { callerRegion: "apac" });
      const outcome = await new ShardRouter(FIVE, namespace, link, reads).execute(ANONYMOUS, { op: "getData", path: "/zookeeper" });
      expect(outcome.ok).toBe(true);
      return reads.servedBy;
    };
    // The first read starts the replica (the leader serves until it is ready).
    await eventually("a read served by the apac replica", async () => (await read()) === "apac/replica", 30_000);

    delays.waits.length = 0;
    expect(await read()).toBe("apac/replica");
    // apac to apac: 3 ms each way, once; no lookup in the directory (wnam), no second call.
    expect(delays.waits).toEqual([3, 3]);
  });
});

describe("the timer under the simulated delays", () => {
  /** A clock of the test's and a timer on it that fires `lateMs` after what it is asked; records what it was asked. */
  function lateTimer(lateMs: () => number) {
    let now = 0;
    const asked: number[] = [];
    const timer = new PunctualTimer({
      now: () => now,
      sleep: async (ms) => {
        asked.push(ms);
        now += ms + lateMs();
      },
    });
    return { timer, asked, now: () => now };
  }

  it("asks its timer for less, by how late the timer fired, so that a wait lasts what was asked", async () => {
    const { timer, asked, now } = lateTimer(() => 1.5);
    await timer.wait(3);
    expect(asked).toEqual([3]); // nothing known yet: the first wait is late
    const before = now();
    for (let i = 0; i < 5; i++) await timer.wait(3);
    expect(asked.slice(1)).toEqual([1.5, 1.5, 1.5, 1.5, 1.5]);
    expect(now() - before).toBe(5 * 3);
  });

  it("takes the median of recent firings, so that one held up by load barely shortens the next waits", async () => {
    const lateness = [1, 1, 1, 40, 1];
    const { timer, asked } = lateTimer(() => lateness.shift() ?? 1);
    for (let i = 0; i < 6; i++) await timer.wait(44.5);
    expect(asked.at(-1)).toBe(43.5);
    expect(timer.expectedLateness).toBe(1);
  });

  it("takes the lower median of an even count, so that one of two firings held up expects no more than the other", async () => {
    const lateness = [1, 40];
    const { timer } = lateTimer(() => lateness.shift() ?? 1);
    await timer.wait(44.5);
    await timer.wait(44.5);
    expect(timer.expectedLateness).toBe(1);
  });

  it("never asks for less than nothing", async () => {
    const { timer, asked } = lateTimer(() => 5);
    await timer.wait(3);
    await timer.wait(3);
    expect(asked).toEqual([3, 0]);
  });
});
