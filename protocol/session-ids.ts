/**
 * A session id names its host, so a request or a resume from any Worker or bridge
 * routes without a lookup: id = hostNumber * 2^32 + counter, a safe integer
 * (hostNumber < LOCATIONS.length * 1024, so below 2^14). hostNumber =
 * locationIndex * 1024 + bucket; the host's object is `<namespace>/sessions-<hostNumber>`.
 */

const COUNTER_SPAN = 2 ** 32;
/** The most hosts a location can have (EDGEKEEPER_HOSTS_PER_LOCATION is clamped to it). */
export const BUCKETS_PER_LOCATION = 1024;
export const DEFAULT_HOSTS_PER_LOCATION = 4;

/** Durable Object location hints, in a fixed order (the index is part of session ids). */
export const LOCATIONS = ["local", "wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type Location = (typeof LOCATIONS)[number];

/** Where a deployed Worker places new sessions, by the caller's continent (request.cf.continent). */
const CONTINENT_LOCATIONS: Record<string, Location> = { NA: "enam", SA: "sam", EU: "weur", AS: "apac", OC: "oc", AF: "afr" };

/** The location for a caller on `continent`; "local" (no hint) when unknown. */
export function locationOfContinent(continent: unknown): Location {
  return (typeof continent === "string" && CONTINENT_LOCATIONS[continent]) || "local";
}

export function hostNumberOf(location: Location, bucket: number): number {
  return LOCATIONS.indexOf(location) * BUCKETS_PER_LOCATION + (bucket % BUCKETS_PER_LOCATION);
}

/** The location a host number lies in. */
export function locationOfHost(hostNumber: number): Location {
  return LOCATIONS[Math.floor(hostNumber / BUCKETS_PER_LOCATION)] ?? "local";
}

/** Whether a host number is one a session id may name. */
export function isHostNumber(hostNumber: number): boolean {
  return Number.isSafeInteger(hostNumber) && hostNumber >= 0 && hostNumber < LOCATIONS.length * BUCKETS_PER_LOCATION;
}

/**
 * A host for a new session: a uniformly random bucket among the location's
 * `hostsPerLocation` (a setting, clamped to [1, 1024]), so sessions spread evenly.
 */
export function pickHost(location: Location, hostsPerLocation: number): number {
  const hosts = Number.isSafeInteger(hostsPerLocation) ? Math.min(Math.max(hostsPerLocation, 1), BUCKETS_PER_LOCATION) : DEFAULT_HOSTS_PER_LOCATION;
  const bucket = crypto.getRandomValues(new Uint32Array(1))[0]! % hosts;
  return hostNumberOf(location, bucket);
}

export function makeSessionId(hostNumber: number, counter: number): number {
  if (!isHostNumber(hostNumber) || !Number.isSafeInteger(counter) || counter <= 0 || counter >= COUNTER_SPAN) {
    throw new RangeError(`no session id for host ${hostNumber}, counter ${counter}`);
  }
  return hostNumber * COUNTER_SPAN + counter;
}

/** The host a session id names, or undefined for ids no host could have issued. */
export function hostNumberOfSession(sessionId: number): number | undefined {
  if (!Number.isSafeInteger(sessionId) || sessionId <= 0 || sessionId % COUNTER_SPAN === 0) return undefined;
  const host = Math.floor(sessionId / COUNTER_SPAN);
  return isHostNumber(host) ? host : undefined;
}

/** A session id as text: decimal ("4294967297") or zkCli's hex ("0x100000001"). */
export function parseSessionId(text: string): number | undefined {
  const trimmed = text.trim();
  let id: number;
  if (/^0x[0-9a-f]{1,14}$/i.test(trimmed)) id = Number.parseInt(trimmed.slice(2), 16);
  else if (/^[0-9]{1,16}$/.test(trimmed)) id = Number(trimmed);
  else return undefined;
  return Number.isSafeInteger(id) ? id : undefined;
}

/** zkCli's form of a session id: 0x followed by lower-case hex. */
export function sessionIdHex(sessionId: number): string {
  return `0x${sessionId.toString(16)}`;
}

/** The object name of a namespace's session host. */
export function hostObjectName(namespace: string, hostNumber: number): string {
  return `${namespace}/sessions-${hostNumber}`;
}

/** ZooKeeper's negotiation: the requested timeout clamped to [min, max]. */
export function negotiateTimeout(requestedMs: number, minMs: number, maxMs: number): number {
  if (!Number.isFinite(requestedMs)) return minMs;
  return Math.min(Math.max(Math.round(requestedMs), minMs), maxMs);
}
