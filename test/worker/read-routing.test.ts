/**
 * The read-mode and bookmark codecs (protocol/), the read-routing decision and a
 * caller's ReadContext (durable/directory/read-routing.ts), without objects.
 */
import { describe, expect, it } from "vitest";
import {
  KeeperError,
  MAX_BOOKMARK_SHARDS,
  type Outcome,
  SEQUENTIAL,
  advanceBookmark,
  decodeBookmark,
  emptyBookmark,
  encodeBookmark,
  formatReadMode,
  makeZxid,
  parseReadMode,
  refusalByLeader,
} from "../../protocol/index.ts";
import {
  DEFAULT_HOME_RETRY_MS,
  DEFAULT_SEQUENTIAL_WAIT_MS,
  MAX_HOME_RETRY_MS,
  MAX_SEQUENTIAL_WAIT_MS,
  ReadContext,
  type ShardCopies,
  homeRetryMsOf,
  placeRead,
  readRoutingSettings,
  shardThatAnswered,
} from "../../durable/directory/read-routing.ts";
import type { EdgekeeperEnv } from "../../durable/env.ts";

function badArguments(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KeeperError);
    expect((err as KeeperError).keeperName).toBe("BadArguments");
    return (err as KeeperError).message;
  }
  throw new Error("expected BadArguments");
}

describe("read modes", () => {
  it("parses each mode and formats it back; none is sequential", () => {
    for (const text of ["sequential", "linearizable", "any", "bounded=0", "bounded=250", "bounded=60000"]) {
      expect(formatReadMode(parseReadMode(text))).toBe(text);
    }
    expect(parseReadMode(undefined)).toEqual({ kind: "sequential" });
    expect(parseReadMode(" Linearizable ")).toEqual({ kind: "linearizable" });
  });

  it("refuses unknown modes and staleness outside 0..60000 ms", () => {
    expect(badArguments(() => parseReadMode("eventual"))).toMatch(/unknown read mode/);
    for (const text of ["bounded", "bounded=", "bounded=-5", "bounded=1e3", "bounded=60001", "bounded=99999999999"]) {
      expect(badArguments(() => parseReadMode(text))).toMatch(/bounded=MS/);
    }
  });
});

describe("bookmarks", () => {
  it("round-trip through their opaque URL-safe text", () => {
    const bookmark = emptyBookmark("ns");
    advanceBookmark(bookmark, "root", makeZxid(1, 7));
    advanceBookmark(bookmark, "m1", makeZxid(3, 2 ** 32 - 1));
    const text = encodeBookmark(bookmark);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeBookmark(text, "ns").shards).toEqual(bookmark.shards);
  });

  it("advance only upwards", () => {
    const bookmark = emptyBookmark("ns");
    advanceBookmark(bookmark, "root", 10);
    advanceBookmark(bookmark, "root", 4);
    expect(bookmark.shards.get("root")).toBe(10);
  });

  it(`keep at most ${MAX_BOOKMARK_SHARDS} shards, dropping the one named longest ago`, () => {
    const bookmark = emptyBookmark("ns");
    for (let i = 0; i <= MAX_BOOKMARK_SHARDS; i++) advanceBookmark(bookmark, `s${i}`, i + 1);
    expect(bookmark.shards.size).toBe(MAX_BOOKMARK_SHARDS);
    expect(bookmark.shards.has("s0")).toBe(false);
    expect(decodeBookmark(encodeBookmark(bookmark), "ns").shards.size).toBe(MAX_BOOKMARK_SHARDS);
  });

  it("refuse malformed text, another namespace, too many shards and bad zxids", () => {
    const encode = (record: unknown) => btoa(JSON.stringify(record)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    for (const text of ["", "%%%", "e30", encode([1]), encode({ v: 2, n: "ns", s: {} }), encode({ v: 1, n: "ns", s: { root: "1" } }), encode({ v: 1, n: "ns", s: { root: 1.5 } }), encode({ v: 1, n: "ns", s: { "a/b": 1 } })]) {
      badArguments(() => decodeBookmark(text, "ns"));
    }
    expect(badArguments(() => decodeBookmark(encode({ v: 1, n: "other", s: {} }), "ns"))).toMatch(/another namespace/);
    const many = Object.fromEntries(Array.from({ length: MAX_BOOKMARK_SHARDS + 1 }, (_, i) => [`s${i}`, 1]));
    expect(badArguments(() => decodeBookmark(encode({ v: 1, n: "ns", s: many }), "ns"))).toMatch(/more than/);
  });

  it("are checked against the leader: a later epoch or a zxid beyond its commit point is refused", () => {
    const leader = makeZxid(2, 100);
    expect(refusalByLeader("root", makeZxid(1, 5000), leader)).toBeUndefined();
    expect(refusalByLeader("root", leader, leader)).toBeUndefined();
    expect(refusalByLeader("root", makeZxid(3, 1), leader)).toMatchObject({ keeperName: "BadArguments", message: expect.stringMatching(/epoch 3/) });
    expect(refusalByLeader("root", makeZxid(2, 101), leader)).toMatchObject({ keeperName: "BadArguments", message: expect.stringMatching(/commit point/) });
  });
});

