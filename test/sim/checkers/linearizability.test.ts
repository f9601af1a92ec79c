/**
 * The linearizability checker on small hand-made histories: each rule of ZooKeeper's register,
 * valid and violated, and calls whose answer was lost.
 */
import { describe, expect, it } from "vitest";
import { checkLinearizable } from "./index.ts";
import { ABSENT_NODE, call, create, del, err, node, ok, read, seqRead, set } from "./fixtures.ts";

describe("checkLinearizable", () => {
  it("accepts a sequential history that follows ZooKeeper's rules", () => {
    const history = [
      call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)),
      call(2, { at: [2, 3] }, create("/a", "y"), err("NodeExists", 1)),
      call(3, { at: [4, 5] }, set("/a", "y", 0), ok(node("y", 1, 2), 2)),
      call(4, { at: [6, 7] }, set("/a", "z", 0), err("BadVersion", 2)),
      call(5, { at: [8, 9] }, read("/a"), ok(node("y", 1, 2), 2)),
      call(6, { at: [10, 11] }, del("/a", 1), ok(ABSENT_NODE, 3)),
      call(7, { at: [12, 13] }, read("/a"), err("NoNode", 3)),
      call(8, { at: [14, 15] }, set("/a", "w"), err("NoNode", 3)),
      call(9, { at: [16, 17] }, del("/a"), err("NoNode", 3)),
      call(10, { at: [18, 19] }, read("/a"), ok(ABSENT_NODE, 3)),
    ];
    expect(checkLinearizable(history)).toEqual([]);
  });

  it("catches a stale read: a read after an acknowledged set sees the old value", () => {
    const history = [
      call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)),
      call(2, { session: 2, at: [2, 5] }, set("/a", "y"), ok(node("y", 1, 2), 2)),
      call(3, { session: 3, at: [10, 12] }, read("/a"), ok(node("x", 0, 1), 2)),
    ];
    const violations = checkLinearizable(history);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.checker).toBe("linearizability");
    expect(violations[0]?.message).toContain("path /a");
    expect(violations[0]?.calls).toContain(3);
  });

  it("lets a read concurrent with a set see either value", () => {
    const before = [call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)), call(2, { session: 2, at: [2, 6] }, set("/a", "y"), ok(node("y", 1, 2), 2))];
    expect(checkLinearizable([...before, call(3, { session: 3, at: [3, 8] }, read("/a"), ok(node("x", 0, 1), 1))])).toEqual([]);
    expect(checkLinearizable([...before, call(3, { session: 3, at: [3, 8] }, read("/a"), ok(node("y", 1, 2), 2))])).toEqual([]);
  });

  it("catches reads that see a new value and then the old one", () => {
    const history = [
      call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)),
      call(2, { session: 2, at: [2, 20] }, set("/a", "y"), ok(node("y", 1, 2), 2)),
      call(3, { session: 3, at: [3, 5] }, read("/a"), ok(node("y", 1, 2), 2)),
      call(4, { session: 4, at: [6, 8] }, read("/a"), ok(node("x", 0, 1), 1)),
    ];
    expect(checkLinearizable(history).map((v) => v.checker)).toEqual(["linearizability"]);
  });

  it("catches a lost write: an acknowledged create that a later read does not find", () => {
    const history = [call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)), call(2, { session: 2, at: [5, 6] }, read("/a"), err("NoNode", 1))];
    expect(checkLinearizable(history)).toHaveLength(1);
  });

  it("catches a lost update: two sets at the same expected version both succeed", () => {
    const history = [
      call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)),
      call(2, { session: 2, at: [2, 6] }, set("/a", "p", 0), ok(node("p", 1, 2), 2)),
      call(3, { session: 3, at: [2, 6] }, set("/a", "q", 0), ok(node("q", 1, 3), 3)),
    ];
    expect(checkLinearizable(history)).toHaveLength(1);
    const fixed = [...history.slice(0, 2), call(3, { session: 3, at: [2, 6] }, set("/a", "q", 0), err("BadVersion", 2))];
    expect(checkLinearizable(fixed)).toEqual([]);
  });

  it("holds writes to ZooKeeper's answers: NodeExists, NoNode, BadVersion, versions from 0", () => {
    const created = call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1));
    const wrong = [
      call(2, { at: [2, 3] }, create("/a", "y"), ok(node("y", 0, 2), 2)),
      call(2, { at: [2, 3] }, set("/a", "y", 3), ok(node("y", 1, 2), 2)),
      call(2, { at: [2, 3] }, set("/a", "y"), ok(node("y", 2, 2), 2)),
      call(2, { at: [2, 3] }, set("/a", "y"), ok(node("z", 1, 2), 2)),
      call(2, { at: [2, 3] }, del("/a", 4), ok(ABSENT_NODE, 2)),
      call(2, { at: [2, 3] }, set("/a", "y", 0), err("BadVersion", 1)),
      call(2, { at: [2, 3] }, create("/b", "y"), err("NodeExists", 1)),
      call(2, { at: [2, 3] }, set("/b", "y"), ok(node("y", 1, 2), 2)),
      call(2, { at: [2, 3] }, create("/a", "x"), ok(node("x", 1, 2), 2)),
    ];
    for (const second of wrong) expect(checkLinearizable([created, second]), JSON.stringify(second)).toHaveLength(1);
  });

  it("requires each write's zxid above the previous write's on the path", () => {
    const history = [call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 5), 5)), call(2, { at: [2, 3] }, set("/a", "y"), ok(node("y", 1, 4), 4))];
    expect(checkLinearizable(history)).toHaveLength(1);
  });

  it("lets a call with no answer apply after its invocation, or never", () => {
    const created = call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1));
    const lost = call(2, { session: 2, at: [2, undefined] }, set("/a", "y"));
    expect(lost.returnedAt).toBeUndefined();
    const appliedLater = [created, lost, call(3, { session: 3, at: [50, 51] }, read("/a"), ok(node("y", 1, 2), 2))];
    const neverApplied = [created, lost, call(3, { session: 3, at: [50, 51] }, read("/a"), ok(node("x", 0, 1), 1))];
    expect(checkLinearizable(appliedLater)).toEqual([]);
    expect(checkLinearizable(neverApplied)).toEqual([]);
  });

  it("catches a call with no answer seen before it was invoked, or undone after it was seen", () => {
    const created = call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1));
    const lost = call(2, { session: 2, at: [10, undefined] }, set("/a", "y"));
    const seenEarly = [created, lost, call(3, { session: 3, at: [4, 6] }, read("/a"), ok(node("y", 1, 2), 2))];
    expect(checkLinearizable(seenEarly)).toHaveLength(1);
    const undone = [
      created,
      lost,
      call(3, { session: 3, at: [20, 21] }, read("/a"), ok(node("y", 1, 2), 2)),
      call(4, { session: 3, at: [22, 23] }, read("/a"), ok(node("x", 0, 1), 1)),
    ];
    expect(checkLinearizable(undone)).toHaveLength(1);
    // Applied, its zxid then pinned by a read: a later write must come after it.
    const zxidsBackwards = [
      created,
      lost,
      call(3, { session: 3, at: [20, 21] }, read("/a"), ok(node("y", 1, 7), 7)),
      call(4, { session: 3, at: [22, 23] }, set("/a", "z"), ok(node("z", 2, 6), 6)),
    ];
    expect(checkLinearizable(zxidsBackwards)).toHaveLength(1);
  });

  it("counts the writes with no answer that must have applied, by the versions that follow", () => {
    const created = call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1));
    const lostA = call(2, { session: 2, at: [10, undefined] }, set("/a", "a"));
    const lostB = call(3, { session: 3, at: [50, undefined] }, set("/a", "b"));
    const setAt = (version: number, at: [number, number]) => call(4, { at }, set("/a", "c"), ok(node("c", version, 9), 9));
    for (const version of [1, 2, 3]) expect(checkLinearizable([created, lostA, lostB, setAt(version, [60, 61])]), `v${version}`).toEqual([]);
    expect(checkLinearizable([created, lostA, lostB, setAt(4, [60, 61])])).toHaveLength(1);
    // Before B was invoked, only A can have applied.
    expect(checkLinearizable([created, lostA, lostB, setAt(2, [30, 40])])).toEqual([]);
    expect(checkLinearizable([created, lostA, lostB, setAt(3, [30, 40])])).toHaveLength(1);
  });

  it("places a write with no answer before the first answer that shows its value", () => {
    const created = call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1));
    const lost = call(2, { session: 2, at: [10, undefined] }, set("/a", "y"));
    const shows = call(3, { at: [20, 30] }, read("/a"), ok(node("y", 1, 5), 5));
    const overwrite = (version: number) => call(4, { at: [40, 41] }, set("/a", "z"), ok(node("z", version, 6), 6));
    expect(checkLinearizable([created, lost, shows, overwrite(2)])).toEqual([]);
    expect(checkLinearizable([created, lost, shows, overwrite(1)])).toHaveLength(1);
  });

  it("checks many concurrent reads and failed writes without running out of budget", () => {
    const history = [call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1))];
    for (let i = 2; i < 200; i++) {
      const at: [number, number] = [2, 1000 + i];
      history.push(i % 2 ? call(i, { session: i, at }, read("/a"), ok(node("x", 0, 1), 1)) : call(i, { session: i, at }, create("/a", `v${i}`), err("NodeExists", 1)));
    }
    history.push(call(999, { at: [2000, 2001] }, read("/a"), ok(node("nope", 0, 1), 1)));
    expect(checkLinearizable(history.slice(0, -1))).toEqual([]);
    expect(checkLinearizable(history).map((v) => v.checker)).toEqual(["linearizability"]);
  });

  it("checks many writes with no answer that no answer tells apart without running out of budget", () => {
    const history = [call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1))];
    for (let i = 2; i < 26; i++) history.push(call(i, { session: i, at: [i, undefined] }, set("/a", `lost${i}`)));
    const setAt = (version: number) => call(99, { at: [100, 101] }, set("/a", "c"), ok(node("c", version, 50), 50));
    expect(checkLinearizable([...history, setAt(25)])).toEqual([]);
    expect(checkLinearizable([...history, setAt(26)]).map((v) => v.checker)).toEqual(["linearizability"]);
  });

  it("checks each (shard, path) on its own and leaves sequential reads to the session checker", () => {
    const history = [
      call(1, { shard: "s1", at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1)),
      call(2, { shard: "s2", at: [0, 1] }, create("/a", "y"), ok(node("y", 0, 1), 1)),
      call(3, { shard: "s1", at: [0, 1] }, create("/b", "z"), ok(node("z", 0, 2), 2)),
      seqRead(4, 2, [5, 6], "/a", err("NoNode", 0), "s1"),
    ];
    expect(checkLinearizable(history)).toEqual([]);
  });

  it("names the path and the calls around where the search got stuck", () => {
    const history = [
      call(1, { at: [0, 1] }, create("/p/q", "x"), ok(node("x", 0, 1), 1)),
      call(2, { at: [2, 3] }, set("/p/q", "y"), ok(node("y", 1, 2), 2)),
      call(3, { session: 2, at: [4, 5] }, read("/p/q"), ok(node("x", 0, 1), 2)),
      call(4, { at: [6, 7] }, set("/p/q", "z"), ok(node("z", 2, 3), 3)),
    ];
    const [violation] = checkLinearizable(history);
    expect(violation?.message).toMatch(/shard s0 path \/p\/q: not linearizable; the longest linearizable prefix has 2 of 4 calls/);
    expect(violation?.message).toContain(`#3 s2 [4..5] read /p/q -> ok "x" v0 mzxid 1 (zxid 2)`);
    expect(violation?.calls).toEqual([1, 2, 3]);
  });

  it("reports a search over its step budget as its own kind", () => {
    // Concurrent sets: one order fits, found in a few dozen steps, more than this budget allows.
    const history = [call(1, { at: [0, 1] }, create("/a", "x"), ok(node("x", 0, 1), 1))];
    for (let i = 2; i < 12; i++) history.push(call(i, { session: i, at: [2, 100] }, set("/a", `v${i}`), ok(node(`v${i}`, i - 1, i), i)));
    history.push(call(99, { at: [200, 201] }, read("/a"), ok(node("nope", 0, 1), 1)));
    const violations = checkLinearizable(history, { stepBudget: 10 });
    expect(violations.map((v) => v.checker)).toEqual(["linearizability-budget"]);
    expect(checkLinearizable(history).map((v) => v.checker)).toEqual(["linearizability"]);
  });
});
