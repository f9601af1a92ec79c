/**
 * One seeded run: a leader and replicas around the replication core, a directory
 * that moves the leader among them (handovers), sessions driving it, faults injected
 * throughout, then healing, convergence and every check.
 * The same seed gives the same history (and hash).
 */
import { checkLinearizable } from "./checkers/linearizability.ts";
import { checkSessions } from "./checkers/sessions.ts";
import { SimSession, type SessionWorld } from "./clients.ts";
import { DirectoryNode, SIM_HANDOVER_SETTINGS } from "./directory.ts";
import type { FailoverStep, HandoverStep } from "../../durable/replication/core/index.ts";
import type { HistoryEntry, Violation } from "./history.ts";
import { Links } from "./links.ts";
import { SimNetwork } from "./network.ts";
import { recreateLeader } from "./leader-reset.ts";
import { SIM_SETTINGS, ShardNode, type SimEnv, type SimWatch } from "./nodes.ts";
import { Prng, hashText } from "./prng.ts";
import { Scheduler } from "./scheduler.ts";
import { checkAcknowledged, checkAppliedOnce, checkLogPrefix, checkOneLeader, checkSameRows, checkSealed, checkTrimmedBehindReplicas, EpochWriters } from "./state-checks.ts";

export interface SeedOptions {
  seed: number;
  ops: number;
  sessions?: number;
  regions?: number;
  /** Faults off: only the network's delays (the model run). */
  quiet?: boolean;
  /**
   * One move of the leader to the first replica, at `atMs`, its directory crashed once
   * as it stores `killAt` (and started again 100 ms later); `abandon` cuts the leader
   * off from the directory as it asks for the seal, for longer than the seal may take.
   */
  move?: { atMs: number; killAt?: HandoverStep | "done"; abandon?: boolean };
  /**
   * A geo-tier shard: the first two replicas are its sync replicas, and faults include
   * its leader's region going dark (cut off from every other object and session).
   */
  geo?: boolean;
  /**
   * Restarts alone (with `geo`): every 0.5 to 2.5 s one copy crashes and starts again
   * 5 to 300 ms later, the leader three times in ten; no other fault, no outage. A
   * failover then is one caused by restarts alone.
   */
  restartsOnly?: boolean;
  /** One outage of the leader's region at `atMs` for `forMs`, its directory crashed as it stores `killAt`. */
  outage?: { atMs: number; forMs: number; killAt?: FailoverStep };
}

export interface SeedResult {
  seed: number;
  ops: number;
  faults: number;
  /** The leader's moves that ended, moved or abandoned. */
  moves: { moved: number; abandoned: number; pausesMs: number[] };
  /** Failovers whose candidate led: simulated ms from the old leader last heard to the new one leading; how many no outage explains (restarts or lost messages alone). */
  failovers: { count: number; detectToLedMs: number[]; unexplained: number };
  /** The copy the directory names as the leader at the end. */
  leader: string;
  hash: string;
  violations: Violation[];
  history: HistoryEntry[];
}

/** Simulated ms allowed after the last operation for replicas to catch up. */
const CONVERGE_MS = 120_000;
/** How long before an outage's start the leader may have been last heard for the failover to follow that outage (a probe's interval and its answer's flight, with margin). */
const UNEXPLAINED_SLACK_MS = 1_000;
/** Simulated ms the sessions may take for their operations: a run stuck (a failover that cannot finish, say) ends as a violation. */
const RUN_LIMIT_MS = 3_600_000;

