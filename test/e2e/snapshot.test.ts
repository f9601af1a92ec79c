/**
 * `npx edgekeeper snapshot` against `npm start`, as an operator runs it: a tree with
 * every node mode, binary and null data, digest/ip/world ACLs and a mount is saved,
 * restored into another namespace and compared node by node (data, Stat, ACL); an
 * ephemeral never comes back; a damaged file is refused by its line before anything
 * is written; a non-empty namespace is refused; a restore refused midway leaves the
 * namespace empty; a save is consistent at one zxid while writes go on.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Acl, type Stat, digestId } from "../../protocol/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { type Run, run } from "../harness/zk-clients.ts";

const ALICE = "digest alice:secret";

let server: LocalServer;
let dir: string;
let saved: string;

interface NodeView {
  data: string | null;
  stat: Stat;
  acl: Acl[];
}

async function api(namespace: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { "X-Edgekeeper-Namespace": namespace, "Content-Type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function ok(namespace: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { status, json } = await api(namespace, method, path, body, headers);
  if (status >= 300) throw new Error(`${method} ${path} in ${namespace}: ${status} ${JSON.stringify(json)}`);
  return json;
}

const znode = (path: string, query = "") => `/v1/znodes${path === "/" ? "/" : path.split("/").map(encodeURIComponent).join("/")}${query}`;

/** Every node of a namespace but ZooKeeper's own, by path: data (base64), Stat and ACL, read as alice. */
async function treeOf(namespace: string): Promise<Map<string, NodeView>> {
  const tree = new Map<string, NodeView>();
  const visit = async (path: string): Promise<void> => {
    const auth = { "X-Edgekeeper-Auth": ALICE };
    const read = await ok(namespace, "GET", znode(path, "?encoding=base64"), undefined, auth);
    const acl = await ok(namespace, "GET", znode(path, "?view=acl"), undefined, auth);
    tree.set(path, { data: read.data as string | null, stat: read.stat as Stat, acl: acl.acl as Acl[] });
    const { children } = (await ok(namespace, "GET", znode(path, "?view=children"), undefined, auth)) as { children: string[] };
    for (const child of children) {
      const childPath = path === "/" ? `/${child}` : `${path}/${child}`;
      if (childPath !== "/zookeeper") await visit(childPath);
    }
  };
  await visit("/");
  return tree;
}

function snapshot(...args: string[]): Promise<Run> {
  return run("npx", ["edgekeeper", "snapshot", ...args, "--url", server.base, "--quiet"]);
}

/** A namespace as new: "/" with nothing but /zookeeper under it, one shard. */
async function expectEmpty(namespace: string): Promise<void> {
  const root = (await ok(namespace, "GET", znode("/", "?view=children"))) as { children: string[] };
  expect(root.children).toEqual(["zookeeper"]);
  const table = (await ok(namespace, "GET", "/v1/admin/mounts")) as { mounts: unknown[] };
  expect(table.mounts).toEqual([{ prefix: "/", shard: "root" }]);
}

let sourceTree: Map<string, NodeView>;
let sessionHeader: Record<string, string>;

