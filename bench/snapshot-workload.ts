/**
 * `npm run bench -- --snapshot`: backup and restore of a tree of N nodes (default
 * 100,000: 100 parents of 999 children each, 100-byte values), beside ZooKeeper 3.8's
 * own snapshot of the same tree.
 *
 * edgekeeper, as an operator runs it against `npm start`: `npx edgekeeper snapshot
 * restore` of a generated file into an empty namespace (this also builds the tree),
 * then `snapshot save` of that namespace; the saved nodes must equal the file's.
 *
 * ZooKeeper has no online export; its backup is the snapshot file it writes itself,
 * and its restore is a restart that loads it. So, with the same tree created through
 * node-zookeeper-client (64 creates in flight): a restart that replays the creates'
 * transaction log and writes a snapshot (ZooKeeper snapshots as it loads), then a
 * restart that loads that snapshot, each timed from start to serving; and, to tell
 * the JVM's start-up apart, its start on an empty data directory.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type SnapshotNode, type Stat, bytesToBase64 } from "../protocol/index.ts";
import { zookeeperUnavailable } from "../test/harness/zookeeper/launch.ts";
import { startEdgekeeper } from "./peers/edgekeeper.ts";
import { launchZookeeper } from "./peers/zookeeper.ts";
import { openZookeeperSession } from "./peers/zookeeper-sessions.ts";
import { freePort, stopGroup, tempDir } from "./procs.ts";
import { value } from "./workloads.ts";

const repoRoot = resolve(import.meta.dirname, "..");
const PER_PARENT = 1000; // a parent and its 999 children
const ROOT = "/snap";
const IN_FLIGHT = 64;

export interface SnapshotBenchResult {
  lines: string[];
  notes: string[];
}

/** The tree: /snap, then parents /snap/g<i>, each with up to 999 children /snap/g<i>/n<j>. */
function treeOf(nodes: number): { path: string; children: string[] }[] {
  const groups: { path: string; children: string[] }[] = [];
  for (let made = 1, g = 0; made < nodes; g++) {
    const path = `${ROOT}/g${g}`;
    const children: string[] = [];
    for (let i = 0; i < PER_PARENT - 1 && made + 1 + children.length < nodes; i++) children.push(`${path}/n${i}`);
    groups.push({ path, children });
    made += 1 + children.length;
  }
  return groups;
}

/** Its paths, parents before children. */
function treePaths(nodes: number): string[] {
  return [ROOT, ...treeOf(nodes).flatMap((g) => [g.path, ...g.children])];
}

/** A snapshot file of the tree, as a save of a namespace holding it would write. */
async function writeTreeFile(file: string, paths: string[]): Promise<void> {
  const data = bytesToBase64(value(100, 1));
  const acl = [{ perms: 31, scheme: "world", id: "anyone" }];
  const children = new Map<string, number>();
  for (const path of paths) {
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    children.set(parent, (children.get(parent) ?? 0) + 1);
  }
  const now = Date.now();
  const statOf = (zxid: number, numChildren: number, dataLength: number): Stat => ({
    czxid: zxid, mzxid: zxid, pzxid: zxid, ctime: now, mtime: now, version: 0, cversion: numChildren, aversion: 0, ephemeralOwner: 0, dataLength, numChildren,
  });
  const out = createWriteStream(file);
  const line = async (v: unknown) => {
    if (!out.write(`${JSON.stringify(v)}\n`)) await once(out, "drain");
  };
  await line({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, namespace: "bench", created: new Date(now).toISOString(), shards: [{ prefix: "/", zxid: paths.length }] });
  // "/" has /zookeeper besides: one child more than created (cversion counts creates and deletes).
  await line({ path: "/", kind: "persistent", data: "", acl, stat: { ...statOf(0, 2, 0), cversion: 0, ctime: 0, mtime: 0 } } satisfies SnapshotNode);
  for (const [i, path] of paths.entries()) {
    const n = children.get(path) ?? 0;
    await line({ path, kind: "persistent", data: n > 0 ? "" : data, acl, stat: statOf(i + 1, n, n > 0 ? 0 : 100) } satisfies SnapshotNode);
  }
  await line({ end: true, nodes: paths.length + 1 });
  out.end();
  await once(out, "finish");
}

/** Runs `npx edgekeeper snapshot ...` (this Node, the repository's bin) to its end; its time in ms. */
async function snapshotCommand(args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(repoRoot, "bridge/cli/edgekeeper.ts"), "snapshot", ...args, "--quiet"], { stdio: ["ignore", "inherit", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`edgekeeper snapshot ${args.join(" ")} failed (${code}): ${stderr}`);
  return performance.now() - started;
}

/**
 * The node lines of a snapshot file, sorted and hashed: the header's time and
 * namespace differ between files, and a save lists each shard in path order.
 */
