/**
 * GET /v1/admin/shards: each shard's leader (region, epoch) and replicas, a page at a
 * time. Without simulated regions the leader's region is null (the platform places
 * it) and the header naming a region is not read; with them, the leaders are in the
 * first region, and a caller naming another region than theirs is refused.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RegionLink } from "../../durable/base/region-link.ts";
import { shardPlacements } from "../../durable/directory/shard-placement.ts";
import { app } from "../../worker/app.ts";
import { HttpClient, ORIGIN, expectKeeperError, uniqueNamespace } from "../harness/http.ts";

interface Page {
  namespace: string;
  regions: string[];
  shards: { shard: string; prefix: string; leader: { region: string | null; epoch: number; lastZxid: number }; replicas: unknown[]; advice: unknown }[];
  next?: string;
}

describe("GET /v1/admin/shards", () => {
  it("lists every shard with its epoch, in prefix order, its region null without simulated regions", async () => {
    const zk = new HttpClient({ headers: { "X-Edgekeeper-Region": "not-read-here" } });
    await zk.mustCreate("/a");
    expect((await zk.mount("/m")).status).toBe(201);
    const res = await zk.fetch("GET", "/v1/admin/shards");
    expect(res.status).toBe(200);
    const page = await res.json<Page>();
    expect(page.regions).toEqual([]);
    expect(page.shards.map((s) => s.prefix)).toEqual(["/", "/m"]);
    for (const shard of page.shards) {
      expect(shard.leader.region).toBeNull();
      expect(shard.leader.epoch).toBe(1);
      expect(shard.replicas).toEqual([]);
      // Where its writes come from is counted only with simulated regions.
      expect(shard.advice).toBeNull();
    }
    // The root shard took the writes: its last zxid is of epoch 1 and past the mount's.
    expect(Math.floor(page.shards[0]!.leader.lastZxid / 2 ** 32)).toBe(1);
    expect(page.next).toBeUndefined();
  });

  it("answers a page of EDGEKEEPER_MAX_LISTED_SHARDS shards at most, and `next` for the rest", async () => {
    const zk = new HttpClient();
    for (const prefix of ["/p1", "/p2", "/p3"]) expect((await zk.mount(prefix)).status).toBe(201);
    const small = { ...env, EDGEKEEPER_MAX_LISTED_SHARDS: "2" };
    const link = RegionLink.at(small);
    const first = await shardPlacements(small, link, zk.namespace);
    expect(first.shards.map((s) => s.prefix)).toEqual(["/", "/p1"]);
    expect(first.next).toBe("/p1");
    const second = await shardPlacements(small, link, zk.namespace, first.next);
    expect(second.shards.map((s) => s.prefix)).toEqual(["/p2", "/p3"]);
    expect(second.next).toBeUndefined();
    // The route takes the same cursor.
    const res = await zk.fetch("GET", "/v1/admin/shards?after=%2Fp2");
    expect((await res.json<Page>()).shards.map((s) => s.prefix)).toEqual(["/p3"]);
  });

});

describe("with simulated regions", () => {
  // The Worker as npm start --regions runs it: the setting is all that differs.
  const regions = { ...env, EDGEKEEPER_REGIONS: "enam,apac" };
  const get = (path: string, headers: Record<string, string>) => app.fetch(new Request(`${ORIGIN}${path}`, { headers: { "X-Edgekeeper-Namespace": uniqueNamespace(), ...headers } }), regions);

  it("says the leaders are in the first region, asked from any region", async () => {
    for (const headers of [{}, { "X-Edgekeeper-Region": "apac" }] as Record<string, string>[]) {
      const res = await get("/v1/admin/shards", headers);
      expect(res.status).toBe(200);
      const page = await res.json<Page>();
      expect(page.regions).toEqual(["enam", "apac"]);
      expect(page.shards).toMatchObject([{ prefix: "/", leader: { region: "enam", epoch: 1 }, replicas: [] }]);
    }
  });

  it("refuses a region that is not one of them: BadArguments, naming them", async () => {
    for (const region of ["oc", "mars", ""]) {
      const res = await get("/v1/znodes/", { "X-Edgekeeper-Region": region });
      await expectKeeperError(res, "BadArguments");
    }
    const res = await get("/v1/znodes/", { "X-Edgekeeper-Region": "oc" });
    expect((await res.json<{ error: { message: string } }>()).error.message).toBe('X-Edgekeeper-Region: region "oc" is not one of this server\'s regions (enam, apac)');
  });
});
