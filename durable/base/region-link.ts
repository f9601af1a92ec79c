/**
 * The one way calls go between the Worker and the objects, and between objects:
 * Worker -> directory, Worker -> session host, host -> shard, shard -> host
 * (watch pushes), directory -> shard, replica -> leader. Each caller asks its link
 * for the stub of the object it calls; the link knows the caller's region and
 * where the object lives.
 *
 * Without EDGEKEEPER_REGIONS (the default, and deployed) a link hands out the plain
 * stub: nothing changes. With it (`npm start -- --regions wnam,enam,...`: the world
 * simulated on one machine), each call waits the one-way delay between the two
 * regions before it is sent and again after its answer (protocol/regions.ts: half
 * the round trip, plus jitter), on a timer that allows for how late workerd's
 * timers fire (punctual-timer.ts), so a hop costs what the matrix says. A function
 * passed along a call (a replica's way back for a streaming pull's pushes) is called
 * back the other way: each call back waits the one-way delay back, after the one
 * made before it (a stream keeps its order), and its answer the delay there.
 *
 * Where each object lives, from its name alone (so no lookup is needed):
 * - the directory, and each shard's leader (`<namespace>/<shard>`), in the leader
 *   region: the first of EDGEKEEPER_REGIONS;
 * - a shard's replica (`<namespace>/<shard>@<region>`) in that region;
 * - a session host (`<namespace>/sessions-<hostNumber>`) in its host number's
 *   location (protocol/session-ids.ts), or the leader region if that location is
 *   not one of the regions (the bridge's default hosts are location "local");
 * - the Worker in its caller's region (X-Edgekeeper-Region; default the first).
 *
 * A region can be cut off (`POST /v1/admin/sim/regions/{region}/down`, then `.../up`):
 * every call between it and another region then fails after its one-way delay, as
 * a call to a region gone dark would, and so does every call back across that cut.
 * Calls within the region go on. The cut is this isolate's memory (the local runtime
 * runs every object in one), so a restart of the server ends it.
 */
import { type Region, oneWayDelayMs, parseRegions } from "../../protocol/regions.ts";
import { hostObjectName, locationOfHost } from "../../protocol/session-ids.ts";
import { PunctualTimer } from "./punctual-timer.ts";
import type { DirectoryDO } from "../directory/directory-do.ts";
import { replicaIdentityOf, replicaLocationHint } from "../replication/replica-name.ts";
import type { EdgekeeperEnv } from "../env.ts";
import type { SessionHost } from "../session/session-host.ts";
import type { ShardDO } from "../shard/shard-do.ts";

/** How a link waits and draws jitter; tests record the delays it chose instead of sleeping. */
export interface DelayHooks {
  wait(ms: number): Promise<void>;
  random(): number;
}

/** The isolate's timer for every link's waits: it learns how late workerd's timers fire (punctual-timer.ts). */
const timer = new PunctualTimer();

const REAL_DELAYS: DelayHooks = {
  wait: (ms) => timer.wait(ms),
  random: Math.random,
};

/** The regions cut off from the others now (simulated regions only). */
const cutOff = new Set<Region>();

/** Cuts `region` off from the other regions (`down`), or restores it. */
export function setRegionDown(region: Region, down: boolean): void {
  if (down) cutOff.add(region);
  else cutOff.delete(region);
}

/** The regions cut off now. */
export function regionsDown(): Region[] {
  return [...cutOff];
}

/** Fails a call across a cut: the regions differ and one of them is down. */
function crossesCut(from: Region, to: Region): void {
  if (from !== to && (cutOff.has(from) || cutOff.has(to))) throw new Error(`region ${cutOff.has(to) ? to : from} is cut off (simulated outage)`);
}

/** The last EDGEKEEPER_REGIONS read and its regions: every link and request reads the setting, which does not change. */
let parsed: { text: unknown; regions: readonly Region[] | undefined } | undefined;

/** The regions EDGEKEEPER_REGIONS names, leader's first; undefined (no simulation) when unset or invalid. */
export function regionsOf(env: EdgekeeperEnv): readonly Region[] | undefined {
  const text = env.EDGEKEEPER_REGIONS;
  if (parsed === undefined || parsed.text !== text) parsed = { text, regions: parseRegionsSetting(text) };
  return parsed.regions;
}

function parseRegionsSetting(text: unknown): readonly Region[] | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  try {
    return parseRegions(text);
  } catch {
    return undefined; // npm start refuses a bad list; a setting that is invalid keeps its default (none)
  }
}

/** The number in a session host's object name (`<namespace>/sessions-<hostNumber>`); -1 for another name. */
function hostNumberOfName(objectName: string): number {
  const number = /\/sessions-([0-9]+)$/.exec(objectName)?.[1];
  return number === undefined ? -1 : Number(number);
}

/**
 * @example
 * const link = RegionLink.at(env, "apac"); // a Worker serving a caller in apac
 * await link.shard(shardObjectName("default", "root")).stats("/"); // waits apac -> wnam and back
 */
export class RegionLink {
  /** The regions, leader's first; undefined without the simulation. */
  readonly regions: readonly Region[] | undefined;
  /** The caller's region; undefined without the simulation. */
  readonly region: Region | undefined;
  private readonly env: EdgekeeperEnv;
  private readonly delays: DelayHooks;

