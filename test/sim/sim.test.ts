import { describe, expect, it } from "vitest";
import { runSeed } from "./run-seed.ts";

/** Seeds CI runs each time (a few hundred; `npm run sim -- --soak` runs thousands). */
const SEEDS = 300;
const OPS = 300;

describe("replication simulator", () => {
  it("finds no violation in any seed, and names the seeds that fail", async () => {
    const failing: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await runSeed({ seed, ops: OPS });
      if (result.violations.length > 0) failing.push(`seed ${seed}: ${result.violations[0]!.message.split("\n")[0]}`);
    }
    expect(failing).toEqual([]);
  });

  it("replays a seed exactly: the same history, hash for hash", async () => {
    const first = await runSeed({ seed: 7, ops: 300 });
    const again = await runSeed({ seed: 7, ops: 300 });
    expect(again.hash).toBe(first.hash);
    expect(again.history).toEqual(first.history);
    expect((await runSeed({ seed: 8, ops: 300 })).hash).not.toBe(first.hash);
  });

  it("injects faults and records answered calls of every kind", async () => {
    const result = await runSeed({ seed: 3, ops: 600 });
    expect(result.faults).toBeGreaterThan(0);
    const answered = result.history.filter((e) => e.kind === "call" && e.result !== undefined);
    const kinds = new Set(answered.map((e) => (e.kind === "call" ? `${e.op.type}/${e.servedBy}` : "")));
    for (const kind of ["create/leader", "set/leader", "delete/leader", "read/leader", "read/replica"]) expect(kinds).toContain(kind);
    expect(result.history.some((e) => e.kind === "watch-fired")).toBe(true);
  });
});
