/**
 * One seeded run of multis across shards: three geo-tier shards (each a leader and
 * two sync replicas, txn-shards.ts, and a directory that moves and fails the leader
 * over, directory.ts), routers running multis (multi-router.ts; what they run and
 * how each is checked: multi-workload.ts), and faults: messages dropped, duplicated,
 * delayed (a few for seconds) and cut, copies crashing at any await and starting
 * again, routers crashing for good mid-multi (a new one goes on), planned moves of
 * leaders, directories crashing, and a leader's region going dark (long enough, a
 * failover). `crashAt` crashes instead the actors of given steps, before or once
 * each is done (a copy's write, or a router's call), with no other fault: run for
 * every step (and pairs of steps) of a clean run, it puts a crash at each step.
 *
 * Then the network heals, everything runs again, and once every move and failover
 * has ended and no part is left prepared at a leader (their alarms settle them),
 * each multi is checked at the shards' leaders: all of it applied or none; all of it
 * where its router answered it applied; none where it answered it failed; its parts'
 * rows agreeing.
 */
import { DirectoryNode } from "./directory.ts";
import type { Violation } from "./history.ts";
import { SimRouter, type RouterWorld } from "./multi-router.ts";
import { type MultiRecord, TABLE, checkMulti, initialNodes, shardOf } from "./multi-workload.ts";
import { SimNetwork } from "./network.ts";
import { SIM_SETTINGS, type SimEnv } from "./nodes.ts";
import { Prng, hashText } from "./prng.ts";
import { type Owner, Scheduler } from "./scheduler.ts";
import { TxnShardNode, directoryOf } from "./txn-shards.ts";

export interface MultiSeedOptions {
  seed: number;
  /** Multis run in all, by every router. */
  multis: number;
  /** Routers running multis at once (each one multi at a time). */
  routers?: number;
  /**
   * Crash the actor of each of these steps (counted from 1 over the run) before it or
   * once it is done, and no other fault (none given: a clean run, to count its steps).
   */
  crashAt?: CrashPoint[];
}

/** A step of a run (a shard's write or a router's call, counted from 1) and whether its actor crashes before it or once it is done. */
export interface CrashPoint {
  step: number;
  moment: "before" | "after";
}

export interface MultiSeedResult {
  seed: number;
  multis: number;
  /** How the routers' answers went: applied, failed (nothing applied), or not known (lost, or its router crashed). */
  answers: { applied: number; failed: number; unknown: number };
  /** Steps the run took (shards' writes and routers' calls): the crash points a clean run offers. */
  steps: number;
  crashes: number;
  /** Moves of a shard's leader that ended moved, and failovers whose candidate led. */
  moves: number;
  failovers: number;
  hash: string;
  violations: Violation[];
}

/** Simulated ms allowed, once faults end, for every part left prepared to be settled. */
const SETTLE_MS = 60_000;
const RUN_LIMIT_MS = 3_600_000;

