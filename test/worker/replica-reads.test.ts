/**
 * Read modes with read replicas, through the Worker as `npm start --regions` runs
 * it (the setting is all that differs): a caller in a region other than the
 * leader's reads at that region's replica when the mode allows and the replica is
 * ready, at the leader otherwise, and always sees what its bookmark says it wrote.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ReadContext, readRoutingOf } from "../../durable/directory/read-routing.ts";
import { ShardRouter } from "../../durable/directory/shard-router.ts";
import { shardObjectName } from "../../durable/env.ts";
import { replicaObjectName } from "../../durable/replication/replica-name.ts";
import { emptyBookmark, parseReadMode } from "../../protocol/index.ts";
import { app } from "../../worker/app.ts";
import { ORIGIN, uniqueNamespace, znodeUrl } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";

const regions = { ...env, EDGEKEEPER_REGIONS: "enam,apac" };

function caller(namespace: string, region: string) {
  return (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    app.fetch(
      new Request(path.startsWith("/v1") ? `${ORIGIN}${path}` : znodeUrl(path), {
        method,
        headers: { "X-Edgekeeper-Namespace": namespace, "X-Edgekeeper-Region": region, ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
      regions,
    );
}

describe("reads with replicas", () => {
  it("a sequential read from another region is served by its replica once ready, and always shows the caller's writes", async () => {
    const namespace = uniqueNamespace("replica-reads");
    const inApac = caller(namespace, "apac");
    const created = await inApac("POST", "/cfg", {}, { data: "v1" });
    expect(created.status).toBe(201);
    expect(created.headers.get("X-Edgekeeper-Served-By")).toBe("enam/leader");
    let bookmark = created.headers.get("X-Edgekeeper-Bookmark")!;

    // The first read starts the replica (not ready: the leader serves), later ones find it ready.
    await eventually("a read served by the apac replica", async () => {
      const read = await inApac("GET", "/cfg", { "X-Edgekeeper-Bookmark": bookmark });
      expect(read.status).toBe(200);
      expect((await read.json<{ data: string }>()).data).toBe("v1");
      return read.headers.get("X-Edgekeeper-Served-By") === "apac/replica";
    }, 30_000);

    for (const version of ["v2", "v3", "v4"]) {
      const written = await inApac("PUT", "/cfg", {}, { data: version });
      expect(written.status).toBe(200);
      bookmark = written.headers.get("X-Edgekeeper-Bookmark")!;
      const read = await inApac("GET", "/cfg", { "X-Edgekeeper-Bookmark": bookmark });
      expect((await read.json<{ data: string }>()).data).toBe(version);
      expect(["apac/replica", "enam/leader"]).toContain(read.headers.get("X-Edgekeeper-Served-By"));
    }
  });

  it("linearizable reads stay at the leader; any reads at the replica; a caller in the leader's region reads at the leader", async () => {
    const namespace = uniqueNamespace("replica-modes");
    const inApac = caller(namespace, "apac");
    expect((await inApac("POST", "/m", {}, { data: "x" })).status).toBe(201);
    await eventually("an any read served by the apac replica", async () => {
      const read = await inApac("GET", "/m", { "X-Edgekeeper-Consistency": "any" });
      return read.status === 200 && read.headers.get("X-Edgekeeper-Served-By") === "apac/replica";
    }, 30_000);
    const linearizable = await inApac("GET", "/m", { "X-Edgekeeper-Consistency": "linearizable" });
    expect(linearizable.headers.get("X-Edgekeeper-Served-By")).toBe("enam/leader");
    const inEnam = await caller(namespace, "enam")("GET", "/m");
    expect(inEnam.headers.get("X-Edgekeeper-Served-By")).toBe("enam/leader");
  });

  it("a mount's replica serves its subtree; once unmounted, a router whose table still names the mount finds the path gone", async () => {
    const namespace = uniqueNamespace("replica-unmount");
    const inApac = caller(namespace, "apac");
    const mounted = await inApac("POST", "/v1/admin/mounts", {}, { prefix: "/big" });
    expect(mounted.status).toBe(201);
    const { shard } = (await mounted.json<{ mount: { shard: string } }>()).mount;
    await eventually("a read of the mount served by the apac replica", async () => {
      const read = await inApac("GET", "/big", { "X-Edgekeeper-Consistency": "any" });
      return read.status === 200 && read.headers.get("X-Edgekeeper-Served-By") === "apac/replica";
    }, 30_000);

    const stale = new ShardRouter(regions, namespace, undefined, new ReadContext(readRoutingOf(regions), parseReadMode("any"), emptyBookmark(namespace), { callerRegion: "apac" }));
    expect((await stale.table(true)).mounts).toHaveLength(2); // cached with /big, for 5 s
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(namespace));
    expect((await directory.unmount("/big", { sessionId: 0, ids: [] })).ok).toBe(true);
    // The seal reaches the replica through its leader's log, and ends its pulling.
    const replica = env.SHARD.get(env.SHARD.idFromName(replicaObjectName(shardObjectName(namespace, shard), "apac")));
    await eventually("the mount's replica stopped", async () => (await replica.replicaStatus())?.pulling === false, 30_000);
    // That replica answers moved (asked directly, so this holds whatever the stale table's age)...
    const read = await replica.replicaRead("/big", { sessionId: 0, ids: [] }, [{ op: "getData", path: "/big" }], { minZxid: 0, waitMs: 0 });
    expect(read).toMatchObject({ ready: true, outcomes: [{ ok: false, moved: true }] });
    // ...so the stale route to it is routed anew, to /'s shard.
    expect(await stale.execute({ sessionId: 0, ids: [] }, { op: "getData", path: "/big" })).toMatchObject({ ok: false, error: { name: "NoNode" } });
  });
});
