/**
 * `npm run sim -- --multis [--seeds N] [--first S] [--ops 100] [--every-step]`: per
 * seed, a run of `--ops` multis across shards with every fault (run-multis.ts); with
 * `--every-step`, also its scripted run crashed at each of its steps in turn. Prints
 * one line, then each failing run and how to replay it. Resolves to whether every run
 * held.
 */
import { crashPoints, runMultiSeed, type MultiSeedResult } from "./run-multis.ts";

/** The scripted run of a seed: six multis from one router. */
const SCRIPTED = { multis: 6, routers: 1 };

export async function runMultisCli(seeds: number, first: number, multis: number, everyStep: boolean): Promise<boolean> {
  const started = Date.now();
  const failed: string[] = [];
  const answers = { applied: 0, failed: 0, unknown: 0 };
  let crashes = 0;
  let moves = 0;
  let failovers = 0;
  let crashRuns = 0;
  const note = (result: MultiSeedResult, replay: string): void => {
    crashes += result.crashes;
    if (result.violations.length > 0) failed.push(`seed ${result.seed} (${replay}): ${result.violations[0]!.message}`);
  };
  for (let seed = first; seed < first + seeds; seed++) {
    const run = await runMultiSeed({ seed, multis });
    for (const kind of ["applied", "failed", "unknown"] as const) answers[kind] += run.answers[kind];
    moves += run.moves;
    failovers += run.failovers;
    note(run, `npm run sim -- --multis --seeds 1 --first ${seed} --ops ${multis}`);
    if (!everyStep) continue;
    const clean = await runMultiSeed({ seed, ...SCRIPTED, crashAt: [] });
    for (const points of crashPoints(clean.steps)) {
      crashRuns += 1;
      note(await runMultiSeed({ seed, ...SCRIPTED, crashAt: points }), `its scripted run crashed ${points[0]!.moment} step ${points[0]!.step}`);
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const scripted = everyStep ? `, ${crashRuns} scripted runs crashed at one step` : "";
  console.log(`sim --multis: ${seeds} seeds (${first}..${first + seeds - 1}), ${seeds * multis} multis with faults (answered applied ${answers.applied}, failed ${answers.failed}, not known ${answers.unknown}; ${moves} leader moves, ${failovers} failovers)${scripted}, ${crashes} crashes, ${failed.length} failing runs, ${seconds} s`);
  for (const line of failed.slice(0, 20)) console.log(line);
  return failed.length === 0;
}
