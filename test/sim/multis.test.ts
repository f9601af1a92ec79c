import { describe, expect, it } from "vitest";
import { crashPoints, runMultiSeed, type MultiSeedResult } from "./run-multis.ts";

/** Seeds CI runs each time (`npm run sim -- --multis` runs as many as asked). */
const SEEDS = 30;
const MULTIS = 100;
/** The scripted run crashed at each of its steps: six multis from one router. */
const SCRIPTED = { multis: 6, routers: 1 };
/** Of the pairs of steps of one scripted run, every this-many-th is crashed (all of them take half an hour). */
const PAIRS_EVERY = 50;

/** "label: first violation" for each failing result. */
function failures(results: MultiSeedResult[], label: (result: MultiSeedResult) => string): string[] {
  return results.filter((r) => r.violations.length > 0).map((r) => `${label(r)}: ${r.violations[0]!.message}`);
}

describe("multis across shards in the simulator", () => {
  it("end all applied or none, as their routers answered, over seeds with every fault", async () => {
    const results: MultiSeedResult[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) results.push(await runMultiSeed({ seed, multis: MULTIS }));
    expect(failures(results, (r) => `seed ${r.seed}`)).toEqual([]);
    // The runs meet every outcome and fault, so the checks have something to hold.
    const total = (pick: (r: MultiSeedResult) => number) => results.reduce((sum, r) => sum + pick(r), 0);
    expect(total((r) => r.answers.applied)).toBeGreaterThan(SEEDS * 10);
    expect(total((r) => r.answers.failed)).toBeGreaterThan(SEEDS * 5);
    expect(total((r) => r.answers.unknown)).toBeGreaterThan(SEEDS * 5);
    expect(total((r) => r.crashes)).toBeGreaterThan(SEEDS * 10);
    expect(total((r) => r.moves)).toBeGreaterThan(SEEDS);
    expect(total((r) => r.failovers)).toBeGreaterThan(0);
  });

  it("end all applied or none with a crash at every step of a run, and at two steps of it", async () => {
    const found: string[] = [];
    let twice = 0;
    for (let seed = 1; seed <= 3; seed++) {
      const clean = await runMultiSeed({ seed, ...SCRIPTED, crashAt: [] });
      expect(clean.answers.applied + clean.answers.failed).toBe(SCRIPTED.multis);
      for (const points of [...crashPoints(clean.steps), ...(seed === 1 ? crashPoints(clean.steps, PAIRS_EVERY) : [])]) {
        const crashed = await runMultiSeed({ seed, ...SCRIPTED, crashAt: points });
        // The first crash always comes (the run is the clean one up to it); a second, where the run still takes that step.
        expect(crashed.crashes).toBeGreaterThanOrEqual(1);
        if (crashed.crashes === 2) twice += 1;
        found.push(...failures([crashed], () => `seed ${seed}, crashes at ${points.map((p) => `${p.moment} step ${p.step}`).join(" and ")}`));
      }
    }
    expect(found).toEqual([]);
    expect(twice).toBeGreaterThan(500);
  });

  it("replays a seed exactly", async () => {
    const first = await runMultiSeed({ seed: 7, multis: MULTIS });
    const again = await runMultiSeed({ seed: 7, multis: MULTIS });
    expect(again.hash).toBe(first.hash);
    expect(again.steps).toBe(first.steps);
    expect((await runMultiSeed({ seed: 8, multis: MULTIS })).hash).not.toBe(first.hash);
  });
});