  /** `place`: the caller's region, or a location that is none of the regions (then the leader region). */
  private constructor(env: EdgekeeperEnv, place: string | undefined, delays: DelayHooks) {
    this.env = env;
    this.regions = regionsOf(env);
    this.region = this.placeOf(place);
    this.delays = delays;
  }

  /** The link of a caller in `region` (the Worker, for its caller; undefined: the leader region). */
  static at(env: EdgekeeperEnv, region?: Region, delays: DelayHooks = REAL_DELAYS): RegionLink {
    return new RegionLink(env, region, delays);
  }

  /** The link of the session host named `objectName`, which lives in its number's location. */
  static ofHost(env: EdgekeeperEnv, objectName: string): RegionLink {
    return new RegionLink(env, locationOfHost(hostNumberOfName(objectName)), REAL_DELAYS);
  }

  /** The link of the shard object named `objectName` (a leader, or a replica `...@<region>`). */
  static ofShard(env: EdgekeeperEnv, objectName: string): RegionLink {
    return new RegionLink(env, replicaIdentityOf(objectName)?.region, REAL_DELAYS);
  }

  /** The directory of `namespace` (or the deployment's registry), in the leader region. */
  directory(name: string): DurableObjectStub<DirectoryDO> {
    const stub = this.env.DIRECTORY.get(this.env.DIRECTORY.idFromName(name));
    return this.carried(stub, this.regions?.[0]);
  }

  /** The shard object `objectName` (durable/env.ts shardObjectName; a replica's ends `@<region>`). */
  shard(objectName: string): DurableObjectStub<ShardDO> {
    const id = this.env.SHARD.idFromName(objectName);
    // A read replica is created in its region (deployed; the local runtime ignores hints).
    const locationHint = replicaLocationHint(objectName);
    const stub = locationHint === undefined ? this.env.SHARD.get(id) : this.env.SHARD.get(id, { locationHint });
    return this.carried(stub, this.placeOf(replicaIdentityOf(objectName)?.region));
  }

  /** Session host `hostNumber` of `namespace`, placed by `locationHint` where one applies (deployed). */
  host(namespace: string, hostNumber: number, locationHint?: DurableObjectLocationHint): DurableObjectStub<SessionHost> {
    return this.hostNamed(hostObjectName(namespace, hostNumber), hostNumber, locationHint);
  }

  /** A session host by its object name (`<namespace>/sessions-<hostNumber>`), as shards know it. */
  hostByName(objectName: string): DurableObjectStub<SessionHost> {
    return this.hostNamed(objectName, hostNumberOfName(objectName));
  }

  private hostNamed(objectName: string, hostNumber: number, locationHint?: DurableObjectLocationHint): DurableObjectStub<SessionHost> {
    const id = this.env.SESSION_HOST.idFromName(objectName);
    const stub = locationHint === undefined ? this.env.SESSION_HOST.get(id) : this.env.SESSION_HOST.get(id, { locationHint });
    return this.carried(stub, this.placeOf(locationOfHost(hostNumber)));
  }

  /** The region of an object or caller at `place`: that region if simulated, else the leader's; undefined without the simulation. */
  private placeOf(place: string | undefined): Region | undefined {
    return this.regions && (this.regions.find((region) => region === place) ?? this.regions[0]);
  }

  /**
   * The stub as this link carries it: itself without the simulation, else with every
   * method call delayed one way before it is sent and one way after its answer, and
   * each function argument called back with the delays the other way (calledBack).
   */
  private carried<T extends object>(stub: T, target: Region | undefined): T {
    const from = this.region;
    if (from === undefined || target === undefined) return stub;
    const delays = this.delays;
    return new Proxy(stub, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property);
        // Not a call (the id, the name), or `then`, which must stay as the stub has it.
        if (typeof value !== "function" || property === "then") return value;
        return async (...args: unknown[]) => {
          await delays.wait(oneWayDelayMs(from, target, delays.random));
          crossesCut(from, target);
          const carriedArgs = args.map((arg) => (typeof arg === "function" ? calledBack(arg as (...a: unknown[]) => unknown, target, from, delays) : arg));
          // Reflect.apply: an RPC method is a stub itself, whose `.apply` would be a remote call.
          const answer: unknown = await Reflect.apply(value, object, carriedArgs);
          await delays.wait(oneWayDelayMs(target, from, delays.random));
          crossesCut(target, from);
          return answer;
        };
      },
    });
  }
}

/**
 * `callback`, living in region `to`, as the callee in `from` calls it: each call
 * waits the one-way delay from -> to, and never arrives before the call made before
 * it (in order, as on a stream); its answer waits the delay back.
 */
function calledBack(callback: (...args: unknown[]) => unknown, from: Region, to: Region, { wait, random }: DelayHooks): (...args: unknown[]) => Promise<unknown> {
  let previousArrival = Promise.resolve();
  return (...args) => {
    const arrival = Promise.all([previousArrival, wait(oneWayDelayMs(from, to, random))]).then(() => undefined);
    previousArrival = arrival;
    const answered = arrival.then(async () => {
      crossesCut(from, to);
      const answer = await callback(...args);
      await wait(oneWayDelayMs(to, from, random));
      crossesCut(to, from);
      return answer;
    });
    // A cut call back fails for its caller; one whose caller is gone meanwhile is no unhandled rejection.
    answered.catch(() => undefined);
    return answered;
  };
}
