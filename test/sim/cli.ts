/**
 * `npm run sim -- --seeds N --first S [--ops 1000] [--soak] [--geo [--restarts-only]]`: runs seeds of the
 * replication simulator and prints one line (seeds, operations, faults, violations),
 * then, per failing seed, its number and first violations. Exit code 1 on any.
 * `--geo`: a geo-tier shard (two sync replicas), its leader's region going dark among the faults;
 * with `--restarts-only`, copies restarting are the only fault (every failover then is one too many).
 * `--multis`: multis across shards instead (multis-cli.ts), `--ops` of them per seed (100 unless set);
 * with `--every-step`, each seed's scripted run is also crashed at each of its steps.
 */
import { parseArgs } from "node:util";
import { runMultisCli } from "./multis-cli.ts";
import { runSeed, type SeedResult } from "./run-seed.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    first: { type: "string", default: "1" },
    ops: { type: "string" },
    soak: { type: "boolean", default: false },
    hash: { type: "boolean", default: false },
    geo: { type: "boolean", default: false },
    "restarts-only": { type: "boolean", default: false },
    multis: { type: "boolean", default: false },
    "every-step": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log("npm run sim -- [--seeds N=200] [--first S=1] [--ops 1000] [--soak: 5,000 seeds of 5,000 ops unless set] [--geo: a geo-tier shard, with region outages] [--restarts-only: with --geo, restarts the only fault] [--hash: print each seed's history hash] [--multis: multis across shards, --ops of them (100) per seed [--every-step: and a run crashed at each step]]");
  process.exit(0);
}

// Soak: many seeds, bigger runs, unless told otherwise.
const seeds = Number(values.seeds ?? (values.soak ? 5_000 : 200));
const ops = Number(values.ops ?? (values.multis ? 100 : values.soak ? 5_000 : 1_000));
const first = Number(values.first);
if (![seeds, ops, first].every((n) => Number.isInteger(n) && n >= 0)) {
  console.error("--seeds, --first and --ops take whole numbers");
  process.exit(2);
}
if (values.multis) process.exit((await runMultisCli(seeds, first, ops, values["every-step"])) ? 0 : 1);

const failed: SeedResult[] = [];
let totalOps = 0;
let totalFaults = 0;
let totalViolations = 0;
const moves = { moved: 0, abandoned: 0 };
const pausesMs: number[] = [];
const failoverMs: number[] = [];
let unexplained = 0;
const started = Date.now();
for (let seed = first; seed < first + seeds; seed++) {
  const result = await runSeed({ seed, ops, geo: values.geo, restartsOnly: values["restarts-only"] });
  unexplained += result.failovers.unexplained;
  failoverMs.push(...result.failovers.detectToLedMs);
  totalOps += result.ops;
  totalFaults += result.faults;
  moves.moved += result.moves.moved;
  moves.abandoned += result.moves.abandoned;
  pausesMs.push(...result.moves.pausesMs);
  totalViolations += result.violations.length;
  if (values.hash) console.log(`seed ${seed} history ${result.hash}`);
  if (result.violations.length > 0) failed.push(result);
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
const pause = (q: number) => Math.round(quantile(pausesMs, q));
const failovers = values.geo ? `${failoverMs.length} failovers (${unexplained} with no outage; leader last heard to new leader p50 ${Math.round(quantile(failoverMs, 0.5))} p99 ${Math.round(quantile(failoverMs, 0.99))} simulated ms), ` : "";
console.log(`sim: ${seeds} seeds (${first}..${first + seeds - 1}), ${totalOps} operations, ${totalFaults} faults, ${moves.moved} leader moves (${moves.abandoned} abandoned; write pause p50 ${pause(0.5)} p99 ${pause(0.99)} simulated ms), ${failovers}${totalViolations} violations, ${failed.length} failing seeds, ${seconds} s`);
for (const result of failed) {
  console.log(`seed ${result.seed} (history ${result.hash}; replay: npm run sim -- --seeds 1 --first ${result.seed} --ops ${ops}${values.geo ? " --geo" : ""}${values["restarts-only"] ? " --restarts-only" : ""}):`);
  for (const v of result.violations.slice(0, 3)) console.log(`  [${v.checker}] ${v.message.split("\n")[0]}`);
}
process.exit(failed.length > 0 ? 1 : 0);