export async function runMultiSeed(options: MultiSeedOptions): Promise<MultiSeedResult> {
  const prng = new Prng(options.seed);
  const scheduler = new Scheduler();
  const scripted = options.crashAt !== undefined;
  const faults = scripted
    ? { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 10, rpcTimeoutMs: 600 }
    : { dropRate: 0.03, duplicateRate: 0.03, minDelayMs: 1, maxDelayMs: 30, rpcTimeoutMs: 8_000, stallRate: 0.01, stallMs: 6_000 };
  const network = new SimNetwork(scheduler, prng, faults);
  const env: SimEnv = { scheduler, network, prng, settings: SIM_SETTINGS, fire: () => undefined, rearm: (_node, watch) => watch, leaderCommitted: () => undefined };
  let steps = 0;
  let crashes = 0;
  /** Counts a step of `crash`'s actor; says whether the step crashes it now. */
  const step = (moment: "before" | "after", crash: () => void): boolean => {
    if (moment === "before") steps += 1;
    if (!options.crashAt?.some((point) => point.step === steps && point.moment === moment)) return false;
    crashes += 1;
    crash();
    return true;
  };
  const copies = new Map<string, TxnShardNode>();
  const addCopy = (name: string, madeFor?: string): TxnShardNode => {
    const copy = new TxnShardNode(name, env, madeFor);
    copies.set(name, copy);
    return copy;
  };
  // Each shard: a leader and two sync replicas (geo tier), and its directory, which moves and fails the leader over.
  const directories = TABLE.mounts.map((mount, i) => {
    const leader = addCopy(`${mount.shard}.L`);
    leader.start();
    leader.core!.activate(1);
    initialNodes(i).forEach((path, k) => leader.core!.write(0, k + 1, { op: "create", path, data: "" }));
    const syncReplicas = ["R1", "R2"].map((replica) => addCopy(`${mount.shard}.${replica}`, leader.name).name);
    leader.core!.setSyncReplicas(syncReplicas);
    const directory = new DirectoryNode(scheduler, network, leader.name, directoryOf(leader.name));
    directory.copies = () => [leader.name, ...syncReplicas];
    directory.start();
    directory.makeGeo(syncReplicas);
    return directory;
  });
  // Started once every shard exists; from then on each write of a copy is a step (a crash point).
  for (const copy of copies.values()) {
    if (!copy.up) copy.start();
    copy.storage.onWrite = (moment) =>
      void step(moment === "commit" ? "before" : "after", () => {
        copy.crash();
        scheduler.after(100, { alive: true }, () => copy.start());
      });
  }
  const directoryOfShard = (shard: string): DirectoryNode => directories[TABLE.mounts.findIndex((mount) => mount.shard === shard)]!;
  const leaderOf = (shard: string): TxnShardNode => copies.get(directoryOfShard(shard).placement().leader)!;

  const records: MultiRecord[] = [];
  let multisLeft = options.multis;
  let multiIds = 0;
  const world: RouterWorld = {
    scheduler, network, prng, step,
    directoryOf: (shard) => directoryOfShard(shard).name,
    multisLeft: () => multisLeft,
    takeMulti: () => (multisLeft--, ++multiIds),
    record: (multi) => void records.push(multi),
  };
  const routers = new Map<string, SimRouter>();
  let routerCount = 0;
  let running = 0;
  const startRouter = (): void => {
    const router = new SimRouter(`router${++routerCount}`, world);
    routers.set(router.name, router);
    running += 1;
    void router.run().then(() => {
      running -= 1;
      routers.delete(router.name);
      // A router that crashed is gone: another takes the multis left.
      if (!router.alive && !scripted) scheduler.after(prng.int(10, 300), { alive: true }, startRouter);
    });
  };
  for (let i = 0; i < (options.routers ?? 4); i++) startRouter();

  const injector: Owner = { alive: !scripted };
  const injectFault = (): void => {
    const roll = prng.next();
    const all = [...copies.values()];
    if (roll < 0.4) {
      const copy = prng.pick(all);
      if (copy?.up) {
        crashes += 1;
        copy.crash();
        scheduler.after(prng.int(5, 300), { alive: true }, () => copy.start());
      }
    } else if (roll < 0.5) {
      const router = prng.pick([...routers.values()].filter((r) => r.alive));
      if (router) {
        crashes += 1;
        router.crash();
      }
    } else if (roll < 0.56) {
      // A planned move of a shard's leader to one of its sync replicas.
      const directory = prng.pick(directories)!;
      const placement = directory.placement();
      directory.move(prng.pick((placement.syncReplicas ?? []).filter((copy) => copy !== placement.leader))!);
    } else if (roll < 0.6) {
      const directory = prng.pick(directories)!;
      if (directory.up) {
        directory.crash();
        scheduler.after(prng.int(5, 300), { alive: true }, () => directory.start());
      }
    } else if (roll < 0.62) {
      // A shard's leader's region dark: shorter than the detection time, or long enough for a failover.
      const dark = leaderOf(prng.pick(TABLE.mounts)!.shard).name;
      const until = scheduler.now + prng.int(200, 6_000);
      for (const other of [...copies.keys(), ...directories.map((d) => d.name), ...routers.keys()]) if (other !== dark) network.partition(dark, other, until);
    } else {
      const a = prng.pick(all)!.name;
      const b = prng.chance(0.5) ? prng.pick(all)!.name : prng.pick([...routers.keys()]);
      if (b !== undefined && a !== b) network.partition(a, b, scheduler.now + prng.int(100, 1_500));
    }
    scheduler.after(prng.int(50, 400), injector, injectFault);
  };
  scheduler.after(prng.int(20, 250), injector, injectFault);

  const violations: Violation[] = [];
  await scheduler.run(() => (running === 0 && (multisLeft <= 0 || scripted)) || scheduler.now > RUN_LIMIT_MS);
  if (running > 0) violations.push({ checker: "multis", message: `${running} routers had not finished after ${RUN_LIMIT_MS} simulated ms`, calls: [] });
  injector.alive = false;
  network.heal();
  for (const copy of copies.values()) if (!copy.up) copy.start();
  for (const directory of directories) if (!directory.up) directory.start();
  const settled = (directory: DirectoryNode): boolean => {
    const placement = directory.placement();
    return !placement.move && (!placement.failover || placement.failover.step === "done");
  };
  const leftPrepared = (): string[] => TABLE.mounts.flatMap((mount) => leaderOf(mount.shard).preparedTxns().map((txn) => `${txn} at ${mount.shard}`));
  const deadline = scheduler.now + SETTLE_MS;
  await scheduler.run(() => (directories.every(settled) && leftPrepared().length === 0) || scheduler.now > deadline);
  const left = leftPrepared();
  if (left.length > 0) violations.push({ checker: "multis", message: `parts still prepared ${SETTLE_MS} ms after the faults ended: ${left.slice(0, 5).join(", ")}`, calls: [] });
  if (!directories.every(settled)) violations.push({ checker: "multis", message: `a move or failover had not ended ${SETTLE_MS} ms after the faults ended`, calls: [] });
  violations.push(...records.flatMap((record) => checkMulti(record, (path) => leaderOf(shardOf(path)).has(path), (shard) => leaderOf(shard).partOf(record.txn ?? ""))));
  const answered = (kind: NonNullable<MultiRecord["answer"]>) => records.filter((record) => record.answer === kind).length;
  return {
    seed: options.seed,
    multis: records.length,
    answers: { applied: answered("applied"), failed: answered("failed"), unknown: records.length - answered("applied") - answered("failed") },
    steps,
    crashes,
    moves: directories.reduce((sum, d) => sum + d.outcomes.filter((o) => o.kind === "moved").length, 0),
    failovers: directories.reduce((sum, d) => sum + d.failovers.length, 0),
    hash: hashText(JSON.stringify(records)),
    violations,
  };
}

/** Every crash point of a clean scripted run of `steps` steps, alone; with `pairsEvery`, every that-many-th pair of them instead. */
export function crashPoints(steps: number, pairsEvery?: number): CrashPoint[][] {
  const singles = Array.from({ length: steps }, (_, i) => (["before", "after"] as const).map((moment): CrashPoint => ({ step: i + 1, moment }))).flat();
  if (pairsEvery === undefined) return singles.map((point) => [point]);
  const pairs = singles.flatMap((first, i) => singles.slice(i + 1).filter((second) => second.step > first.step).map((second) => [first, second]));
  return pairs.filter((_, i) => i % pairsEvery === 0);
}
