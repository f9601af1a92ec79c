/**
 * The wire bridge end to end: `npm start` (Worker and bridge from one command)
 * driven by real ZooKeeper clients no one here wrote (zkCli.sh, kazoo,
 * node-zookeeper-client), compared where it matters with a real ZooKeeper 3.8
 * started by the test. Each test skips, saying why, where its tool is absent.
 */
import { execFile } from "node:child_process";
import { connect as tcpConnect } from "node:net";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MAX_READABLE_VALUE_BYTES } from "../../protocol/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { until } from "../harness/recipe-clients.ts";
import { type Any, bridgePort, call, hostPort, nzc, zkCli, zkCliUnavailable, zookeeper } from "../harness/zk-clients.ts";
import { fourLetterWord, javaCommand, skipUncompared, zookeeperUnavailable } from "../harness/zookeeper/launch.ts";
import { type RunningZookeeper, startZookeeper } from "../harness/zookeeper/reference.ts";

const PYTHON = "/usr/bin/python3";
const here = import.meta.dirname;
const run = promisify(execFile);

let server: LocalServer;
let zkPort: number;
let reference: RunningZookeeper | undefined;
/** Why the reference cannot run here (not installed): its comparisons skip. An installed one that does not start fails the file. */
let referenceMissing: string | undefined;

beforeAll(async () => {
  server = await startLocalServer();
  // The one line `npm start` prints for the bridge says where it listens.
  zkPort = await bridgePort(server);
  referenceMissing = await zookeeperUnavailable();
  if (referenceMissing) {
    console.warn(`bridge tests without a reference ZooKeeper: ${referenceMissing}`);
    return;
  }
  reference = await startZookeeper();
});

afterAll(async () => {
  await server?.stop();
  await reference?.stop();
});

it("prints where the bridge listens, and answers ruok, isro and srvr as ZooKeeper does", async (ctx) => {
  expect(zkPort).toBeGreaterThan(0);
  expect(await fourLetterWord(zkPort, "ruok")).toBe("imok");
  expect(await fourLetterWord(zkPort, "isro")).toBe("rw");
  // Case-sensitive: RUOK just closes.
  expect(await fourLetterWord(zkPort, "RUOK")).toBe("");
  const keys = (text: string) => text.split("\n").map((line) => line.split(/[:=\t]/)[0]);
  const ours = await fourLetterWord(zkPort, "srvr");
  expect(ours).toMatch(/^Zookeeper version: 3\.8\.0-edgekeeper/);
  for (const word of ["stat", "conf", "mntr", "wchs"]) {
    expect((await fourLetterWord(zkPort, word)).length, word).toBeGreaterThan(0);
  }
  if (reference) expect(keys(ours)).toEqual(keys(await fourLetterWord(reference.port, "srvr")));
  skipUncompared(ctx, referenceMissing);
});

/** Runs zkCli.sh with commands on stdin; returns its output without logs, banners and what varies. */
async function zkCliTranscript(port: number, commands: string[]): Promise<string> {
  const { stdout, stderr } = await zkCli(hostPort(port), [], `${commands.join("\n")}\nquit\n`);
  return `${stdout}${stderr}`
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^\d{4}-\d\d-\d\d |log4j|WATCHER::|WatchedEvent|JLine|Welcome to ZooKeeper|^Connecting to/.test(line))
    .map((line) =>
      line
        .replace(/0x[0-9a-f]+/g, "0xZ")
        .replace(/= [A-Z][a-z]{2} [A-Z][a-z]{2} .*$/, "= TIME")
        .replace(/\[zk: [^\]]*\]/, "[zk]"),
    )
    .join("\n");
}

it("zkCli.sh runs a configuration session with the same output as ZooKeeper 3.8", async (ctx) => {
  const missing = zkCliUnavailable();
  if (missing) ctx.skip(missing);
  if (referenceMissing) ctx.skip(`no reference ZooKeeper: ${referenceMissing}`);
  const commands = [
    "create /cfg app",
    'create /cfg/db "url=jdbc:one"',
    "create -e /cfg/lease held",
    "create -s /cfg/job- x",
    "get /cfg/db",
    'set /cfg/db "url=jdbc:two"',
    "get -s /cfg/db",
    "ls /cfg",
    "ls -s /cfg",
    "stat /cfg",
    "set -v 0 /cfg/db stale",
    "delete /cfg/db",
    "delete /cfg",
    "get /cfg/db",
    "getAllChildrenNumber /cfg",
    "getEphemerals /cfg",
  ];
  const ours = await zkCliTranscript(zkPort, commands);
  const theirs = await zkCliTranscript(reference!.port, commands);
  expect(ours).toContain("url=jdbc:two");
  expect(ours).toBe(theirs);
});

/** ZooKeeper's Java client (bridge/ValueLimit.java) at `bytes`, then one byte more; its report lines. */
async function javaValueLimit(port: number, bytes: number, base: string): Promise<string[]> {
  const classpath = ["zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-nop"].map((jar) => `/usr/share/java/${jar}.jar`).join(":");
  const { stdout } = await run(javaCommand(), ["-cp", classpath, resolve(here, "bridge/ValueLimit.java"), hostPort(port), String(bytes), base], { timeout: 120_000 });
  return stdout.trim().split("\n");
}