describe("read routing", () => {
  const settings = { sequentialWaitMs: 50 };
  const leaderOnly: ShardCopies = { leaderRegion: "wnam", replicaRegions: [] };
  const withReplicas: ShardCopies = { leaderRegion: "wnam", replicaRegions: ["weur", "apac"] };

  it("sends every mode to the leader while a shard has no replicas", () => {
    for (const mode of ["sequential", "linearizable", "bounded=10", "any"]) {
      expect(placeRead(parseReadMode(mode), 5, "weur", leaderOnly, settings)).toEqual({ at: "leader", servedBy: "wnam/leader" });
    }
  });

  it("with a replica in the caller's region: sequential waits there for the bookmark, linearizable stays at the leader", () => {
    expect(placeRead(parseReadMode("sequential"), 42, "weur", withReplicas, settings)).toEqual({ at: "replica", region: "weur", minZxid: 42, waitMs: 50, servedBy: "weur/replica" });
    expect(placeRead(parseReadMode("linearizable"), 42, "weur", withReplicas, settings).at).toBe("leader");
    expect(placeRead(parseReadMode("sequential"), 42, "oc", withReplicas, settings).at).toBe("leader");
  });

  it("bounded=MS asks the replica to hold every write committed MS ago; any takes it as it is", () => {
    expect(placeRead(parseReadMode("bounded=30"), 42, "apac", withReplicas, settings)).toEqual({ at: "replica", region: "apac", minZxid: 0, waitMs: 0, maxStalenessMs: 30, servedBy: "apac/replica" });
    expect(placeRead(parseReadMode("any"), 42, "weur", withReplicas, settings)).toEqual({ at: "replica", region: "weur", minZxid: 0, waitMs: 0, servedBy: "weur/replica" });
  });

  it("waits EDGEKEEPER_SEQUENTIAL_WAIT_MS, a whole number from 0 to 5000, and retries a home replica after EDGEKEEPER_HOME_RETRY_MS, from 0 to 600000; anything else keeps the default", () => {
    const waitOf = (value: string | undefined) => readRoutingSettings({ EDGEKEEPER_SEQUENTIAL_WAIT_MS: value } as unknown as EdgekeeperEnv).sequentialWaitMs;
    expect([waitOf("0"), waitOf("250"), waitOf(String(MAX_SEQUENTIAL_WAIT_MS))]).toEqual([0, 250, MAX_SEQUENTIAL_WAIT_MS]);
    for (const invalid of [undefined, "-1", "5001", "2.5", "soon"]) expect(waitOf(invalid)).toBe(DEFAULT_SEQUENTIAL_WAIT_MS);
    const retryOf = (value: string | undefined) => homeRetryMsOf({ EDGEKEEPER_HOME_RETRY_MS: value } as unknown as EdgekeeperEnv);
    expect([retryOf("0"), retryOf("1000"), retryOf(String(MAX_HOME_RETRY_MS))]).toEqual([0, 1000, MAX_HOME_RETRY_MS]);
    for (const invalid of [undefined, "-1", "600001", "2.5", "soon"]) expect(retryOf(invalid)).toBe(DEFAULT_HOME_RETRY_MS);
  });
});

