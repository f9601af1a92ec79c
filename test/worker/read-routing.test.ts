/**
 * The read-mode and bookmark codecs (protocol/) and the read-routing decision
 * (durable/directory/read-routing.ts), as pure functions.
 */
import { describe, expect, it } from "vitest";
import {
  KeeperError,
  MAX_BOOKMARK_SHARDS,
  advanceBookmark,
  decodeBookmark,
  emptyBookmark,
  encodeBookmark,
  formatReadMode,
  makeZxid,
  parseReadMode,
  refusalByLeader,
} from "../../protocol/index.ts";
import { type ShardCopies, placeRead } from "../../durable/directory/read-routing.ts";

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

  it(`keep at most ${MAX_BOOKMARK_SHARDS} shards, dropping the least recently advanced`, () => {
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
});