it("ZooKeeper's Java client reads back a value at the limit, is refused one byte more and a reply it cannot read; ZooKeeper stores that byte and cannot read it", async (ctx) => {
  if (!reference) ctx.skip(`no reference ZooKeeper (and so no Java client): ${referenceMissing}`);
  const limit = MAX_READABLE_VALUE_BYTES;
  // A multi-read of two such values is a reply the client cannot read: refused, and the connection stays.
  expect(await javaValueLimit(zkPort, limit, "/java")).toEqual([
    "create ok", `get ok ${limit}`, "create+1 BADARGUMENTS", "set+1 BADARGUMENTS", `get ok ${limit}`, "multiRead BADARGUMENTS", `get ok ${limit}`,
  ]);
  // The same client against ZooKeeper 3.8: the limit is its client's, one byte more is unreadable.
  expect(await javaValueLimit(reference!.port, limit, "/java")).toEqual([
    "create ok", `get ok ${limit}`, "create+1 ok", "set+1 ok", "get CONNECTIONLOSS", "multiRead CONNECTIONLOSS", "get CONNECTIONLOSS",
  ]);
});

it("kazoo: creates, watches, ephemeral and sequential nodes, transactions, Lock, Counter, Election, Queue", async (ctx) => {
  const probe = await run(PYTHON, ["-c", "import kazoo"]).catch(() => undefined);
  if (!probe) ctx.skip(`kazoo not importable by ${PYTHON} (apt-get install python3-kazoo)`);
  const script = resolve(here, "bridge/kazoo_check.py");
  const ours = JSON.parse((await run(PYTHON, [script, hostPort(zkPort), "/kazoo"], { timeout: 180_000 })).stdout);
  expect(ours).toMatchObject({
    session_ok: true,
    none_and_empty: [null, ""],
    exists_error: "NodeExists",
    seq: ["/kazoo/data/s-0000000001", "/kazoo/data/s-0000000002", "/kazoo/data/s-0000000003"],
    ephemeral_owner_is_session: true,
    events: [
      ["CHANGED", "/kazoo/data/a"],
      ["CHILD", "/kazoo/data"],
      ["CREATED", "/kazoo/data/later"],
    ],
    txn: ["/kazoo/data/t1", "stat", true],
    failed_txn: ["RolledBackError", "BadVersionError", "RuntimeInconsistency"],
    t2_absent: true,
    lock_total: 20,
    counter: 20,
    election_contenders: 3,
    queue: ["one", "two", "three"],
    queue_empty: true,
    ephemeral_gone: true,
  });
  expect(ours.leaders[0]).toBe(0);
  expect(ours.leaders).toHaveLength(3);
  if (reference) {
    const theirs = JSON.parse((await run(PYTHON, [script, hostPort(reference.port), "/kazoo"], { timeout: 180_000 })).stdout);
    expect({ ...ours, leaders: undefined }).toEqual({ ...theirs, leaders: undefined });
  }
  skipUncompared(ctx, referenceMissing);
});

// ---- node-zookeeper-client ----

it("node-zookeeper-client: creates, watches, ephemeral sequential nodes, transactions", async () => {
  const a = await nzc(zkPort);
  const b = await nzc(zkPort);
  try {
    expect(await call((cb) => a.create("/nzc", Buffer.from("v1"), cb))).toBe("/nzc");
    const seq = await call<string>((cb) => a.create("/nzc/m-", Buffer.from(""), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, cb));
    expect(seq).toBe("/nzc/m-0000000000");
    const [, stat] = await call<[Buffer, Any]>((cb) => b.getData(seq, cb));
    expect(stat.ephemeralOwner.toString("hex")).toBe(Buffer.from(a.getSessionId()).toString("hex"));

    const seen: string[] = [];
    let done!: () => void;
    const fired = new Promise<void>((resolve) => (done = resolve));
    const watcher = (event: Any) => {
      seen.push(event.getName());
      done();
    };
    // The reply to getData means the watch is set: write only after it.
    await call((cb) => b.getData("/nzc", watcher, cb));
    await call((cb) => a.setData("/nzc", Buffer.from("v2"), -1, cb));
    await fired;
    expect(seen).toEqual(["NODE_DATA_CHANGED"]);

    const results = await call<Any[]>((cb) => a.transaction().create("/nzc/t", Buffer.from("x")).check("/nzc", 1).setData("/nzc", Buffer.from("v3"), 1).commit(cb));
    expect(results.map((r: Any) => r.type)).toEqual([1, 13, 5]);
    // (node-zookeeper-client sends a check version of 0 as -1, so use another.)
    await expect(call((cb) => a.transaction().check("/nzc", 99).remove("/nzc/t").commit(cb))).rejects.toMatchObject({ code: -103 });
    expect(await call((cb) => a.exists("/nzc/t", cb))).toBeTruthy();

    a.close();
    await until(async () => (await call((cb) => b.exists(seq, cb))) === null, 10_000, "the closed session's ephemeral to go");
  } finally {
    a.close();
    b.close();
  }
});