describe("a caller's reads (ReadContext)", () => {
  const routing = { copies: { leaderRegion: "wnam", replicaRegions: ["weur"] }, settings: { sequentialWaitMs: 50 } };
  const getData = { op: "getData", path: "/a" } as const;
  const setData = { op: "setData", path: "/a", data: new Uint8Array() } as const;
  const ok = (zxid: number): Outcome => ({ ok: true, zxid, value: {} });

  it("advances the bookmark by every answer and says who served it", () => {
    const reads = new ReadContext(routing, SEQUENTIAL, emptyBookmark("ns"), { callerRegion: "weur" });
    const placement = reads.place({ shard: "root" }, [getData]);
    expect(placement).toMatchObject({ at: "replica", minZxid: 0 });
    const answers = [ok(makeZxid(1, 3))];
    reads.answered("root", { at: "leader", servedBy: "wnam/leader" }, [getData], answers);
    expect(reads.bookmark.shards.get("root")).toBe(makeZxid(1, 3));
    expect(reads.servedBy).toBe("wnam/leader");
    expect(shardThatAnswered(answers[0]!)).toBe("root");
    expect(reads.place({ shard: "root" }, [getData])).toMatchObject({ at: "replica", minZxid: makeZxid(1, 3) });
    expect(reads.place({ shard: "root" }, [setData]).at).toBe("leader");
  });

  it("with a partial bookmark reads a shard it does not name at the leader, until the leader answered", () => {
    const reads = new ReadContext(routing, SEQUENTIAL, emptyBookmark("ns"), { callerRegion: "weur", partial: true });
    expect(reads.place({ shard: "root" }, [getData]).at).toBe("leader");
    reads.answered("root", { at: "leader", servedBy: "wnam/leader" }, [getData], [ok(makeZxid(1, 9))]);
    expect(reads.place({ shard: "root" }, [getData])).toMatchObject({ at: "replica", minZxid: makeZxid(1, 9) });
    expect(reads.place({ shard: "m1" }, [getData]).at).toBe("leader");
  });

  it("replaces the answers of reads with BadArguments when the bookmark sent is beyond the leader, but keeps a write's", () => {
    const sent = { namespace: "ns", shards: new Map([["root", makeZxid(1, 50)]]) };
    const reads = new ReadContext(routing, SEQUENTIAL, { namespace: "ns", shards: new Map(sent.shards) });
    const answers = [ok(makeZxid(1, 10)), ok(makeZxid(1, 10))];
    reads.answered("root", { at: "leader", servedBy: "wnam/leader" }, [getData, getData], answers);
    expect(answers.map((a) => (a.ok ? "ok" : a.error.name))).toEqual(["BadArguments", "BadArguments"]);
    expect(reads.bookmark.shards.get("root")).toBe(makeZxid(1, 10));

    const writer = new ReadContext(routing, SEQUENTIAL, { namespace: "ns", shards: new Map(sent.shards) });
    const written = [ok(makeZxid(1, 11))];
    writer.answered("root", { at: "leader", servedBy: "wnam/leader" }, [setData], written);
    expect(written[0]!.ok).toBe(true);
    expect(writer.bookmark.shards.get("root")).toBe(makeZxid(1, 11));
  });

  it("places reads of a shard whose leader moved by where it is now: the first region's copy is a replica then", () => {
    const moved = { shard: "root", leader: "weur" };
    const inWnam = new ReadContext(routing, SEQUENTIAL, emptyBookmark("ns"), { callerRegion: "wnam" });
    expect(inWnam.place(moved, [getData])).toMatchObject({ at: "replica", region: "wnam" });
    expect(inWnam.place({ shard: "root" }, [getData]).at).toBe("leader");
    const inWeur = new ReadContext(routing, SEQUENTIAL, emptyBookmark("ns"), { callerRegion: "weur" });
    expect(inWeur.place(moved, [getData])).toMatchObject({ at: "leader", servedBy: "weur/leader" });
    inWeur.answeredByLeader(moved, [getData], [ok(makeZxid(2, 1))]);
    expect(inWeur.servedBy).toBe("weur/leader");
  });

  it("takes nothing from a not-leader answer (a sealed or former leader ran nothing): the bookmark sent is checked at the leader", () => {
    const sent = { namespace: "ns", shards: new Map([["root", makeZxid(2, 5)]]) };
    const reads = new ReadContext(routing, SEQUENTIAL, { namespace: "ns", shards: new Map(sent.shards) });
    const notLeader: Outcome = { ok: false, zxid: makeZxid(1, 9), notLeader: true, error: new KeeperError("SystemError", "not the leader").toBody() };
    const answers = [notLeader];
    reads.answered("root", { at: "leader", servedBy: "wnam/leader" }, [getData], answers);
    // Left as it was, for the router to send again to the new leader, which checks the bookmark.
    expect(answers[0]).toBe(notLeader);
    expect(reads.bookmark.shards.get("root")).toBe(makeZxid(2, 5));
    const atNewLeader = [ok(makeZxid(2, 6))];
    reads.answered("root", { at: "leader", servedBy: "weur/leader" }, [getData], atNewLeader);
    expect(atNewLeader[0]!.ok).toBe(true);
    expect(reads.bookmark.shards.get("root")).toBe(makeZxid(2, 6));
  });
});
