/**
 * One seeded run of multis across shards: three geo-tier shards (each a leader and
 * two sync replicas, txn-shards.ts, and a directory that moves and fails the leader
 * over, directory.ts), routers running multis through the router's own plan
 * (durable/directory/cross-shard-multi.ts), and faults: messages dropped, duplicated,
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
import { type CrossShardCalls, planCrossShardMulti, runCrossShardMulti } from "../../durable/directory/cross-shard-multi.ts";
import { type MountTable, mountFor } from "../../durable/directory/mount-table.ts";
import type { Placement } from "../../durable/replication/core/index.ts";
import type { MultiOp, MultiWriteOp, Outcome } from "../../protocol/index.ts";
import { DirectoryNode, type WhereRequest } from "./directory.ts";
import type { Violation } from "./history.ts";
import { SimNetwork } from "./network.ts";
import { SIM_SETTINGS, type SimEnv } from "./nodes.ts";
import { Prng, hashText } from "./prng.ts";
import { type Owner, Scheduler } from "./scheduler.ts";
import { type TxnShardRequest, TxnShardNode, directoryOf } from "./txn-shards.ts";

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

/** The shards, by the subtree each serves (S0 everything else). */
const TABLE: MountTable = { version: 1, mounts: [{ prefix: "/", shard: "S0" }, { prefix: "/s1", shard: "S1" }, { prefix: "/s2", shard: "S2" }] };
/** A node on each shard that every multi may check, and that a multi creating it fails on. */
const FIXED = ["/fixed", "/s1/fixed", "/s2/fixed"];
/** A node on each shard that multis set (some at the version they read) and plain writes set too: what holds keep. */
const HOT = ["/hot", "/s1/hot", "/s2/hot"];
/** Simulated ms allowed, once faults end, for every part left prepared to be settled. */
const SETTLE_MS = 60_000;
const RUN_LIMIT_MS = 3_600_000;

