/**
 * The world, simulated on one machine (`npm start -- --regions ...`): the regions
 * a deployment may name, the round-trip times between them, and the one-way delay a
 * call between two places takes. The figures are a simulation's, not measurements.
 *
 * Pure: the region link (durable/base/region-link.ts) applies these delays, the
 * Worker, npm start, the client and the bridge check names against them.
 */

/** Regions the simulation knows: Cloudflare location hints with round-trip times between each pair. */
export const REGIONS = ["wnam", "enam", "weur", "apac", "oc"] as const;
export type Region = (typeof REGIONS)[number];

/** Cloudflare's other location hints: real, but with no round-trip times to simulate them. */
const UNSIMULATED_HINTS = ["sam", "eeur", "afr", "me"];

/** Round trip between two regions, in ms, each pair once. */
const ROUND_TRIP_MS: Record<string, number> = {
  "wnam-enam": 87,
  "wnam-weur": 137,
  "wnam-apac": 89,
  "wnam-oc": 162,
  "enam-weur": 81,
  "enam-apac": 145,
  "enam-oc": 230,
  "weur-apac": 212,
  "weur-oc": 310,
  "apac-oc": 104,
};

/** Round trip inside one region: a Worker (or an object) to an object there. */
export const IN_REGION_ROUND_TRIP_MS = 6;

/** Jitter: each one-way delay is lengthened by up to this fraction of itself, at random. */
export const JITTER_FRACTION = 0.1;

/** The request header (and the socket route's query parameter) by which a caller names its region. */
export const REGION_HEADER = "X-Edgekeeper-Region";

/** The setting (and npm start's environment variable) that names the regions, leader's first. */
export const REGIONS_SETTING = "EDGEKEEPER_REGIONS";

/** Whether an error's message is the Worker's refusal of the caller's region (it starts with REGION_HEADER). */
export function refusesRegion(message: unknown): boolean {
  return typeof message === "string" && message.startsWith(`${REGION_HEADER}:`);
}

/** Whether `name` is a Cloudflare location hint, simulated or not (a read replica is created with its region's). */
export function isLocationHint(name: string): boolean {
  return isRegion(name) || UNSIMULATED_HINTS.includes(name);
}

export function isRegion(name: string): name is Region {
  return (REGIONS as readonly string[]).includes(name);
}

/**
 * Why `name` is not a region, or undefined if it is one.
 *
 * @example
 * regionRefusal("sam"); // 'region "sam" has no simulated round-trip times; regions: wnam, enam, weur, apac, oc'
 */
export function regionRefusal(name: string): string | undefined {
  if (isRegion(name)) return undefined;
  const why = UNSIMULATED_HINTS.includes(name) ? "has no simulated round-trip times" : "is unknown";
  return `region ${JSON.stringify(name)} ${why}; regions: ${REGIONS.join(", ")}`;
}

/**
 * A comma-separated list of regions, the leader region first; throws a RangeError
 * saying what is wrong (an unknown or repeated name, an empty list).
 *
 * @example
 * parseRegions("wnam,apac"); // ["wnam", "apac"]
 */
export function parseRegions(text: string): Region[] {
  const names = text.split(",").map((name) => name.trim());
  if (names.length === 0 || names.some((name) => name === "")) throw new RangeError(`a list of regions must name at least one, comma-separated, not ${JSON.stringify(text)}`);
  const regions: Region[] = [];
  for (const name of names) {
    const refusal = regionRefusal(name);
    if (refusal) throw new RangeError(refusal);
    if (regions.includes(name as Region)) throw new RangeError(`region ${name} is named twice`);
    regions.push(name as Region);
  }
  return regions;
}

/**
 * The round trip between two regions in ms (inside one: IN_REGION_ROUND_TRIP_MS).
 *
 * @example
 * roundTripMs("wnam", "apac"); // 89
 */
export function roundTripMs(from: Region, to: Region): number {
  if (from === to) return IN_REGION_ROUND_TRIP_MS;
  return ROUND_TRIP_MS[`${from}-${to}`] ?? ROUND_TRIP_MS[`${to}-${from}`]!;
}

/**
 * The round trip between two regions as the simulation makes it on average: each
 * way lengthened by half of JITTER_FRACTION. What a target that counts round trips
 * counts them as.
 *
 * @example
 * meanRoundTripMs("wnam", "apac"); // 93.45
 */
export function meanRoundTripMs(from: Region, to: Region): number {
  return roundTripMs(from, to) * (1 + JITTER_FRACTION / 2);
}

/**
 * The delay one way of a call takes: half the round trip, lengthened by up to
 * JITTER_FRACTION of itself as `random` (in [0, 1)) says.
 *
 * @example
 * oneWayDelayMs("wnam", "apac", () => 0); // 44.5
 */
export function oneWayDelayMs(from: Region, to: Region, random: () => number = Math.random): number {
  const base = roundTripMs(from, to) / 2;
  return base + base * JITTER_FRACTION * random();
}
