/**
 * One seeded run: a leader and replicas around the replication core, sessions driving
 * it, faults injected throughout, then healing, convergence and every check.
 * The same seed gives the same history (and hash).
 */
import { checkLinearizable } from "./checkers/linearizability.ts";
import { checkSessions } from "./checkers/sessions.ts";
import { SimSession, type SessionWorld } from "./clients.ts";
import type { HistoryEntry, Violation } from "./history.ts";
import { Links } from "./links.ts";
import { SimNetwork } from "./network.ts";
import { recreateLeader } from "./leader-reset.ts";
import { LeaderNode, ReplicaNode, SIM_SETTINGS, type SimEnv, type SimNode, type SimWatch } from "./nodes.ts";
import { Prng, hashText } from "./prng.ts";
import { Scheduler } from "./scheduler.ts";
import { checkAcknowledged, checkLogPrefix, checkSameRows, checkSealed, checkTrimmedBehindReplicas } from "./state-checks.ts";

export interface SeedOptions {
  seed: number;
  ops: number;
  sessions?: number;
  regions?: number;
  /** Faults off: only the network's delays (the model run). */
  quiet?: boolean;
}

export interface SeedResult {
  seed: number;
  ops: number;
  faults: number;
  hash: string;
  violations: Violation[];
  history: HistoryEntry[];
}

/** Simulated ms allowed after the last operation for replicas to catch up. */
const CONVERGE_MS = 120_000;

