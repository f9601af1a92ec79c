/**
 * Where a shard's leader should be, from where its writes come: each write's origin
 * region is counted in two decayed histograms (a fast one, which says which region
 * dominates now, and a slow one, which prices a move), and a decision with hysteresis
 * says whether to move the leader and why.
 *
 * A move is advised only when one region has sent at least `minShare` of the recent
 * writes (fast histogram) for `sustainMs` on end, the writes of the longer past (slow
 * histogram) would cost at least `minSaving` less in round trips with the leader
 * there, and `minIntervalMs` has passed since the last move. A preferred region, when
 * set, always wins. Pricing by the slow histogram is what keeps a load that alternates
 * between regions from moving the leader back and forth (CockroachDB retired its
 * follow-the-workload placement for such flapping): from either region the other
 * saves little on the longer past, so at most one move happens (toward them both).
 * The price of that: with the default policy, a load alternating every hour or faster
 * never moves the leader back, and a lasting shift of the writes is followed once the
 * slow histogram shows it, after about two and a half hours (a preferred region, or a
 * planned move, moves it at once).
 *
 * Pure: no clock of its own, no storage; the state is a plain object its owner keeps.
 */

/** A histogram of writes per region, each weight halving every half-life since `at`. */
export interface DecayedCounts {
  at: number;
  weights: Record<string, number>;
}

export interface PlacementPolicy {
  /** Half-life of the fast histogram: which region dominates now. */
  fastHalfLifeMs: number;
  /** Half-life of the slow histogram: what a move would save. */
  slowHalfLifeMs: number;
  /** The share of the fast histogram a region must hold to be dominant. */
  minShare: number;
  /** How long a region must stay dominant before a move toward it. */
  sustainMs: number;
  /** The least fraction of the mean write round trip a move must save. */
  minSaving: number;
  /** The least time between two moves. */
  minIntervalMs: number;
}

export const DEFAULT_PLACEMENT_POLICY: PlacementPolicy = {
  fastHalfLifeMs: 2 * 60_000,
  slowHalfLifeMs: 2 * 60 * 60_000,
  minShare: 0.6,
  sustainMs: 10 * 60_000,
  minSaving: 0.3,
  minIntervalMs: 30 * 60_000,
};

/** What a shard keeps to decide where its leader goes. */
export interface PlacementState {
  /** The region its leader is in now. */
  leader: string;
  /** The operator's choice: the leader belongs there, whatever the load. */
  preferred?: string;
  fast: DecayedCounts;
  slow: DecayedCounts;
  /** The region dominant in the fast histogram, and since when (absent: none). */
  dominant?: { region: string; since: number };
  /** When the leader last moved (absent: never). */
  lastMoveAt?: number;
}

export interface PlacementAdvice {
  /** Where the leader should be: where it is, unless a move is advised. */
  region: string;
  move: boolean;
  reason: string;
  /** Each region's share of the recent writes (fast histogram). */
  shares: Record<string, number>;
  /** The mean round trip of a write (slow histogram) with the leader in each region. */
  meanWriteMs: Record<string, number>;
}

export function newPlacementState(leader: string, now: number): PlacementState {
  return { leader, fast: { at: now, weights: {} }, slow: { at: now, weights: {} } };
}

/** The histogram decayed to `now`. */
function decayed(counts: DecayedCounts, halfLifeMs: number, now: number): DecayedCounts {
  const factor = 2 ** (-Math.max(0, now - counts.at) / halfLifeMs);
  const weights: Record<string, number> = {};
  for (const [region, weight] of Object.entries(counts.weights)) weights[region] = weight * factor;
  return { at: now, weights };
}

function shares(counts: DecayedCounts): Record<string, number> {
  const total = Object.values(counts.weights).reduce((sum, weight) => sum + weight, 0);
  const result: Record<string, number> = {};
  for (const [region, weight] of Object.entries(counts.weights)) result[region] = total > 0 ? weight / total : 0;
  return result;
}