export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const prng = new Prng(options.seed);
  const scheduler = new Scheduler();
  const faults = options.quiet
    ? { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 10, rpcTimeoutMs: 600 }
    : { dropRate: 0.03, duplicateRate: 0.03, minDelayMs: 1, maxDelayMs: 30, rpcTimeoutMs: 600 };
  const network = new SimNetwork(scheduler, prng, faults);
  const links = new Links(scheduler, network, 1_500);
  const nodes = new Map<string, ShardNode>();
  const sessions: SimSession[] = [];
  const regions = options.regions ?? 3;
  const settings = SIM_SETTINGS;
  const regionReplica = new Map<number, string>();
  let faultCount = 0;
  let replicaCount = 0;
  const invariants: Violation[] = [];
  let callIds = 0;
  const epochWriters = new EpochWriters();

  const env: SimEnv = {
    scheduler, network, prng, settings,
    fire: (node: string, watch: SimWatch, zxid: number, guessed: boolean) => {
      const session = sessions[watch.session - 1];
      if (session) links.send(node, session.name, { alive: true }, () => session.onEvent(watch, zxid, guessed));
    },
    rearm: (node: string, watch: SimWatch, zxid: number) => {
      const renewed = { ...watch, setBy: ++callIds, zxid };
      const session = sessions[watch.session - 1];
      if (session) links.send(node, session.name, { alive: true }, () => session.onRearmed(node, watch, renewed));
      return renewed;
    },
    leaderCommitted: (committer, entries) => {
      if (invariants.length < 5) invariants.push(...checkTrimmedBehindReplicas(committer.storage, scheduler.now, settings), ...epochWriters.committed(committer.name, entries));
    },
  };
  const first = new ShardNode("L", env);
  nodes.set(first.name, first);
  first.start();
  first.core!.activate(1);
  const directory = new DirectoryNode(scheduler, network, first.name);
  directory.start();
  /** The copy the directory names as the leader (a handover moves it; the last fault recreates it). */
  const leader = (): ShardNode => nodes.get(directory.placement().leader)!;
  const addReplica = (region: number): void => {
    const replica = new ShardNode(`R${++replicaCount}`, env, leader().name);
    nodes.set(replica.name, replica);
    regionReplica.set(region, replica.name);
    replica.start();
  };
  for (let region = 0; region < regions; region++) addReplica(region);
  directory.copies = () => [...nodes.values()].filter((n) => !n.destroyed).map((n) => n.name);
  if (options.geo || options.outage) {
    const syncReplicas = ["R1", "R2"];
    first.core!.setSyncReplicas(syncReplicas);
    directory.makeGeo(syncReplicas);
  }
  /** Cuts the leader off from every other object and session, as its region going dark, for `forMs`. */
  /** When the leader's region went dark, and for how long: a failover must follow one (never restarts or lost messages alone). */
  const outages: Array<{ at: number; forMs: number }> = [];
  const regionDown = (forMs: number): void => {
    outages.push({ at: scheduler.now, forMs });
    const dark = leader().name;
    for (const other of [...nodes.keys(), ...sessions.map((s) => s.name), directory.name]) if (other !== dark) network.partition(dark, other, scheduler.now + forMs);
  };

  let opsLeft = options.ops;
  const world: SessionWorld = {
    scheduler, network, links, prng, history: [], acknowledged: [], firstLeader: first.name,
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
    faultCount += options.restartsOnly ? restartOne() : injectOne();
    scheduler.after(options.restartsOnly ? prng.int(500, 2_500) : prng.int(20, 250), injector, injectFault);
  };
  /** One copy crashed, started again 5 to 300 ms later: the leader three times in ten. */
  const restartOne = (): number => {
    const current = leader();
    const node = prng.chance(0.3) ? current : prng.pick([...nodes.values()].filter((n) => n !== current));
    if (!node?.up) return 0;
    node.crash();
    for (const s of sessions) if (s.homeName === node.name) s.homeLost(false);
    scheduler.after(prng.int(5, 300), { alive: true }, () => node.start());
    return 1;
  };
  const injectOne = (): number => {
    const roll = prng.next();
    const current = leader();
    const move = directory.placement().move;
    /** Replicas that no move involves: the ones a fault may destroy or a move may target. */
    const replicas = [...nodes.values()].filter((n) => !n.destroyed && n.meta().role === "replica" && n.name !== move?.target && n.name !== move?.from);
    /** A geo-tier shard's sync replicas and failed-over leaders stay (the sync replicas are named, not replaced). */
    const placed = directory.placement();
    const named = new Set([...(placed.syncReplicas ?? []), ...(placed.failover?.toTell ?? [])]);
    if (roll < 0.35) return restartOne();
    if (roll < 0.6) {
      // A replica cut off for long falls behind the log's bound (while its lease holds the log back).
      const replica = prng.chance(0.5) ? prng.pick(replicas)?.name : undefined;
      const other = replica ?? prng.pick(sessions).name;
      if (other) network.partition(current.name, other, scheduler.now + prng.int(100, replica ? 5_000 : 1_500));
      return 0; // counted by the network
    }
    if (roll < 0.7) {
      const victim = prng.pick(replicas.filter((r) => !named.has(r.name)));
      if (!victim) return 0;
      victim.destroyed = true;
      victim.crash();
      nodes.delete(victim.name);
      const region = [...regionReplica].find(([, name]) => name === victim.name)?.[0];
      if (region !== undefined) regionReplica.delete(region);
      for (const s of sessions) if (s.homeName === victim.name) s.homeLost(true);
      if (current.up) current.core!.forgetReplica(victim.name);
      if (region !== undefined) scheduler.after(prng.int(50, 1_000), { alive: true }, () => addReplica(region));
      return 1;
    }
    if (roll < 0.76) {
      // A planned move of the leader to a replica (the directory seals, hands over, and resumes after its crashes).
      const target = prng.pick(replicas);
      return target && directory.move(target.name) ? 1 : 0;
    }
    if (roll < 0.8) {
      if (!directory.up) return 0;
      directory.crash();
      scheduler.after(prng.int(5, 300), { alive: true }, () => directory.start());
      return 1;
    }
    if (options.geo && roll < 0.81) {
      // Its region dark: for less than the detection time (no failover) or for longer.
      regionDown(prng.int(200, 6_000));
      return 1;
    }
    return 0;
  };
  if (!options.quiet) scheduler.after(prng.int(20, 250), injector, injectFault);
  if (options.move) scriptMove(options.move, directory, network, scheduler);
  if (options.outage) {
    const { atMs, forMs, killAt } = options.outage;
    scheduler.after(atMs, { alive: true }, () => regionDown(forMs));
    if (killAt) scriptFailoverCrash(killAt, directory, scheduler);
  }

  await scheduler.run(() => running === 0 || scheduler.now > RUN_LIMIT_MS);
  injector.alive = false;
  if (running > 0) invariants.push({ checker: "state", message: `${running} sessions had not finished after ${RUN_LIMIT_MS} simulated ms`, calls: [] });
  network.heal();
  for (const node of nodes.values()) if (!node.up) node.start();
  if (!directory.up) directory.start();
  /** Runs until every replica has applied the leader's last zxid (or CONVERGE_MS passes), then compares each with it. */
  const convergeAndCheck = async (): Promise<Violation[]> => {
    const converged = (): boolean => {
      const placement = directory.placement();
      if (placement.move || (placement.failover && placement.failover.step !== "done")) return false;
      const last = leader().meta().appliedZxid;
      return [...nodes.values()].every((n) => n === leader() || (n.meta().appliedZxid === last && n.meta().snapshot === null));
    };
    const deadline = scheduler.now + CONVERGE_MS;
    await scheduler.run(() => converged() || scheduler.now > deadline);
    const found: Violation[] = [];
    if (!converged()) {
      // The first line is the finding; the rest, where each copy and the directory stand, is for whoever replays the seed.
      const copies = [...nodes.values()].map((n) => {
        const m = n.meta();
        return `${n.name}: ${n.up ? "up" : "down"}, ${m.role} at epoch ${m.epoch} (promised ${m.promisedEpoch}), applied ${m.appliedZxid.toString(16)}, following ${m.following ?? "none"}${m.snapshot ? ", mid-snapshot" : ""}`;
      });
      const message = [`replicas did not catch up with the leader within ${CONVERGE_MS} ms`, `directory (${directory.up ? "up" : "down"}): ${JSON.stringify(directory.placement())}`, ...copies].join("\n");
      found.push({ checker: "state", message, calls: [] });
    }
    found.push(...checkOneLeader([...nodes.values()], directory.placement().leader));
    for (const node of nodes.values()) {
      if (node === leader()) continue;
      if (converged()) found.push(...checkSameRows(leader().storage, node.storage, node.name));
      found.push(...checkLogPrefix(leader().storage, node.storage, node.name));
    }
    return found;
  };
  const converging = await convergeAndCheck();

  const history = world.history;
  const violations: Violation[] = [
    ...checkLinearizable(history), ...checkSessions(history), ...checkAcknowledged(leader().storage, world.acknowledged),
    ...checkAppliedOnce(leader().storage), ...invariants,
    ...[...nodes.values()].flatMap((node) => checkSealed(node.storage, node.name, directory.seals)), ...converging,
  ];
  if (!options.quiet) {
    // The last fault, after the history's checks: a reset's leader, empty under the old one's name.
    const reset = recreateLeader(leader(), env);
    nodes.set(reset.name, reset);
    faultCount += 1;
    violations.push(...(await convergeAndCheck()));
  }
  const ops = history.filter((e) => e.kind === "call").length;
  const finalLeader = directory.placement().leader;
  const moves = { moved: directory.outcomes.filter((o) => o.kind === "moved").length, abandoned: directory.outcomes.filter((o) => o.kind === "abandoned").length, pausesMs: directory.pausesMs };
  // The leader is last heard just before its region goes dark, or during it (a move under way counts as hearing it):
  // a failover whose silence began outside every outage was caused by restarts or lost messages.
  const unexplained = directory.failovers.filter((f) => !outages.some((o) => o.at - UNEXPLAINED_SLACK_MS <= f.silentAt && f.silentAt <= o.at + o.forMs)).length;
  const failovers = { count: directory.failovers.length, detectToLedMs: directory.failovers.map((f) => f.ledAt - f.silentAt), unexplained };
  return { seed: options.seed, ops, faults: faultCount + network.faultCount, moves, failovers, leader: finalLeader, hash: hashText(JSON.stringify(history)), violations, history };
}


/** The scripted move of SeedOptions.move. */
function scriptMove(move: NonNullable<SeedOptions["move"]>, directory: DirectoryNode, network: SimNetwork, scheduler: Scheduler): void {
  let killed = false;
  directory.onStep = (step) => {
    if (move.abandon && step === "sealing") network.partition(directory.name, directory.placement().leader, scheduler.now + 2 * SIM_HANDOVER_SETTINGS.sealMs);
    if (step !== move.killAt || killed) return;
    killed = true;
    directory.crash();
    scheduler.after(100, { alive: true }, () => directory.start());
  };
  scheduler.after(move.atMs, { alive: true }, () => directory.move("R1"));
}

/** Crashes the directory once as it stores the failover step `killAt` (started again 100 ms later). */
function scriptFailoverCrash(killAt: FailoverStep, directory: DirectoryNode, scheduler: Scheduler): void {
  let killed = false;
  directory.onFailoverStep = (step) => {
    if (step !== killAt || killed) return;
    killed = true;
    directory.crash();
    scheduler.after(100, { alive: true }, () => directory.start());
  };
}
