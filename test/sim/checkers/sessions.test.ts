/**
 * The session checker on small hand-made histories: each guarantee kept, and broken.
 */
import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "../history.ts";
import { checkSessions } from "./index.ts";
import { ABSENT_NODE, call, create, del, err, node, ok, seqRead, set, watchFired, watchSet } from "./fixtures.ts";

const rules = (history: HistoryEntry[]): string[] => checkSessions(history).map((v) => v.checker);

describe("checkSessions: monotonic reads and read-your-writes", () => {
  it("accepts reads whose zxids only go forward", () => {
    const history = [seqRead(1, 1, [0, 1], "/a", ok(node("x", 0, 2), 3)), seqRead(2, 1, [2, 3], "/b", err("NoNode", 3)), seqRead(3, 1, [4, 5], "/a", ok(node("y", 1, 4), 6))];
    expect(checkSessions(history)).toEqual([]);
  });

  it("catches a read that goes back to an older zxid", () => {
    const history = [seqRead(1, 1, [0, 1], "/a", ok(node("x", 0, 2), 5)), seqRead(2, 1, [2, 3], "/b", err("NoNode", 3))];
    const violations = checkSessions(history);
    expect(violations.map((v) => v.checker)).toEqual(["sessions/monotonic-reads"]);
    expect(violations[0]?.calls).toEqual([1, 2]);
    expect(violations[0]?.message).toContain("answered at zxid 3, below zxid 5");
  });

  it("lets a read overlap an earlier one, another session and another shard be older", () => {
    const first = seqRead(1, 1, [0, 10], "/a", ok(node("x", 0, 2), 5));
    expect(checkSessions([first, seqRead(2, 1, [5, 12], "/a", err("NoNode", 1))])).toEqual([]);
    expect(checkSessions([first, seqRead(2, 2, [20, 21], "/a", err("NoNode", 1))])).toEqual([]);
    expect(checkSessions([first, seqRead(2, 1, [20, 21], "/a", err("NoNode", 1), "s9")])).toEqual([]);
  });

  it("catches a read that misses the session's own acknowledged write", () => {
    const write = call(1, { at: [0, 4] }, set("/a", "y"), ok(node("y", 3, 7), 7));
    expect(rules([write, seqRead(2, 1, [5, 6], "/b", err("NoNode", 6))])).toEqual(["sessions/read-your-writes"]);
    // The shard's zxid is new enough, but the path's state is older than the write.
    expect(rules([write, seqRead(2, 1, [5, 6], "/a", ok(node("x", 2, 5), 8))])).toEqual(["sessions/read-your-writes"]);
    expect(rules([write, seqRead(2, 1, [5, 6], "/a", ok(node("y", 3, 7), 7))])).toEqual([]);
    // Another session's delete may have removed it since.
    expect(rules([write, seqRead(2, 1, [5, 6], "/a", err("NoNode", 9))])).toEqual([]);
  });

  it("after the session's delete, a read finds the node absent or created again", () => {
    const write = call(1, { at: [0, 4] }, del("/a"), ok(ABSENT_NODE, 7));
    expect(rules([write, seqRead(2, 1, [5, 6], "/a", ok(node("x", 0, 3), 8))])).toEqual(["sessions/read-your-writes"]);
    expect(rules([write, seqRead(2, 1, [5, 6], "/a", ok(node("x", 0, 8), 8))])).toEqual([]);
    expect(rules([write, seqRead(2, 1, [5, 6], "/a", ok(ABSENT_NODE, 7))])).toEqual([]);
  });

  it("holds a failed write's zxid and a read path state as floors too", () => {
    const failed = call(1, { at: [0, 1] }, create("/a", "x"), err("NodeExists", 9));
    expect(rules([failed, seqRead(2, 1, [2, 3], "/a", ok(node("x", 0, 2), 8))])).toEqual(["sessions/monotonic-reads"]);
    const sawNew = seqRead(1, 1, [0, 1], "/a", ok(node("y", 4, 6), 6));
    expect(rules([sawNew, seqRead(2, 1, [2, 3], "/a", ok(node("x", 3, 5), 6))])).toEqual(["sessions/monotonic-reads"]);
  });

  it("ignores calls with no answer", () => {
    const lost = call(1, { at: [0, undefined] }, set("/a", "y"), ok(node("y", 1, 9), 9));
    expect(checkSessions([lost, seqRead(2, 1, [5, 6], "/a", ok(node("x", 0, 2), 3))])).toEqual([]);
  });
});

describe("checkSessions: watches", () => {
  // Session 1 reads /a at zxid 3 and sets a watch; session 2 changes /a at zxid 4, then /b at zxid 5.
  const setter = seqRead(1, 1, [0, 2], "/a", ok(node("x", 0, 3), 3));
  const watch = watchSet(setter, 3);
  const change = call(2, { session: 2, at: [3, 5] }, set("/a", "y"), ok(node("y", 1, 4), 4));
  const later = call(3, { session: 2, at: [6, 8] }, create("/b", "z"), ok(node("z", 0, 5), 5));
  const readAt = (zxid: number, at: [number, number]) => seqRead(4, 1, at, "/b", ok(node("z", 0, 5), zxid));

  it("accepts an event delivered before a read that shows its change", () => {
    expect(checkSessions([setter, watch, change, later, watchFired(setter, 4, 9), readAt(5, [10, 12])])).toEqual([]);
    // A read still older than the change may come first.
    expect(checkSessions([setter, watch, change, watchFired(setter, 4, 20), seqRead(4, 1, [10, 12], "/b", err("NoNode", 3))])).toEqual([]);
  });

  it("catches an event delivered after a read that shows its change", () => {
    const violations = checkSessions([setter, watch, change, later, readAt(5, [10, 12]), watchFired(setter, 4, 15)]);
    expect(violations.map((v) => v.checker)).toEqual(["sessions/watch-order"]);
    expect(violations[0]?.calls).toEqual([1, 4]);
    expect(violations[0]?.message).toContain("fired only at 15");
  });

  it("catches an event never delivered though a read shows its change", () => {
    expect(rules([setter, watch, change, later, readAt(5, [10, 12])])).toEqual(["sessions/watch-order"]);
    // Not yet due: nothing the session read shows the change.
    expect(rules([setter, watch, change])).toEqual([]);
  });

  it("catches a one-shot watch that fires twice, early, or was never set", () => {
    expect(rules([setter, watch, change, watchFired(setter, 4, 6), watchFired(setter, 4, 7)])).toEqual(["sessions/watch-once"]);
    expect(rules([setter, watchSet(setter, 3, 10), change, watchFired(setter, 4, 6)])).toEqual(["sessions/watch-once"]);
    expect(rules([setter, change, watchFired(setter, 4, 6)])).toEqual(["sessions/watch-once"]);
  });

  it("catches a watch that fires for a later change than the first, or one its read saw", () => {
    const second = call(3, { session: 2, at: [6, 8] }, set("/a", "z"), ok(node("z", 2, 6), 6));
    expect(rules([setter, watch, change, second, watchFired(setter, 6, 9)])).toEqual(["sessions/watch-first-change"]);
    expect(rules([setter, watch, change, second, watchFired(setter, 4, 9)])).toEqual([]);
    expect(rules([setter, watch, watchFired(setter, 3, 9)])).toEqual(["sessions/watch-first-change"]);
  });

  it("holds later reads to an event's zxid", () => {
    expect(rules([setter, watch, change, watchFired(setter, 4, 6), seqRead(4, 1, [7, 8], "/b", err("NoNode", 3))])).toEqual(["sessions/monotonic-reads"]);
  });
});