/**
 * Counts `writes` from `region` at `now` in both histograms, and notes which region
 * dominates the fast one (and since when): call it as writes commit, in batches.
 */
export function noteWrites(state: PlacementState, policy: PlacementPolicy, region: string, writes: number, now: number): PlacementState {
  const fast = decayed(state.fast, policy.fastHalfLifeMs, now);
  const slow = decayed(state.slow, policy.slowHalfLifeMs, now);
  fast.weights[region] = (fast.weights[region] ?? 0) + writes;
  slow.weights[region] = (slow.weights[region] ?? 0) + writes;
  const [top, share] = Object.entries(shares(fast)).reduce((best, entry) => (entry[1] > best[1] ? entry : best), ["", 0]);
  const next: PlacementState = { ...state, fast, slow };
  if (share < policy.minShare) delete next.dominant;
  else if (state.dominant?.region !== top) next.dominant = { region: top, since: now };
  return next;
}

/**
 * Where the leader should be at `now`, and why; `roundTripMs` prices a write from one
 * region to a leader in another. Advises a move only as the module's rules say.
 */
export function advisePlacement(state: PlacementState, policy: PlacementPolicy, regions: readonly string[], roundTripMs: (from: string, to: string) => number, now: number): PlacementAdvice {
  const fastShares = shares(decayed(state.fast, policy.fastHalfLifeMs, now));
  const slowShares = shares(decayed(state.slow, policy.slowHalfLifeMs, now));
  const meanWriteMs: Record<string, number> = {};
  for (const leader of regions) {
    meanWriteMs[leader] = Object.entries(slowShares).reduce((sum, [origin, share]) => sum + share * roundTripMs(origin, leader), 0);
  }
  const stay = (reason: string): PlacementAdvice => ({ region: state.leader, move: false, reason, shares: fastShares, meanWriteMs });
  const go = (region: string, reason: string): PlacementAdvice => ({ region, move: true, reason, shares: fastShares, meanWriteMs });

  if (state.preferred !== undefined) {
    return state.preferred === state.leader ? stay(`the preferred region is ${state.preferred}`) : go(state.preferred, `the preferred region is ${state.preferred}`);
  }
  const dominant = state.dominant;
  if (!dominant) return stay(`no region sends ${percent(policy.minShare)} of the recent writes`);
  if (dominant.region === state.leader) return stay(`${dominant.region}, where the leader is, sends most writes`);
  const heldMs = now - dominant.since;
  if (heldMs < policy.sustainMs) return stay(`${dominant.region} has sent ${percent(policy.minShare)} of the writes for ${seconds(heldMs)}, not yet ${seconds(policy.sustainMs)}`);
  const here = meanWriteMs[state.leader] ?? 0;
  const there = meanWriteMs[dominant.region] ?? 0;
  const saving = here > 0 ? (here - there) / here : 0;
  if (saving < policy.minSaving) return stay(`a leader in ${dominant.region} would save ${percent(saving)} of the mean write round trip (${Math.round(here)} ms here), less than ${percent(policy.minSaving)}`);
  if (state.lastMoveAt !== undefined && now - state.lastMoveAt < policy.minIntervalMs) return stay(`the leader moved ${seconds(now - state.lastMoveAt)} ago, less than ${seconds(policy.minIntervalMs)}`);
  return go(dominant.region, `${dominant.region} has sent ${percent(policy.minShare)} of the writes for ${seconds(heldMs)}, and a leader there saves ${percent(saving)} of the mean write round trip (${Math.round(here)} ms to ${Math.round(there)} ms)`);
}

/** The state after the leader moved to `region` at `now`. */
export function leaderMoved(state: PlacementState, region: string, now: number): PlacementState {
  return { ...state, leader: region, lastMoveAt: now };
}

const percent = (fraction: number): string => `${Math.round(fraction * 100)}%`;
const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;