it("node-zookeeper-client: a transaction that checks a node on one shard and writes on another (a fence across a mount), or writes on both, is all or nothing", async () => {
  const mounted = await fetch(`${server.base}/v1/admin/mounts`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prefix: "/fenced" }) });
  expect(mounted.status).toBe(201);
  const a = await nzc(zkPort);
  try {
    await call((cb) => a.create("/fence-lock", Buffer.from(""), cb));
    // (node-zookeeper-client sends a check version of 0 as -1: the lock gets version 1 first.)
    await call((cb) => a.setData("/fence-lock", Buffer.from("owner"), -1, cb));
    await call((cb) => a.create("/fenced/x", Buffer.from("v0"), cb));
    const results = await call<Any[]>((cb) => a.transaction().check("/fence-lock", 1).setData("/fenced/x", Buffer.from("v1"), -1).commit(cb));
    expect(results.map((r: Any) => r.type)).toEqual([13, 5]);
    await expect(call((cb) => a.transaction().check("/fence-lock", 7).setData("/fenced/x", Buffer.from("v2"), -1).commit(cb))).rejects.toMatchObject({ code: -103 });
    const [data] = await call<[Buffer, Any]>((cb) => a.getData("/fenced/x", cb));
    expect(data.toString()).toBe("v1");
    // Writes on both shards: one transaction, all or nothing.
    const both = await call<Any[]>((cb) => a.transaction().create("/fence-both", Buffer.from("b")).setData("/fenced/x", Buffer.from("v3"), -1).commit(cb));
    expect(both.map((r: Any) => r.type)).toEqual([1, 5]);
    await expect(call((cb) => a.transaction().setData("/fenced/x", Buffer.from("v4"), -1).create("/fence-both", Buffer.from("again")).commit(cb))).rejects.toMatchObject({ code: -110 });
    const [after] = await call<[Buffer, Any]>((cb) => a.getData("/fenced/x", cb));
    expect(after.toString()).toBe("v3");
  } finally {
    a.close();
  }
});

// ---- bad input ----

function frame(payload: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(payload.length);
  return Buffer.concat([length, payload]);
}

/** A raw connection: sends `bytes` after a valid ConnectRequest, returns what came back before the close. */
async function raw(port: number, after: Buffer[]): Promise<{ frames: Buffer[]; closed: boolean }> {
  const socket = tcpConnect(port, "127.0.0.1");
  const connectRequest = Buffer.alloc(4 + 8 + 4 + 8 + 4 + 16 + 1);
  connectRequest.writeInt32BE(10_000, 12);
  connectRequest.writeInt32BE(16, 24);
  let data = Buffer.alloc(0);
  let closed = false;
  socket.on("data", (chunk) => (data = Buffer.concat([data, chunk])));
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  socket.write(frame(connectRequest));
  for (let i = 0; i < 100 && data.length === 0; i++) await sleep(50);
  for (const bytes of after) socket.write(bytes);
  for (let i = 0; i < 40 && !closed; i++) await sleep(50);
  const frames: Buffer[] = [];
  for (let at = 0; at + 4 <= data.length; ) {
    const n = data.readInt32BE(at);
    frames.push(data.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  socket.destroy();
  return { frames, closed };
}

it("a malformed frame closes only its own connection; other sessions and data are untouched", async () => {
  const good = await nzc(zkPort);
  try {
    await call((cb) => good.create("/survivor", Buffer.from("ok"), cb));

    // A length above jute.maxbuffer: closed without a reply.
    const tooLong = await raw(zkPort, [Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0])]);
    expect(tooLong.closed).toBe(true);
    expect(tooLong.frames).toHaveLength(1); // the ConnectResponse only

    // A body that does not parse (getData with a null path): MarshallingError, and the connection stays.
    const header = Buffer.alloc(8);
    header.writeInt32BE(7, 0);
    header.writeInt32BE(4, 4);
    const nullPath = Buffer.from([0xff, 0xff, 0xff, 0xff, 0]);
    const marshalling = await raw(zkPort, [frame(Buffer.concat([header, nullPath]))]);
    expect(marshalling.closed).toBe(false);
    expect(marshalling.frames[1]!.readInt32BE(0)).toBe(7);
    expect(marshalling.frames[1]!.readInt32BE(12)).toBe(-5);

    // An unknown op code: Unimplemented, then close.
    const unknown = Buffer.alloc(8);
    unknown.writeInt32BE(9, 0);
    unknown.writeInt32BE(999, 4);
    const unimplemented = await raw(zkPort, [frame(unknown)]);
    expect(unimplemented.closed).toBe(true);
    expect(unimplemented.frames[1]!.readInt32BE(12)).toBe(-6);

    // The other session still works, and the data is as it was.
    const [data] = await call<[Buffer, Any]>((cb) => good.getData("/survivor", cb));
    expect(data.toString()).toBe("ok");
    await call((cb) => good.setData("/survivor", Buffer.from("still"), 0, cb));
  } finally {
    good.close();
  }
});
