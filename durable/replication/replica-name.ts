/**
 * A read replica's object name: its leader's object name and its region,
 * `<namespace>/<shard>@<region>` (namespace and shard names hold no "@"). The
 * name alone decides that an object is a replica and whom it follows, so any
 * caller can reach a shard's replica in a region without asking anyone.
 */

import { isLocationHint } from "../../protocol/regions.ts";

/** What a replica object's name says: the leader object it follows and the region it serves. */
export interface ReplicaIdentity {
  leader: string;
  region: string;
}

/**
 * The object name of the replica of `leader` (a shard object's name) in `region`.
 *
 * @example
 * replicaObjectName("default/root", "weur"); // "default/root@weur"
 */
export function replicaObjectName(leader: string, region: string): string {
  return `${leader}@${region}`;
}

/**
 * The object names of `leader`'s replicas, one in each of `regions` but the first
 * (the leader's own region, which has none); none without regions.
 *
 * @example
 * replicaNamesOf("default/root", ["wnam", "weur", "apac"]); // ["default/root@weur", "default/root@apac"]
 */
export function replicaNamesOf(leader: string, regions: readonly string[] | undefined): string[] {
  return (regions?.slice(1) ?? []).map((region) => replicaObjectName(leader, region));
}

/**
 * The object of the shard whose first object is `shard` (`<namespace>/<shard>`) in
 * `region`: that object in the first region (or without regions), else its replica
 * name there. Each region's copy keeps its name for good; a handover changes only
 * which of them leads.
 *
 * @example
 * copyObjectName("default/root", "weur", ["wnam", "weur"]); // "default/root@weur"
 * copyObjectName("default/root", "wnam", ["wnam", "weur"]); // "default/root"
 */
export function copyObjectName(shard: string, region: string | undefined, regions: readonly string[] | undefined): string {
  return region === undefined || region === regions?.[0] ? shard : replicaObjectName(shard, region);
}

/** Every copy object of the shard whose first object is `shard`: one per region (just that one without regions). */
export function copiesOf(shard: string, regions: readonly string[] | undefined): string[] {
  return [shard, ...replicaNamesOf(shard, regions)];
}

/** The region of a copy object of a shard (copyObjectName): the one its name says, else the first. */
export function copyRegion(name: string, regions: readonly string[] | undefined): string | undefined {
  return replicaIdentityOf(name)?.region ?? regions?.[0];
}

/**
 * The identity a replica object's name holds, or undefined for any other name
 * (a leader's, or none).
 *
 * @example
 * replicaIdentityOf("default/root@weur"); // { leader: "default/root", region: "weur" }
 */
export function replicaIdentityOf(name: string | undefined): ReplicaIdentity | undefined {
  const at = name?.lastIndexOf("@") ?? -1;
  if (name === undefined || at <= 0 || at === name.length - 1) return undefined;
  return { leader: name.slice(0, at), region: name.slice(at + 1) };
}

/**
 * Where a replica object is created when deployed: its region, as a location hint
 * (which places an object at its creation only); undefined for any other name.
 *
 * @example
 * replicaLocationHint("default/root@apac"); // "apac"
 */
export function replicaLocationHint(name: string): DurableObjectLocationHint | undefined {
  const region = replicaIdentityOf(name)?.region;
  return region !== undefined && isLocationHint(region) ? (region as DurableObjectLocationHint) : undefined;
}
