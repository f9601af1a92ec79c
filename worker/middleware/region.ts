/**
 * The caller's region, in the simulation of regions on one machine (EDGEKEEPER_REGIONS;
 * durable/base/region-link.ts): `X-Edgekeeper-Region`, standing in for the edge
 * location the request came in at, or `?region=` on the socket route (a browser's
 * WebSocket cannot set headers); the first region when absent. A name that is not
 * one of the regions is BadArguments. Without the simulation the header is not read,
 * and calls go undelayed, as ever.
 */
import type { MiddlewareHandler } from "hono";
import { regionsOf, RegionLink } from "../../durable/base/region-link.ts";
import { KeeperError } from "../../protocol/index.ts";
import { REGION_HEADER, type Region } from "../../protocol/regions.ts";
import type { AppEnv } from "../app.ts";
import { SOCKET_PATH } from "./bearer-auth.ts";

/** Sets the request's `link`: how its calls reach the objects, from the caller's region. */
export function selectRegion(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const regions = regionsOf(c.env);
    let region: Region | undefined;
    if (regions) {
      const named = (c.req.path === SOCKET_PATH ? c.req.query("region") : undefined) ?? c.req.header(REGION_HEADER);
      region = named === undefined ? regions[0] : regions.find((known) => known === named.trim());
      if (region === undefined) throw new KeeperError("BadArguments", `${REGION_HEADER}: region ${JSON.stringify(named)} is not one of this server's regions (${regions.join(", ")})`);
    }
    c.set("link", RegionLink.at(c.env, region));
    await next();
  };
}
