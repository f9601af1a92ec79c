/**
 * `npm run bench -- --regions`, the part about a multi across shards: on the server
 * simulating the five regions, a lock node on the root shard (its leader in the first
 * region) fences a write to a subtree mounted on a shard of its own whose leader was
 * moved to the third region: `[check /lock, setData /fenced/x]` over HTTP from the
 * second region, one at a time. Then a multi writing on both shards, `[setData /other
 * (root shard), setData /fenced/x]`. Each costs a round trip to both leaders at once
 * (every part prepared) then one more (every part applied; the check's part applies
 * after the answer). Beside them, the same setData alone. Figures come from the
 * simulation (protocol/regions.ts), not from production.
 */
import { REGIONS, REGION_HEADER, meanRoundTripMs, roundTripMs } from "../protocol/regions.ts";
import { formatNumber, renderTable } from "./stats.ts";
import { cutShortNote, sequentialLatencies } from "./workloads.ts";

/** Target: at most two round trips to the farthest leader, plus this. */
const SLACK_MS = 20;

async function call(base: string, method: string, path: string, body: unknown, region: string): Promise<void> {
  const response = await fetch(`${base}${path}`, { method, headers: { "Content-Type": "application/json", [REGION_HEADER]: region }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`edgekeeper: ${method} ${path}: HTTP ${response.status} ${text}`);
}

/** The fenced write's latency from the second region, beside the write alone, as table lines. */
export async function crossShardMultiRows(base: string, ops: number, timeLimitMs: number): Promise<string[]> {
  const [lockRegion, callerRegion, dataRegion] = [REGIONS[0], REGIONS[1], REGIONS[2]];
  const prefix = `/bench-fenced-${crypto.randomUUID().slice(0, 8)}`;
  await call(base, "POST", "/v1/admin/mounts", { prefix }, lockRegion);
  const { mounts } = (await (await fetch(`${base}/v1/admin/mounts`)).json()) as { mounts: { prefix: string; shard: string }[] };
  const shard = mounts.find((m) => m.prefix === prefix)!.shard;
  await call(base, "POST", `/v1/znodes${prefix}/x`, { data: "0" }, callerRegion);
  await call(base, "POST", `/v1/znodes${prefix}-lock`, {}, callerRegion);
  await call(base, "POST", `/v1/znodes${prefix}-other`, {}, callerRegion);
  await call(base, "POST", `/v1/admin/shards/${shard}/leader`, { region: dataRegion }, lockRegion);
  const options = { warmup: Math.max(1, Math.round(ops / 10)), ops, timeLimitMs };
  const fenced = await sequentialLatencies(options, () =>
    call(base, "POST", "/v1/multi", { ops: [{ op: "check", path: `${prefix}-lock`, version: 0 }, { op: "setData", path: `${prefix}/x`, data: "1" }] }, callerRegion),
  );
  const both = await sequentialLatencies(options, () =>
    call(base, "POST", "/v1/multi", { ops: [{ op: "setData", path: `${prefix}-other`, data: "1" }, { op: "setData", path: `${prefix}/x`, data: "1" }] }, callerRegion),
  );
  const alone = await sequentialLatencies(options, () => call(base, "PUT", `/v1/znodes${prefix}/x`, { data: "1" }, callerRegion));
  const [toLock, toData] = [roundTripMs(callerRegion, lockRegion), roundTripMs(callerRegion, dataRegion)];
  const target = Math.round(2 * Math.max(meanRoundTripMs(callerRegion, lockRegion), meanRoundTripMs(callerRegion, dataRegion)) + SLACK_MS);
  const met = (p50: number, most: number) => (p50 <= most ? "MET" : "NOT MET");
  return [
    renderTable(
      ["multi", "p50", "p99", `target p50 <= ${target}`],
      [
        ["check on one shard + setData on another", formatNumber(fenced.p50), formatNumber(fenced.p99), `${met(fenced.p50, target)}${cutShortNote(fenced.cutShort)}`],
        ["setData on one shard + setData on another", formatNumber(both.p50), formatNumber(both.p99), `${met(both.p50, target)}${cutShortNote(both.cutShort)}`],
        ["the setData alone", formatNumber(alone.p50), formatNumber(alone.p99), cutShortNote(alone.cutShort).trim()],
      ],
    ),
    "",
    `ms per call over HTTP from ${callerRegion}, ${ops} calls one at a time: multis on the root shard (leader in ${lockRegion}, RTT ${toLock} ms)`,
    `and a node mounted on another shard whose leader was moved to ${dataRegion} (RTT ${toData} ms). Target: two round trips to the farther leader`,
    `(as simulated: each its mean with jitter, 5% more) plus ${SLACK_MS} ms: every part prepared at once, then every part applied.`,
  ];
}
