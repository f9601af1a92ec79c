/**
 * Where a shard's leader should be, by where its writes come from, as
 * `GET /v1/admin/shards` advises it (workerd-regions project: leaders in enam, a
 * replica region apac): each write the leader commits counts for its caller's
 * region, the shares and the mean write round trip with the leader in each region
 * say why, and a restarted leader goes on from what it had counted.
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { expect, it } from "vitest";
import type { PlacementAdvice } from "../../durable/replication/core/index.ts";
import { roundTripMs } from "../../protocol/regions.ts";
import { HttpClient } from "../harness/http.ts";

type Page = { shards: { prefix: string; advice: PlacementAdvice | null }[] };

async function rootAdvice(zk: HttpClient): Promise<PlacementAdvice | null> {
  const res = await zk.fetch("GET", "/v1/admin/shards");
  expect(res.status).toBe(200);
  return (await res.json<Page>()).shards.find((s) => s.prefix === "/")!.advice;
}

it("counts each write by its caller's region and says where the leader should be and why, also after a restart", async () => {
  const fromApac = new HttpClient({ headers: { "X-Edgekeeper-Region": "apac" } });
  const fromEnam = new HttpClient({ namespace: fromApac.namespace, headers: { "X-Edgekeeper-Region": "enam" } });
  await fromApac.mustCreate("/k", { data: "0" });
  for (let i = 1; i <= 5; i++) expect((await fromApac.set("/k", { data: String(i) })).status).toBe(200);
  expect((await fromEnam.set("/k", { data: "6" })).status).toBe(200);
  // A read is no write: it counts for nothing.
  expect((await fromEnam.get("/k")).status).toBe(200);

  const advice = await rootAdvice(fromApac);
  expect(advice).toMatchObject({ region: "enam", move: false });
  expect(advice!.shares.apac).toBeCloseTo(6 / 7, 3);
  expect(advice!.shares.enam).toBeCloseTo(1 / 7, 3);
  // The mean write round trip with the leader in each region, weighted by where the writes come from.
  expect(advice!.meanWriteMs.enam).toBeCloseTo((6 * roundTripMs("apac", "enam") + roundTripMs("enam", "enam")) / 7, 0);
  expect(advice!.meanWriteMs.apac).toBeCloseTo((6 * roundTripMs("apac", "apac") + roundTripMs("enam", "apac")) / 7, 0);
  // apac dominates, but not for long enough yet to move the leader.
  expect(advice!.reason).toMatch(/^apac has sent 60% of the writes for \d+ s, not yet 600 s$/);

  // The first write's counts were written down; a restarted leader goes on from them.
  await abortAllDurableObjects();
  const after = await rootAdvice(fromApac);
  expect(after!.shares.apac).toBeGreaterThan(0.5);
  expect(after!.region).toBe("enam");
});