beforeAll(async () => {
  server = await startLocalServer();
  dir = await mkdtemp(join(tmpdir(), "edgekeeper-snapshot-"));
  saved = join(dir, "src.jsonl");
  const ns = "src";
  const aliceAcl = [{ perms: "cdrwa", scheme: "digest", id: await digestId("alice:secret") }];
  await ok(ns, "POST", znode("/app"), { data: "config v0" });
  await ok(ns, "PUT", znode("/app"), { data: "config v1" });
  await ok(ns, "PUT", znode("/app"), { data: "config v2", version: 1 });
  for (let i = 0; i < 3; i++) await ok(ns, "POST", znode("/app/job-"), { mode: "PERSISTENT_SEQUENTIAL", data: `job ${i}` });
  await ok(ns, "DELETE", znode("/app/job-0000000001"));
  await ok(ns, "POST", znode("/bin"), { data: "AAEC//79", encoding: "base64" });
  await ok(ns, "POST", znode("/null"), { data: null });
  await ok(ns, "POST", znode("/c"), { mode: "CONTAINER" });
  await ok(ns, "POST", znode("/c/kept"), { data: "keeps the container" });
  await ok(ns, "POST", znode("/t"), { mode: "PERSISTENT_WITH_TTL", ttlMs: 3_600_000, data: "ttl" });
  await ok(ns, "POST", znode("/t-"), { mode: "PERSISTENT_SEQUENTIAL_WITH_TTL", ttlMs: 7_200_000 });
  await ok(ns, "POST", znode("/secure"), { data: "alice only", acl: aliceAcl });
  await ok(ns, "POST", znode("/local"), { data: "loopback only", acl: [{ perms: "rw", scheme: "ip", id: "127.0.0.1" }] });
  await ok(ns, "POST", znode("/readonly"), { data: "world may read" });
  await ok(ns, "PUT", znode("/readonly", "?view=acl"), { acl: [{ perms: "r", scheme: "world", id: "anyone" }], version: 0 });
  await ok(ns, "POST", "/v1/admin/mounts", { prefix: "/big", acl: [{ perms: "cdrwa", scheme: "world", id: "anyone" }] });
  await ok(ns, "POST", znode("/big/x"), { data: "on the mounted shard" });
  await ok(ns, "POST", znode("/big/x/q-"), { mode: "PERSISTENT_SEQUENTIAL" });
  const session = await ok(ns, "POST", "/v1/sessions", { timeoutMs: 30_000 });
  sessionHeader = { "X-Edgekeeper-Session": `${session.sessionId}:${session.password}` };
  await ok(ns, "POST", znode("/app/leader"), { mode: "EPHEMERAL", data: "me" }, sessionHeader);
  sourceTree = await treeOf(ns);
  // /secure is alice's alone: the save reads as alice (super would do too).
  const saving = await snapshot("save", saved, "--namespace", ns, "--auth", ALICE);
  expect(saving, saving.stderr).toMatchObject({ code: 0 });
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("restores a saved tree into another namespace node by node, Stat and ACL included, without its ephemerals", async () => {
  const restoring = await snapshot("restore", saved, "--namespace", "copy");
  expect(restoring, restoring.stderr).toMatchObject({ code: 0 });
  const restored = await treeOf("copy");
  // The ephemeral is gone, and its parent shows it as deleted: one child fewer, cversion one more.
  const expected = new Map(sourceTree);
  expected.delete("/app/leader");
  const app = sourceTree.get("/app")!;
  expected.set("/app", { ...app, stat: { ...app.stat, numChildren: app.stat.numChildren - 1, cversion: app.stat.cversion + 1 } });
  expect([...restored.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, node] of expected) expect(restored.get(path), path).toEqual(node);
  expect(((await ok("copy", "GET", "/v1/admin/mounts")) as { mounts: { prefix: string }[] }).mounts.map((m) => m.prefix)).toEqual(["/", "/big"]);
  // Sequence numbers and zxids go on from the saved ones.
  const next = (await ok("copy", "POST", znode("/app/job-"), { mode: "PERSISTENT_SEQUENTIAL" })) as { path: string; stat: Stat };
  // Four children were created under /app (three jobs and the ephemeral): the next is the fifth.
  expect(next.path).toBe("/app/job-0000000004");
  expect(next.stat.czxid).toBeGreaterThan(Math.max(...[...restored.values()].map((n) => n.stat.mzxid)));
});

it("refuses to save a node whose ACL refuses the caller READ, and leaves no file", async () => {
  const file = join(dir, "refused.jsonl");
  const saving = await snapshot("save", file, "--namespace", "src");
  expect(saving.code).toBe(1);
  expect(saving.stderr).toContain("NoAuth");
  expect(saving.stderr).toContain("/secure");
  await expect(readFile(file)).rejects.toThrow();
});

it("inspect summarises a file: nodes, data bytes, each shard's zxid, the largest values", async () => {
  const inspected = await run("npx", ["edgekeeper", "snapshot", "inspect", saved, "--json"]);
  expect(inspected, inspected.stderr).toMatchObject({ code: 0 });
  const summary = JSON.parse(inspected.stdout) as { nodes: number; dataBytes: number; kinds: Record<string, number>; shards: { prefix: string; nodes: number }[]; largest: { path: string }[] };
  const nodes = [...sourceTree.entries()].filter(([path]) => path !== "/app/leader");
  expect(summary.nodes).toBe(nodes.length);
  expect(summary.dataBytes).toBe(nodes.reduce((sum, [, n]) => sum + n.stat.dataLength, 0));
  expect(summary.kinds).toEqual({ persistent: nodes.length - 3, container: 1, ttl: 2 });
  expect(summary.shards.map((s) => [s.prefix, s.nodes])).toEqual([["/", nodes.length - 3], ["/big", 3]]);
  expect(summary.largest[0]!.path).toBe("/big/x");
});

it("refuses a damaged file with the line that is wrong, before writing anything", async () => {
  const lines = (await readFile(saved, "utf8")).trimEnd().split("\n");
  const cases: [string, string[], string][] = [
    ["not JSON", lines.map((l, i) => (i === 3 ? l.slice(0, -5) : l)), "line 4: not valid JSON"],
    ["a wrong dataLength", lines.map((l, i) => (i === 2 ? l.replace(/"dataLength":\d+/, '"dataLength":999') : l)), "line 3: "],
    ["a child before its parent", [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)], "line 2: "],
    ["truncated", lines.slice(0, -1), "truncated"],
  ];
  for (const [what, damaged, message] of cases) {
    const file = join(dir, "damaged.jsonl");
    await writeFile(file, `${damaged.join("\n")}\n`);
    const restoring = await snapshot("restore", file, "--namespace", "damaged");
    expect(restoring.code, what).toBe(1);
    expect(restoring.stderr, what).toContain(message);
    await expectEmpty("damaged");
  }
});

it("refuses to restore into a namespace that is not empty, and leaves it as it was", async () => {
  const restoring = await snapshot("restore", saved, "--namespace", "src");
  expect(restoring.code).toBe(1);
  expect(restoring.stderr).toContain("NotEmpty");
  expect(await treeOf("src")).toEqual(sourceTree);
});

it("leaves the namespace empty when the server refuses a node midway", async () => {
  // A value over this server's 1 MiB limit, as restoring into a deployment with smaller limits: the file
  // itself is well formed, so nodes before it are written, then the refusal undoes them.
  const lines = (await readFile(saved, "utf8")).trimEnd().split("\n");
  const big = new Uint8Array(2 * 1024 * 1024).fill(7);
  const root = sourceTree.get("/")!;
  const node = { path: "/zzz", kind: "persistent", data: Buffer.from(big).toString("base64"), acl: root.acl, stat: { ...root.stat, dataLength: big.byteLength, numChildren: 0, cversion: 0 } };
  const trailer = JSON.parse(lines.at(-1)!) as { nodes: number };
  const file = join(dir, "too-big.jsonl");
  await writeFile(file, `${[...lines.slice(0, -1), JSON.stringify(node), JSON.stringify({ end: true, nodes: trailer.nodes + 1 })].join("\n")}\n`);
  const restoring = await snapshot("restore", file, "--namespace", "half");
  expect(restoring.code).toBe(1);
  expect(restoring.stderr).toContain("BadArguments");
  await expectEmpty("half");
  // Empty, not broken: a restore of a good file then succeeds.
  expect(await snapshot("restore", saved, "--namespace", "half")).toMatchObject({ code: 0 });
});

it("saves each shard as of the zxid the save began at, whatever is written while it pages", async () => {
  const begun = (await ok("src", "POST", "/v1/admin/snapshot")) as { id: string; shards: { prefix: string; zxid: number }[] };
  const late = (await ok("src", "POST", znode("/late"), { data: "after the save began" })) as { stat: Stat };
  await ok("src", "PUT", znode("/app"), { data: "changed after the save began" });
  expect(late.stat.czxid).toBeGreaterThan(begun.shards[0]!.zxid);
  const page = (await ok("src", "GET", `/v1/admin/snapshot/${begun.id}/page?prefix=/&after=`, undefined, { "X-Edgekeeper-Auth": ALICE })) as { nodes: { path: string; data: string }[]; done: boolean };
  expect(page.done).toBe(true);
  expect(page.nodes.map((n) => n.path)).not.toContain("/late");
  expect(Buffer.from(page.nodes.find((n) => n.path === "/app")!.data, "base64").toString()).toBe("config v2");
  await ok("src", "DELETE", znode("/late"));
});