export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const prng = new Prng(options.seed);
  const scheduler = new Scheduler();
  const faults = options.quiet
    ? { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 10, rpcTimeoutMs: 600 }
    : { dropRate: 0.03, duplicateRate: 0.03, minDelayMs: 1, maxDelayMs: 30, rpcTimeoutMs: 600 };
  const network = new SimNetwork(scheduler, prng, faults);
  const links = new Links(scheduler, network, 1_500);
  const nodes = new Map<string, SimNode>();
  const sessions: SimSession[] = [];
  const regions = options.regions ?? 3;
  const settings = SIM_SETTINGS;
  const regionReplica = new Map<number, string>();
  let faultCount = 0;
  let replicaCount = 0;
  const invariants: Violation[] = [];
  const seals: Array<{ zxid: number }> = [];

  const env: SimEnv = {
    scheduler, network, prng, settings,
    fire: (node: string, watch: SimWatch, zxid: number) => {
      const session = sessions[watch.session - 1];
      if (session) links.send(node, session.name, { alive: true }, () => session.onEvent(watch, zxid));
    },
    leaderCommitted: () => {
      if (invariants.length < 5) invariants.push(...checkTrimmedBehindReplicas(leader.storage, scheduler.now, settings));
    },
  };
  // Replaced once, by the last fault (recreateLeader).
  let leader = new LeaderNode("L", env);
  nodes.set("L", leader);
  leader.start();
  leader.core!.activate(1);
  const addReplica = (region: number): void => {
    const replica = new ReplicaNode(`R${++replicaCount}`, "L", env);
    nodes.set(replica.name, replica);
    regionReplica.set(region, replica.name);
    replica.start();
  };
  for (let region = 0; region < regions; region++) addReplica(region);

  let opsLeft = options.ops;
  let callIds = 0;
  const world: SessionWorld = {
    scheduler, network, links, prng, history: [], acknowledged: [],
    node: (name) => nodes.get(name),
    replicaOf: (region) => regionReplica.get(region),
    takeOp: () => opsLeft-- > 0,
    nextCallId: () => ++callIds,
  };
  for (let id = 1; id <= (options.sessions ?? 6); id++) sessions.push(new SimSession(id, id % regions, world));

  let running = sessions.length;
  for (const session of sessions) void session.run().finally(() => running--);
  const injector = { alive: !options.quiet };
  const injectFault = (): void => {
    if (running === 0) return;
    faultCount += injectOne();
    scheduler.after(prng.int(20, 250), injector, injectFault);
  };
  const injectOne = (): number => {
    const roll = prng.next();
    const replicas = [...nodes.values()].filter((n): n is ReplicaNode => n instanceof ReplicaNode && !n.destroyed);
    if (roll < 0.35) {
      const node = prng.chance(0.3) ? leader : prng.pick(replicas);
      if (!node?.up) return 0;
      node.crash();
      for (const s of sessions) if (s.home === node.name) s.homeLost(false);
      scheduler.after(prng.int(5, 300), { alive: true }, () => node.start());
      return 1;
    }
    if (roll < 0.6) {
      // A replica cut off for long falls behind the log's bound (while its lease holds the log back).
      const replica = prng.chance(0.5) ? prng.pick(replicas)?.name : undefined;
      const other = replica ?? prng.pick(sessions).name;
      if (other) network.partition("L", other, scheduler.now + prng.int(100, replica ? 5_000 : 1_500));
      return 0; // counted by the network
    }
    if (roll < 0.7) {
      const victim = prng.pick(replicas);
      if (!victim) return 0;
      victim.destroyed = true;
      victim.crash();
      nodes.delete(victim.name);
      const region = [...regionReplica].find(([, name]) => name === victim.name)?.[0];
      if (region !== undefined) regionReplica.delete(region);
      for (const s of sessions) if (s.home === victim.name) s.homeLost(true);
      if (leader.up) leader.core!.forgetReplica(victim.name);
      if (region !== undefined) scheduler.after(prng.int(50, 1_000), { alive: true }, () => addReplica(region));
      return 1;
    }
    if (roll < 0.78) {
      // An epoch change of the leader: seal at its last zxid, then lead again at the next epoch.
      if (!leader.up || leader.meta().role !== "leader") return 0;
      const epoch = leader.meta().promisedEpoch + 1;
      const sealed = leader.core!.seal(epoch);
      if (typeof sealed !== "number") return 0;
      seals.push({ zxid: sealed });
      const activate = (): void => {
        if (leader.up) leader.core!.activate(epoch);
        else scheduler.after(50, { alive: true }, activate);
      };
      scheduler.after(prng.int(10, 300), { alive: true }, activate);
      return 1;
    }
    return 0;
  };
  if (!options.quiet) scheduler.after(prng.int(20, 250), injector, injectFault);

  await scheduler.run(() => running === 0);
  injector.alive = false;
  network.heal();
  for (const node of nodes.values()) if (!node.up) node.start();
  /** Runs until every replica has applied the leader's last zxid (or CONVERGE_MS passes), then compares each with it. */
  const convergeAndCheck = async (): Promise<Violation[]> => {
    const converged = (): boolean => {
      const last = leader.meta().appliedZxid;
      return [...nodes.values()].every((n) => n === leader || (n.meta().appliedZxid === last && n.meta().snapshot === null));
    };
    const deadline = scheduler.now + CONVERGE_MS;
    await scheduler.run(() => converged() || scheduler.now > deadline);
    const found: Violation[] = [];
    if (!converged()) found.push({ checker: "state", message: `replicas did not catch up with the leader within ${CONVERGE_MS} ms`, calls: [] });
    for (const node of nodes.values()) {
      if (node === leader) continue;
      if (converged()) found.push(...checkSameRows(leader.storage, node.storage, node.name));
      found.push(...checkLogPrefix(leader.storage, node.storage, node.name));
    }
    return found;
  };
  const converging = await convergeAndCheck();

  const history = world.history;
  const violations: Violation[] = [...checkLinearizable(history), ...checkSessions(history), ...checkAcknowledged(leader.storage, world.acknowledged), ...invariants, ...checkSealed(leader.storage, seals), ...converging];
  if (!options.quiet) {
    // The last fault, after the history's checks: a reset's leader, empty under the old one's name.
    leader = recreateLeader(leader, env);
    nodes.set(leader.name, leader);
    faultCount += 1;
    violations.push(...(await convergeAndCheck()));
  }
  const ops = history.filter((e) => e.kind === "call").length;
  return { seed: options.seed, ops, faults: faultCount + network.faultCount, hash: hashText(JSON.stringify(history)), violations, history };
}