async function nodeLinesDigest(file: string): Promise<string> {
  const lines = (await readFile(file, "utf8")).split("\n").slice(1).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

async function edgekeeperFigures(nodes: number, startupLimitMs: number, lines: string[]): Promise<void> {
  const dir = await tempDir("edgekeeper-snapshot-bench-");
  const source = join(dir, "tree.jsonl");
  const saved = join(dir, "saved.jsonl");
  await writeTreeFile(source, treePaths(nodes - 1));
  const peer = await startEdgekeeper(startupLimitMs);
  try {
    const url = peer.httpBase!;
    console.log(`  snapshot: restoring ${nodes} nodes into npm start at ${url} ...`);
    const restoreMs = await snapshotCommand(["restore", source, "--url", url, "--namespace", "bench-snapshot"]);
    console.log(`  snapshot: saving them ...`);
    const saveMs = await snapshotCommand(["save", saved, "--url", url, "--namespace", "bench-snapshot"]);
    const same = (await nodeLinesDigest(source)) === (await nodeLinesDigest(saved));
    const mb = ((await stat(saved)).size / 1e6).toFixed(1);
    lines.push(`edgekeeper snapshot restore (into an empty namespace)  ${seconds(restoreMs)}`);
    lines.push(`edgekeeper snapshot save (to a ${mb} MB file)            ${seconds(saveMs)}   saved nodes equal the restored file: ${same ? "yes" : "NO"}`);
  } finally {
    await peer.stop();
  }
}

/** Starts ZooKeeper on `dir` and times it until it serves. */
async function zookeeperStart(dir: string, port: number, startupLimitMs: number) {
  const started = performance.now();
  const proc = await launchZookeeper(dir, port, startupLimitMs);
  return { proc, ms: performance.now() - started };
}

async function zookeeperFigures(nodes: number, startupLimitMs: number, lines: string[], notes: string[]): Promise<void> {
  const unavailable = await zookeeperUnavailable();
  if (unavailable) {
    notes.push(`ZooKeeper's snapshot not measured: ${unavailable}`);
    return;
  }
  const dir = await tempDir("zookeeper-snapshot-bench-");
  const port = await freePort();
  const first = await zookeeperStart(dir, port, startupLimitMs);
  let proc = first.proc;
  try {
    console.log(`  snapshot: creating ${nodes} nodes in ZooKeeper, ${IN_FLIGHT} in flight ...`);
    const session = await openZookeeperSession(`127.0.0.1:${port}`);
    const data = value(100, 1);
    const createStarted = performance.now();
    await session.create(ROOT, new Uint8Array(0));
    for (const group of treeOf(nodes - 1)) {
      await session.create(group.path, group.children.length > 0 ? new Uint8Array(0) : data);
      for (let i = 0; i < group.children.length; i += IN_FLIGHT) await Promise.all(group.children.slice(i, i + IN_FLIGHT).map((p) => session.create(p, data)));
    }
    const createMs = performance.now() - createStarted;
    await session.close();
    await stopGroup(proc);
    const replay = await zookeeperStart(dir, port, startupLimitMs);
    proc = replay.proc;
    await stopGroup(proc);
    const load = await zookeeperStart(dir, port, startupLimitMs);
    proc = load.proc;
    const snapshots = (await readdir(join(dir, "data", "version-2"))).filter((f) => f.startsWith("snapshot."));
    const sizes = await Promise.all(snapshots.map(async (f) => (await stat(join(dir, "data", "version-2", f))).size));
    const mb = (Math.max(...sizes) / 1e6).toFixed(1);
    lines.push(`ZooKeeper restart: replay the creates' log, write a snapshot  ${seconds(replay.ms)}`);
    lines.push(`ZooKeeper restart: load its snapshot (${mb} MB)              ${seconds(load.ms)}`);
    lines.push(`ZooKeeper start on an empty data dir (the JVM alone)        ${seconds(first.ms)}`);
    lines.push(`(ZooKeeper: creating the ${nodes} nodes, ${IN_FLIGHT} in flight, took ${seconds(createMs)})`);
  } finally {
    await stopGroup(proc);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export async function runSnapshotBench(options: { nodes: number; zookeeper: boolean; startupLimitMs: number }): Promise<SnapshotBenchResult> {
  const lines: string[] = [];
  const notes: string[] = [];
  await edgekeeperFigures(options.nodes, options.startupLimitMs, lines);
  if (options.zookeeper) await zookeeperFigures(options.nodes, options.startupLimitMs, lines, notes);
  else notes.push("ZooKeeper not measured: --no-zookeeper");
  return { lines: [`snapshot of ${options.nodes.toLocaleString("en-US")} nodes (${PER_PARENT - 1} children per parent, 100-byte values):`, ...lines.map((l) => `  ${l}`)], notes };
}
