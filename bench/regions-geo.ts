/**
 * `npm run bench -- --regions`, the part about the geo tier: on the server simulating
 * the five regions, a subtree mounted on a shard of its own, written over HTTP from
 * the first region, one write at a time.
 *
 * - Geo-tier write latency: the same setData with the shard regional, then geo-tier
 *   (`PUT /v1/admin/shards/{shard} {"tier":"geo"}`: acknowledged once the nearer of two
 *   sync replicas holds it). Target: the regional figure plus the round trip from the
 *   leader to its nearest sync replica (as simulated: its mean with jitter), plus at
 *   most 5 ms.
 * - Time from a region outage to the first write the new leader acknowledges: the
 *   shard's leader is moved to the third region, that region is cut off
 *   (`POST /v1/admin/sim/regions/{region}/down`) while the writer retries every 50 ms,
 *   and restored once a write is acknowledged; each outage after the first cuts off
 *   the region leading then (moved out of the first region first: the directory that
 *   runs failovers lives there). Detection is the default EDGEKEEPER_FAILOVER_DETECT_MS
 *   (20 s). Target p99 < 35 s.
 *
 * Figures come from the simulation (protocol/regions.ts), not from production.
 */
import { REGIONS, REGION_HEADER, type Region, meanRoundTripMs, roundTripMs } from "../protocol/regions.ts";
import { formatNumber, percentile, renderTable } from "./stats.ts";
import { cutShortNote, sequentialLatencies } from "./workloads.ts";

/** Targets: geo writes cost at most this beyond the regional ones and the round trip to the nearest sync replica; an outage's first write within this. */
const GEO_SLACK_MS = 5;
const OUTAGE_P99_TARGET_MS = 35_000;
/** An outage with no write acknowledged by then is given up (and reported). */
const OUTAGE_LIMIT_MS = 120_000;

async function call(base: string, method: string, path: string, body: unknown, region: string): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: { "Content-Type": "application/json", [REGION_HEADER]: region }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

async function must(base: string, method: string, path: string, body: unknown, region: string): Promise<unknown> {
  const response = await call(base, method, path, body, region);
  const text = await response.text();
  if (!response.ok) throw new Error(`edgekeeper: ${method} ${path}: HTTP ${response.status} ${text}`);
  return text === "" ? undefined : JSON.parse(text);
}

interface ShardListing {
  shards: { shard: string; leader: { region: string }; syncReplicas: string[]; failover: { step: string } | null }[];
}

async function shardRow(base: string, shard: string): Promise<ShardListing["shards"][number]> {
  const listing = (await must(base, "GET", "/v1/admin/shards", undefined, REGIONS[0])) as ShardListing;
  return listing.shards.find((s) => s.shard === shard)!;
}

/** The geo tier's figures, as table lines: write latency regional and geo, then `outages` outages' time to the first write. */
export async function geoTierRows(base: string, ops: number, outages: number, timeLimitMs: number): Promise<string[]> {
  // The writer stands in the first region, which is never cut off (its directory runs the failovers).
  const [home, away] = [REGIONS[0], REGIONS[2]];
  const writerRegion = home;
  const prefix = `/bench-geo-${crypto.randomUUID().slice(0, 8)}`;
  const { mount } = (await must(base, "POST", "/v1/admin/mounts", { prefix }, home)) as { mount: { shard: string } };
  const shard = mount.shard;
  await must(base, "POST", `/v1/znodes${prefix}/x`, { data: "0" }, writerRegion);
  const setX = () => must(base, "PUT", `/v1/znodes${prefix}/x`, { data: "1" }, writerRegion);
  const options = { warmup: Math.max(1, Math.round(ops / 10)), ops, timeLimitMs };
  const regional = await sequentialLatencies(options, setX);
  const { syncReplicas } = (await must(base, "PUT", `/v1/admin/shards/${shard}`, { tier: "geo" }, home)) as { syncReplicas: Region[] };
  const geo = await sequentialLatencies(options, setX);
  const toSync = Math.min(...syncReplicas.map((region) => roundTripMs(home, region)));
  const toSyncMean = Math.min(...syncReplicas.map((region) => meanRoundTripMs(home, region)));
  const geoTarget = regional.p50 + toSyncMean + GEO_SLACK_MS;

  const outageMs: number[] = [];
  let writes = 0;
  let failed = 0;
  const path = `/v1/znodes${prefix}/x`;
  for (let i = 0; i < outages; i++) {
    let leader = (await shardRow(base, shard)).leader.region;
    if (leader === home) {
      await must(base, "POST", `/v1/admin/shards/${shard}/leader`, { region: away }, home);
      leader = away;
    }
    await must(base, "POST", `/v1/admin/sim/regions/${leader}/down`, undefined, home);
    const down = performance.now();
    try {
      for (;;) {
        const response = await call(base, "PUT", path, { data: String(i) }, writerRegion);
        await response.body?.cancel();
        writes += 1;
        if (response.ok) break;
        failed += 1;
        if (performance.now() - down > OUTAGE_LIMIT_MS) throw new Error(`edgekeeper: no write acknowledged ${OUTAGE_LIMIT_MS} ms into an outage of ${leader}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      outageMs.push(performance.now() - down);
    } finally {
      await must(base, "POST", `/v1/admin/sim/regions/${leader}/up`, undefined, home);
    }
    // The old leader told, before the next outage.
    const told = Date.now() + OUTAGE_LIMIT_MS;
    while ((await shardRow(base, shard)).failover?.step !== "done" && Date.now() < told) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const [p50, p99] = [percentile(outageMs, 50), percentile(outageMs, 99)];
  return [
    renderTable(
      ["geo tier", "p50", "p99", "target"],
      [
        ["setData, regional", formatNumber(regional.p50), formatNumber(regional.p99), cutShortNote(regional.cutShort).trim()],
        ["setData, geo-tier", formatNumber(geo.p50), formatNumber(geo.p99), `p50 <= ${formatNumber(geoTarget)}: ${geo.p50 <= geoTarget ? "MET" : "NOT MET"}${cutShortNote(geo.cutShort)}`],
        [`outage to first write (${outageMs.length})`, formatNumber(p50), formatNumber(p99), `p99 < ${OUTAGE_P99_TARGET_MS}: ${p99 < OUTAGE_P99_TARGET_MS ? "MET" : "NOT MET"}`],
      ],
    ),
    "",
    `ms; a shard of its own written over HTTP from ${writerRegion}, one setData at a time (${ops} per row), its leader there too; geo-tier, its sync`,
    `replicas are in ${syncReplicas.join(" and ")} (nearest RTT ${toSync} ms, ${formatNumber(toSyncMean)} on average with the simulated jitter).`,
    `Target: the regional p50 + ${formatNumber(toSyncMean)} + ${GEO_SLACK_MS} ms. Outages: the leading region cut off`,
    `(moved out of ${home} first, where the directory is) until a write from ${writerRegion} is acknowledged by the new leader, retrying every 50 ms`,
    `(${writes} tries, ${failed} failed), with the default 20 s detection; then restored and the old leader told before the next.`,
  ];
}