/** A multi as its router ran it: its ops, whether it must fail, and its answer (undefined: its router crashed first). */
interface MultiRecord {
  id: number;
  /** Its transaction's id, once its router began it. */
  txn?: string;
  ops: MultiWriteOp[];
  mustFail: boolean;
  answer?: "applied" | "failed" | "unknown";
}

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
    [...(i === 0 ? [] : [mount.prefix]), FIXED[i]!, HOT[i]!].forEach((path, k) => leader.core!.write(0, k + 1, { op: "create", path, data: "" }));
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
  /** Each router's crash, by name (routers crash for good). */
  const routers = new Map<string, () => void>();
  let routerCount = 0;
  let running = 0;
  const runRouter = async (): Promise<void> => {
    const name = `router${++routerCount}`;
    const owner: Owner = { alive: true };
    let crashed!: () => void;
    const gone = new Promise<undefined>((resolve) => (crashed = () => resolve(undefined)));
    const crash = (): void => {
      owner.alive = false;
      routers.delete(name);
      crashed();
    };
    routers.set(name, crash);
    running += 1;
    let txns = 0;
    let current: MultiRecord | undefined;
    const send = <T>(to: string, request: TxnShardRequest | WhereRequest): Promise<T> => {
      if (step("before", crash)) return gone as Promise<never>;
      const sent = network.request<T>(name, owner, to, request);
      step("after", crash);
      return sent;
    };
    /** The copy leading each shard, as its directory last said (asked again after a "not the leader"). */
    const leaders = new Map<string, string>();
    const findLeaders = (shards: readonly string[]): Promise<unknown> =>
      Promise.all(shards.map((shard) => send<Placement>(directoryOfShard(shard).name, { type: "where" }).then((p) => void leaders.set(shard, p.leader), () => undefined)));
    const leaderCopy = (shard: string): string => leaders.get(shard) ?? `${shard}.L`;
    /** Sends a part to apply at its shard's leader, again at the leader now while the copy asked no longer leads (as the router's untilServed). */
    const applyAt = async (shard: string, request: TxnShardRequest): Promise<Outcome> => {
      for (let attempt = 0; ; attempt++) {
        const outcome = await send<Outcome>(leaderCopy(shard), request);
        if (outcome.ok || outcome.notLeader !== true || attempt === 9) return outcome;
        await scheduler.sleep(200, owner);
        await findLeaders([shard]);
      }
    };
    const calls: CrossShardCalls = {
      begin: () => ({ id: (current!.txn = `${name}-${String(++txns).padStart(4, "0")}`), startedAt: scheduler.now }),
      prepare: (mount, txn, part) => send(leaderCopy(mount.shard), { type: "prepare", txn, ops: part.ops }),
      release: (mount, txn) => send(leaderCopy(mount.shard), { type: "release", txn }),
      inBackground: (work) => void work,
      write: (mount, multi) => applyAt(mount.shard, { type: "apply", txn: multi.txn!, ops: multi.ops }),
      commit: (part) => applyAt(shardOf(part.ops[0]!.path), { type: "apply", txn: part.txn!, ops: part.ops }),
      deciderOf: (mount) => leaderCopy(mount.shard),
    };
    /** Waits for `call`'s answer, or undefined once this router crashed (or the call failed). */
    const answerOf = <T>(call: Promise<T>): Promise<T | undefined> => Promise.race([call.catch(() => undefined), gone]);
    /** Runs the multi's plan, again from the leaders now while a shard answers it does not lead (each try a new transaction). */
    const runMulti = async (multi: MultiOp): Promise<Outcome | "elsewhere"> => {
      const plan = planCrossShardMulti(TABLE, multi)!;
      for (let attempt = 0; ; attempt++) {
        const answer = await runCrossShardMulti(plan, multi, calls);
        if (answer !== "elsewhere" || attempt === 9) return answer;
        await scheduler.sleep(200, owner);
        await findLeaders(TABLE.mounts.map((mount) => mount.shard));
      }
    };
    while (owner.alive && multisLeft > 0) {
      // A plain write at times, which waits while a prepared part holds the node.
      if (prng.chance(0.2)) {
        const hot = prng.pick(HOT);
        await answerOf(applyAt(shardOf(hot), { type: "plain-write", ops: [{ op: "setData", path: hot, data: null, version: -1 }] }));
        if (!owner.alive) break;
      }
      multisLeft -= 1;
      const record = (current = await newMulti(++multiIds, prng, (path) => answerOf(send<number>(leaderCopy(shardOf(path)), { type: "version", path })).then((version) => version ?? 0)));
      if (!owner.alive) break;
      records.push(record);
      const answer = await Promise.race([runMulti({ op: "multi", ops: record.ops }).catch(() => "lost" as const), gone]);
      if (answer === undefined) break;
      // ConnectionLoss and, at a geo-tier shard, OperationTimeout leave the multi's fate unknown.
      const unknown = answer === "lost" || answer === "elsewhere" || (!answer.ok && (answer.error.name === "ConnectionLoss" || answer.error.name === "OperationTimeout"));
      record.answer = unknown ? "unknown" : answer.ok ? "applied" : "failed";
      if (!(await Promise.race([scheduler.sleep(prng.int(0, 50), owner).then(() => true), gone]))) break;
    }
    running -= 1;
    routers.delete(name);
    // A router that crashed is gone: another takes the multis left.
    if (!owner.alive && !scripted) scheduler.after(prng.int(10, 300), { alive: true }, () => void runRouter());
  };
  for (let i = 0; i < (options.routers ?? 4); i++) void runRouter();

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
      const router = prng.pick([...routers.values()]);
      if (router) {
        crashes += 1;
        router();
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

/**
 * A multi over two or three shards: a create of a path of its own on each, a set of
 * a shard's hot node at times (half of those at the version `versionOf` reads now, so
 * it fails if another write comes first), a check of a shard's fixed node at times,
 * and, one time in five, a create of a fixed node, which fails the whole multi. In a
 * random order.
 */
async function newMulti(id: number, prng: Prng, versionOf: (path: string) => Promise<number>): Promise<MultiRecord> {
  const shards = [0, 1, 2].filter(() => prng.chance(0.7));
  while (shards.length < 2) {
    const more = prng.int(0, 2);
    if (!shards.includes(more)) shards.push(more);
  }
  const prefixOf = (shard: number) => (shard === 0 ? "" : TABLE.mounts[shard]!.prefix);
  const ops: MultiWriteOp[] = shards.map((shard) => ({ op: "create", path: `${prefixOf(shard)}/m${id}` }));
  for (const shard of shards) {
    if (prng.chance(0.4)) ops.push({ op: "setData", path: HOT[shard]!, data: null, version: prng.chance(0.5) ? await versionOf(HOT[shard]!) : -1 });
  }
  if (prng.chance(0.3)) ops.push({ op: "check", path: FIXED[prng.pick(shards)]!, version: 0 });
  const mustFail = prng.chance(0.2);
  if (mustFail) ops.push({ op: "create", path: FIXED[prng.pick(shards)]! });
  for (let i = ops.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [ops[i], ops[j]] = [ops[j]!, ops[i]!];
  }
  return { id, ops, mustFail };
}

/** The shard serving `path`. */
function shardOf(path: string): string {
  return mountFor(TABLE, path).shard;
}

/** A multi's creates, all applied or none, as its answer says; and its parts' rows agree. */
function checkMulti(record: MultiRecord, exists: (path: string) => boolean, partAt: (shard: string) => string): Violation[] {
  const creates = record.ops.filter((op) => op.op === "create" && !FIXED.includes(op.path)).map((op) => op.path);
  const applied = creates.filter(exists);
  const found = (message: string): Violation[] => [{ checker: "multis", message: `multi ${record.id} (${record.ops.map((op) => `${op.op} ${op.path}`).join(", ")}): ${message}`, calls: [] }];
  if (applied.length > 0 && applied.length < creates.length) return found(`partly applied: ${applied.join(", ")} but not ${creates.filter((path) => !applied.includes(path)).join(", ")}`);
  if (applied.length > 0 && record.mustFail) return found("applied, though one of its ops fails");
  if (applied.length > 0 && record.answer === "failed") return found("applied, though its router answered that it failed");
  if (applied.length === 0 && record.answer === "applied") return found("answered applied, but none of it is");
  const parts = [...new Set(record.ops.map((op) => shardOf(op.path)))].map((shard) => [shard, partAt(shard)] as const);
  const committed = parts.some(([, part]) => part === "applied" || part === "failed to apply");
  if (committed && !parts.every(([, part]) => part === "applied")) return found(`its parts' rows disagree: ${parts.map((part) => part.join(" ")).join(", ")}`);
  return [];
}

/** Every crash point of a clean scripted run of `steps` steps, alone; with `pairsEvery`, every that-many-th pair of them instead. */
export function crashPoints(steps: number, pairsEvery?: number): CrashPoint[][] {
  const singles = Array.from({ length: steps }, (_, i) => (["before", "after"] as const).map((moment): CrashPoint => ({ step: i + 1, moment }))).flat();
  if (pairsEvery === undefined) return singles.map((point) => [point]);
  const pairs = singles.flatMap((first, i) => singles.slice(i + 1).filter((second) => second.step > first.step).map((second) => [first, second]));
  return pairs.filter((_, i) => i % pairsEvery === 0);
}
