/**
 * The admin snapshot routes inside workerd: a save pages a tree in bounded pages
 * (EDGEKEEPER_SNAPSHOT_PAGE_BYTES is 2000 here) and frees its copy at the end; a
 * restored tree equals the saved one; restored TTL nodes and containers are reaped
 * as the originals would be. The command-line round trip is test/e2e/snapshot.test.ts.
 */
import { expect, it } from "vitest";
import type { SnapshotHeader, SnapshotNode } from "../../protocol/index.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";

const PAGE_BYTES = 2000;

interface Page {
  nodes: SnapshotNode[];
  last: string | null;
  done: boolean;
}

/** Saves a namespace through the routes: the header's fields and every page. */
async function save(zk: HttpClient): Promise<{ id: string; shards: SnapshotHeader["shards"]; pages: Page[] }> {
  const begun = await (await zk.fetch("POST", "/v1/admin/snapshot")).json<{ id: string; shards: SnapshotHeader["shards"] }>();
  const pages: Page[] = [];
  for (const shard of begun.shards) {
    let after = "";
    for (;;) {
      const res = await zk.fetch("GET", `/v1/admin/snapshot/${begun.id}/page?${new URLSearchParams({ prefix: shard.prefix, after })}`);
      expect(res.status).toBe(200);
      const page = await res.json<Page>();
      pages.push(page);
      if (page.done) break;
      after = page.last!;
    }
  }
  return { ...begun, pages };
}

/** Restores saved pages into the namespace of `zk` through the routes. */
async function restore(zk: HttpClient, header: Pick<SnapshotHeader, "shards">, nodes: SnapshotNode[]): Promise<void> {
  const full: SnapshotHeader = { format: "edgekeeper-snapshot", version: 1, namespace: "x", created: new Date().toISOString(), shards: header.shards };
  for (const [route, body] of [["/v1/admin/restore", { header: full }], ["/v1/admin/restore/nodes", { nodes }], ["/v1/admin/restore/finish", {}]] as const) {
    const res = await zk.fetch("POST", route, { body });
    expect(res.status, `${route}: ${await res.clone().text()}`).toBe(200);
  }
}

it("saves a tree in pages bounded in bytes, then frees the copy", async () => {
  const zk = new HttpClient();
  const value = "v".repeat(200);
  expect((await zk.multi([{ op: "create", path: "/p" }, ...Array.from({ length: 40 }, (_, i) => ({ op: "create", path: `/p/n${i}`, data: value }))])).status).toBe(200);
  const saved = await save(zk);
  expect(saved.pages.length).toBeGreaterThan(4);
  for (const page of saved.pages) {
    // A page holds about PAGE_BYTES of nodes, one more at most.
    const oneNode = Math.max(...page.nodes.map((n) => JSON.stringify(n).length));
    expect(JSON.stringify(page.nodes).length).toBeLessThanOrEqual(PAGE_BYTES + oneNode);
  }
  const paths = saved.pages.flatMap((p) => p.nodes.map((n) => n.path));
  expect(paths).toEqual(["/", "/p", ...Array.from({ length: 40 }, (_, i) => `/p/n${i}`).sort()]);
  const again = await zk.fetch("GET", `/v1/admin/snapshot/${saved.id}/page?prefix=/&after=`);
  await expectKeeperError(again, "SystemError");
});

it("restores saved pages into an empty namespace as they were", async () => {
  const source = new HttpClient();
  await source.mustCreate("/a", { data: "one" });
  await source.mustCreate("/a/s-", { mode: "PERSISTENT_SEQUENTIAL", data: "two" });
  await source.set("/a", { data: "three" });
  const saved = await save(source);
  const copy = new HttpClient();
  await restore(copy, saved, saved.pages.flatMap((p) => p.nodes));
  expect(await copy.snapshot()).toEqual(await source.snapshot());
});

it("reaps restored TTL nodes that ran out and restored containers left empty, as their originals would be", async () => {
  const copy = new HttpClient();
  const long = Date.now() - 3_600_000;
  const acl = [{ perms: 31, scheme: "world", id: "anyone" }];
  const stat = (numChildren: number, cversion: number) => ({ czxid: 5, mzxid: 5, pzxid: 6, ctime: long, mtime: long, version: 0, cversion, aversion: 0, ephemeralOwner: 0, dataLength: 0, numChildren });
  const nodes: SnapshotNode[] = [
    { path: "/", kind: "persistent", data: "", acl, stat: { ...stat(3, -1), czxid: 0, mzxid: 0, ctime: 0, mtime: 0 } },
    { path: "/expired", kind: "ttl", ttlMs: 1000, data: "", acl, stat: stat(0, 0) },
    { path: "/emptied", kind: "container", data: "", acl, stat: stat(0, 2) },
  ];
  await restore(copy, { shards: [{ prefix: "/", zxid: 6 }] }, nodes);
  for (const path of ["/expired", "/emptied"]) {
    await expect.poll(async () => (await copy.get(path)).status, { timeout: 4_000 }).toBe(404);
  }
});

it("refuses a snapshot with more mounts than the namespace may hold, before changing anything", async () => {
  const copy = new HttpClient();
  // EDGEKEEPER_MAX_MOUNTS is 3 in the test config.
  const shards = ["/", "/a", "/b", "/c", "/d"].map((prefix, zxid) => ({ prefix, zxid }));
  const header: SnapshotHeader = { format: "edgekeeper-snapshot", version: 1, namespace: "x", created: new Date().toISOString(), shards };
  await expectKeeperError(await copy.fetch("POST", "/v1/admin/restore", { body: { header } }), "QuotaExceeded");
  expect((await copy.fetch("GET", "/v1/admin/mounts").then((r) => r.json<{ mounts: unknown[] }>())).mounts).toHaveLength(1);
  await expectKeeperError(await copy.fetch("POST", "/v1/admin/restore/nodes", { body: { nodes: [] } }), "BadArguments");
});
