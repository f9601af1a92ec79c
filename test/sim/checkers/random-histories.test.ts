/**
 * The checkers on seeded random histories: no violation in histories valid by construction,
 * and one broken answer caught most of the time. Seeds are fixed: a failure names its seed.
 */
import { describe, expect, it } from "vitest";
import { checkLinearizable, checkSessions } from "./index.ts";
import { type Mutation, type RandomHistory, type SessionMutation, mutateOnce, mutateSessionOnce, randomHistory } from "./random-history.ts";

const SEEDS = 200;

describe("checkers on random histories", () => {
  it("find nothing wrong in valid histories (200 seeds of 1,000 operations, 5 to 30 paths)", () => {
    const failures: string[] = [];
    let checkMs = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { history } = randomHistory({ seed, operations: 1_000, paths: 5 + (seed % 26) });
      const started = performance.now();
      const violations = [...checkLinearizable(history), ...checkSessions(history)];
      checkMs += performance.now() - started;
      if (violations.length) failures.push(`seed ${seed}: ${violations[0]?.checker}: ${violations[0]?.message}`);
    }
    // Not an assertion (the machine is shared): how far the checkers are from the simulator's budget.
    console.log(`checked ${SEEDS} histories of 1,000 operations in ${Math.round(checkMs)} ms`);
    expect(failures).toEqual([]);
  });

  // The share of seeds each mutation must be caught in: below 1 because a broken answer can be
  // valid by chance (a stale read concurrent with the change it missed; a version one too high
  // when a write with no answer may have applied in between). Seeds are fixed, the rates too:
  // version 199/200, flip-outcome 195/200, stale-read 190/200 when written.
  const floors: [Mutation, number][] = [
    ["version", 0.97],
    ["flip-outcome", 0.9],
    ["stale-read", 0.85],
  ];
  for (const [mutation, floor] of floors) {
    it(`catch a ${mutation} mutation in at least ${floor * 100}% of ${SEEDS} seeds`, () => {
      expectCaught(mutation, floor, (generated, seed) => {
        expect(checkLinearizable(generated.history), `seed ${seed} before mutation`).toEqual([]);
        const mutated = mutateOnce(generated, mutation, seed);
        if (!mutated) return undefined;
        const violations = checkLinearizable(mutated.history);
        expect(violations.map((v) => v.checker).filter((c) => c !== "linearizability"), `seed ${seed}`).toEqual([]);
        return violations.length > 0;
      });
    });
  }

  // Caught only when the session already saw the change (or a later zxid) before the stale read,
  // or read at the event's zxid after it was due; otherwise the broken view is still a valid one.
  // When written: stale-sequential-read 167/200, drop-event 170/200.
  const sessionFloors: [SessionMutation, number][] = [
    ["stale-sequential-read", 0.75],
    ["drop-event", 0.75],
  ];
  for (const [mutation, floor] of sessionFloors) {
    it(`catch a ${mutation} mutation in at least ${floor * 100}% of ${SEEDS} seeds`, () => {
      expectCaught(mutation, floor, (generated, seed) => {
        const mutated = mutateSessionOnce(generated, mutation, seed);
        return mutated && checkSessions(mutated).length > 0;
      });
    });
  }
});

/** Over SEEDS histories of 300 operations, `caught` (undefined: no call fits) says true in at least `floor` of those it tried. */
function expectCaught(mutation: string, floor: number, caught: (generated: RandomHistory, seed: number) => boolean | undefined): void {
  let tried = 0;
  let hits = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const outcome = caught(randomHistory({ seed, operations: 300, paths: 5 + (seed % 26) }), seed);
    if (outcome === undefined) continue;
    tried++;
    if (outcome) hits++;
  }
  console.log(`${mutation}: caught ${hits} of ${tried}`);
  expect(tried).toBeGreaterThan(SEEDS * 0.9);
  expect(hits / tried).toBeGreaterThanOrEqual(floor);
}
