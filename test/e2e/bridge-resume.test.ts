/**
 * The bridge's resume path end to end: real ZooKeeper clients (node-zookeeper-client;
 * ZooKeeper's own Java client through zkCli.sh for persistent and recursive watches;
 * kazoo for a partition it must notice itself) reach `npm start`'s bridge through a TCP proxy the test controls, which
 * cuts or blackholes their connection as a network does. Every scenario runs the same
 * way against a real ZooKeeper 3.8 through the same kind of proxy, and both must show
 * the same observations; the ZooKeeper runs skip, saying why, where it is absent.
 */
import { execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LocalServer, type Proxy, startLocalServer, startProxy } from "../harness/local-server.ts";
import { portOf, until } from "../harness/recipe-clients.ts";
import { type Any, bridgePort, call, hostPort, nzc, startZkCli, zkCliUnavailable, zookeeper } from "../harness/zk-clients.ts";
import { zookeeperUnavailable } from "../harness/zookeeper/launch.ts";
import { type RunningZookeeper, startZookeeper } from "../harness/zookeeper/reference.ts";

const PYTHON = "/usr/bin/python3";
const KAZOO_SCRIPT = resolve(import.meta.dirname, "bridge/kazoo_resume.py");
/** kazoo drops a silent connection after two thirds of this; the session must outlive that comfortably. */
const KAZOO_TIMEOUT_S = 12;
/** Long enough that a cut of a few seconds never expires the session on a loaded machine. */
const RESUMING_TIMEOUT_MS = 10_000;
/** The least timeout both servers grant (2 x ZooKeeper's 2 s tick): the expiry test waits this long. */
const EXPIRING_TIMEOUT_MS = 4_000;
/** Bounds for waits on a condition: limits for a stuck test, not speed assertions. */
const RECONNECT_LIMIT_MS = 30_000;
const EVENT_LIMIT_MS = 30_000;
/** The session hosts `npm start`'s bridge opens sessions on, round robin (docs/architecture.md). */
const BRIDGE_HOSTS = 4;

interface Target {
  port: number;
  /** Makes `root` a fresh, empty node; the bridge can put it on a shard of its own. */
  makeRoot(root: string, options?: { mounted?: boolean }): Promise<void>;
}

let server: LocalServer;
let bridge: Target;
let reference: Target | undefined;
let referenceMissing: string | undefined;
let zookeeperProcess: RunningZookeeper | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

/** A root made with a plain create, through a short session of its own. */
async function createRoot(port: number, root: string): Promise<void> {
  const client = await nzc(port);
  await call((cb) => client.create(root, Buffer.from("root"), cb));
  client.close();
}

beforeAll(async () => {
  server = await startLocalServer();
  const port = await bridgePort(server);
  bridge = {
    port,
    async makeRoot(root, options = {}) {
      if (!options.mounted) return createRoot(port, root);
      const res = await fetch(`${server.base}/v1/admin/mounts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prefix: root }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
    },
  };
  referenceMissing = await zookeeperUnavailable();
  if (referenceMissing) {
    console.warn(`bridge resume tests without a reference ZooKeeper: ${referenceMissing}`);
    return;
  }
  zookeeperProcess = await startZookeeper();
  const zkPort = zookeeperProcess.port;
  // ZooKeeper has no mounts: the same subtree is a plain node there.
  reference = { port: zkPort, makeRoot: (root) => createRoot(zkPort, root) };
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.stop();
  await zookeeperProcess?.stop();
});

/** The targets a scenario runs against: the bridge, and ZooKeeper or why it is absent. */
function targets(): [string, () => Target | string][] {
  return [
    ["the bridge", () => bridge],
    ["ZooKeeper 3.8", () => reference ?? `no reference ZooKeeper: ${referenceMissing}`],
  ];
}

/** A proxy to the target, closed after the file. */
async function proxyTo(target: Target): Promise<Proxy> {
  const proxy = await startProxy(target.port);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A node-zookeeper-client session, closed after the file. */
async function client(port: number, sessionTimeout = RESUMING_TIMEOUT_MS): Promise<Any> {
  const zk = await nzc(port, { sessionTimeout });
  cleanups.push(() => zk.close());
  return zk;
}

/** Resolves at the client's next event of that name. */
function nextState(zk: Any, name: "connected" | "disconnected"): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${RECONNECT_LIMIT_MS} ms`)), RECONNECT_LIMIT_MS);
    zk.once(name, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** How a cut connection dies: seen by both ends, or by the client only (the server writes on into the void). */
type CutKind = "both ends see it" | "only the client sees it";

/**
 * A partition of `zk` from its server: the proxy goes silent and its connection is cut,
 * so the client notices and retries into the silence. `heal` lets the retry through.
 */
async function partition(proxy: Proxy, zk: Any, kind: CutKind = "both ends see it"): Promise<{ heal(): Promise<void> }> {
  const disconnected = nextState(zk, "disconnected");
  proxy.blackhole();
  if (kind === "both ends see it") proxy.cutAll();
  else proxy.cutClientSides();
  await disconnected;
  return {
    async heal() {
      const connected = nextState(zk, "connected");
      proxy.restore();
      await connected;
    },
  };
}

/** Waits until `count` events came, or the limit passed: the assertion after it says what is missing. */
async function settle(events: unknown[], count: number): Promise<void> {
  await until(() => events.length >= count, EVENT_LIMIT_MS, `${count} events`).catch(() => undefined);
}

const sessionHex = (zk: Any) => zk.getSessionId().toString("hex");

/** A one-shot watcher that records `type path` into `into`. */
const recorder = (into: string[]) => (event: Any) => into.push(`${event.getName()} ${event.getPath()}`);

for (const [label, targetOf] of targets()) {
  it(`resume (${label}): a cut connection comes back to the same session, its ephemeral kept, requests in order`, async (ctx) => {
    const target = targetOf();
    if (typeof target === "string") return ctx.skip(target);
    const root = "/resume";
    await target.makeRoot(root);
    const proxy = await proxyTo(target);
    const zk = await client(portOf(proxy));
    const observer = await client(target.port);
    const before = sessionHex(zk);
    await call((cb) => zk.create(`${root}/eph`, Buffer.from("mine"), zookeeper.CreateMode.EPHEMERAL, cb));
    const observed: string[] = [];
    await call((cb) => observer.exists(`${root}/eph`, recorder(observed), cb));

    const cut = await partition(proxy, zk);
    // Requests made while cut off wait in the client and run in order once it is back.
    const order: string[] = [];
    const queued = Array.from({ length: 5 }, (_, i) =>
      call<string>((cb) => zk.create(`${root}/q-`, Buffer.from(String(i)), zookeeper.CreateMode.PERSISTENT_SEQUENTIAL, cb)).then((path) => {
        order.push(`${i} ${path}`);
      }),
    );
    const read = call<[Buffer, Any]>((cb) => zk.getData(`${root}/eph`, cb)).then(([data, stat]) => {
      order.push(`read ${data.toString()}`);
      return stat;
    });
    await cut.heal();
    await Promise.all(queued);
    const ephStat = await read;

    expect(sessionHex(zk)).toBe(before);
    expect(ephStat.ephemeralOwner.toString("hex")).toBe(before);
    expect(order).toEqual([
      `0 ${root}/q-0000000001`,
      `1 ${root}/q-0000000002`,
      `2 ${root}/q-0000000003`,
      `3 ${root}/q-0000000004`,
      `4 ${root}/q-0000000005`,
      "read mine",
    ]);
    const [children] = await call<[string[], Any]>((cb) => observer.getChildren(root, cb));
    expect(children.sort()).toEqual(["eph", "q-0000000001", "q-0000000002", "q-0000000003", "q-0000000004", "q-0000000005"]);
    // The ephemeral was never deleted, so the observer's exists watch never fired.
    expect(observed).toEqual([]);
  });

  for (const [mounted, cutKind] of [
    [false, "both ends see it"],
    [true, "both ends see it"],
    [false, "only the client sees it"],
    [true, "only the client sees it"],
  ] as const) {
    const where = mounted ? ", on a mounted subtree" : "";
    it(`setWatches (${label}${where}, a cut ${cutKind}): data, exist and child watches set before it fire for changes made during it`, async (ctx) => {
      const target = targetOf();
      if (typeof target === "string") return ctx.skip(target);
      const root = `/watches-${mounted ? "mounted" : "plain"}-${cutKind === "both ends see it" ? "cut" : "half-cut"}`;
      await target.makeRoot(root, { mounted });
      const proxy = await proxyTo(target);
      const zk = await client(portOf(proxy));
      const writer = await client(target.port);
      const create = (path: string) => call((cb) => writer.create(path, Buffer.from("v0"), cb));
      const set = (path: string, value: string) => call((cb) => writer.setData(path, Buffer.from(value), cb));
      for (const name of ["changed", "gone", "kids", "quiet"]) await create(`${root}/${name}`);
      // The client also works elsewhere in the tree, so its last zxid is not this subtree's.
      for (let i = 0; i < 5; i++) await call((cb) => zk.create(`${root}-elsewhere-`, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, cb));

      const events: string[] = [];
      const watch = recorder(events);
      await call((cb) => zk.getData(`${root}/changed`, watch, cb));
      await call((cb) => zk.getData(`${root}/gone`, watch, cb));
      await call((cb) => zk.getData(`${root}/quiet`, watch, cb));
      await call((cb) => zk.getChildren(`${root}/kids`, watch, cb));
      await expect(call((cb) => zk.exists(`${root}/later`, watch, cb))).resolves.toBeFalsy();

      const cut = await partition(proxy, zk, cutKind);
      await set(`${root}/changed`, "v1");
      await call((cb) => writer.remove(`${root}/gone`, cb));
      await create(`${root}/later`);
      await create(`${root}/kids/k`);
      await cut.heal();
      await settle(events, 4);
      expect([...events].sort()).toEqual([
        `NODE_CHILDREN_CHANGED ${root}/kids`,
        `NODE_CREATED ${root}/later`,
        `NODE_DATA_CHANGED ${root}/changed`,
        `NODE_DELETED ${root}/gone`,
      ]);
      // The untouched node's watch was armed again: its first change after the cut fires it.
      await set(`${root}/quiet`, "v1");
      await settle(events, 5);
      expect(events[4]).toBe(`NODE_DATA_CHANGED ${root}/quiet`);
    });
  }

  it(`expiry (${label}): a client that never returns loses its ephemeral after its session timeout`, async (ctx) => {
    const target = targetOf();
    if (typeof target === "string") return ctx.skip(target);
    const root = "/expiry";
    await target.makeRoot(root);
    const proxy = await proxyTo(target);
    const zk = await client(portOf(proxy), EXPIRING_TIMEOUT_MS);
    const observer = await client(target.port);
    await call((cb) => zk.create(`${root}/eph`, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb));
    const events: string[] = [];
    expect(await call<Any>((cb) => observer.exists(`${root}/eph`, recorder(events), cb))).toBeTruthy();

    const cutAt = Date.now();
    proxy.blackhole();
    await until(() => events.length > 0, 4 * EXPIRING_TIMEOUT_MS + EVENT_LIMIT_MS, "the ephemeral's NodeDeleted");
    const elapsed = Date.now() - cutAt;
    console.info(`${label}: ephemeral deleted ${elapsed} ms after the blackhole (session timeout ${EXPIRING_TIMEOUT_MS} ms)`);

    expect(events).toEqual([`NODE_DELETED ${root}/eph`]);
    expect(await call((cb) => observer.exists(`${root}/eph`, cb))).toBeFalsy();
    // Not before the session could have expired: the client was last heard at most a
    // ping interval (a third of the timeout) before the blackhole.
    expect(elapsed).toBeGreaterThanOrEqual(EXPIRING_TIMEOUT_MS / 2);
  });
}

for (const [label, targetOf] of targets()) {
  for (const mounted of [false, true]) {
    it(`addWatch (${label}${mounted ? ", on a mounted subtree" : ""}): persistent and recursive watches survive a cut and keep delivering`, async (ctx) => {
      const missing = zkCliUnavailable();
      if (missing) return ctx.skip(missing);
      const target = targetOf();
      if (typeof target === "string") return ctx.skip(target);
      const root = mounted ? "/persistent-mounted" : "/persistent";
      await target.makeRoot(root, { mounted });
      // Sessions on each of the bridge's hosts (it opens them round robin over 4): a read
      // by each carries every notification its host is owed by the shard (ZooKeeper
      // has one server, where a write's answer follows its notifications anyway).
      const writers = [];
      for (let i = 0; i < BRIDGE_HOSTS; i++) writers.push(await client(target.port));
      const writer = writers[0];
      const create = (path: string, value = "v0") => call((cb) => writer.create(path, Buffer.from(value), cb));
      const set = (path: string, value: string) => call((cb) => writer.setData(path, Buffer.from(value), cb));
      await create(`${root}/p`);
      await create(`${root}/r`);
      await create(`${root}/mark`, "ready");
      const proxy = await proxyTo(target);
      const cli = await startZkCli(hostPort(portOf(proxy)), { sessionTimeoutMs: RESUMING_TIMEOUT_MS });
      cleanups.push(() => cli.stop());
      // zkCli runs its commands in order: once the marker read prints, both watches are set.
      const marked = async (n: number) => until(() => cli.countLines("ready") >= n, EVENT_LIMIT_MS, `zkCli's marker read #${n}`);
      cli.send(`addWatch -m PERSISTENT ${root}/p`);
      cli.send(`addWatch -m PERSISTENT_RECURSIVE ${root}/r`);
      cli.send(`get ${root}/mark`);
      await marked(1);

      await set(`${root}/p`, "v1");
      await create(`${root}/r/a`);
      await settle(cli.events, 3);

      proxy.blackhole();
      proxy.cutAll();
      await until(() => cli.events.includes("state Disconnected"), RECONNECT_LIMIT_MS, "zkCli's Disconnected");
      await set(`${root}/p`, "v2");
      await create(`${root}/r/b`);
      // Every host has the cut-off changes' notifications before the client is back, so
      // what it hears next is what its resume sends, not a late push.
      await Promise.all(writers.map((w) => call((cb) => w.exists(root, cb))));
      proxy.restore();
      await until(() => cli.events.filter((e) => e === "state SyncConnected").length === 2, RECONNECT_LIMIT_MS, "zkCli's reconnection");
      // The resumed session's watches are set again (setWatches2) before the marker read.
      cli.send(`get ${root}/mark`);
      await marked(2);

      await set(`${root}/p`, "v3");
      await create(`${root}/r/b/c`);
      await settle(cli.events, 7);
      expect(cli.events).toEqual([
        "state SyncConnected",
        `NodeDataChanged ${root}/p`,
        `NodeCreated ${root}/r/a`,
        "state Disconnected",
        "state SyncConnected",
        `NodeDataChanged ${root}/p`,
        `NodeCreated ${root}/r/b/c`,
      ]);
    });
  }
}

/** kazoo_resume.py on `server`, killed after the file: the lines it printed, and a way to tell it `done`. */
function kazooSession(server: string, root: string): { lines: string[]; done(): void } {
  const child = spawn(PYTHON, [KAZOO_SCRIPT, server, root, String(KAZOO_TIMEOUT_S)], { stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(() => child.kill("SIGKILL"));
  const lines: string[] = [];
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split("\n");
    partial = complete.pop()!;
    lines.push(...complete);
  });
  return { lines, done: () => child.stdin.write("done\n") };
}

for (const [label, targetOf] of targets()) {
  it(`silent partition (${label}): kazoo gives up the connection on its own and resumes its session, ephemeral kept`, async (ctx) => {
    if (!(await promisify(execFile)(PYTHON, ["-c", "import kazoo"]).catch(() => undefined))) {
      return ctx.skip(`kazoo not importable by ${PYTHON} (apt-get install python3-kazoo)`);
    }
    const target = targetOf();
    if (typeof target === "string") return ctx.skip(target);
    const root = "/silent";
    await target.makeRoot(root);
    const writer = await client(target.port);
    await call((cb) => writer.create(`${root}/data`, Buffer.from("v0"), cb));
    const proxy = await proxyTo(target);
    const kazoo = kazooSession(hostPort(portOf(proxy)), root);
    await until(() => kazoo.lines.some((line) => line.startsWith("ready ")), RECONNECT_LIMIT_MS, "kazoo ready");
    const session = Number(kazoo.lines.find((line) => line.startsWith("ready "))!.split(" ")[1]);

    // Nothing passes and nothing closes: kazoo notices by its own read timeout, while
    // the server's side of the connection stays open and unaware.
    proxy.blackhole();
    await until(() => kazoo.lines.includes("state SUSPENDED"), KAZOO_TIMEOUT_S * 1000 + RECONNECT_LIMIT_MS, "kazoo's SUSPENDED");
    await call((cb) => writer.setData(`${root}/data`, Buffer.from("v1"), cb));
    proxy.restore();
    const connectedAgain = () => kazoo.lines.filter((line) => line === "state CONNECTED").length === 2;
    await until(connectedAgain, RECONNECT_LIMIT_MS, "kazoo's CONNECTED after the partition");
    kazoo.done();
    await until(() => kazoo.lines.some((line) => line.startsWith("{")), EVENT_LIMIT_MS, "kazoo's summary");

    expect(kazoo.lines.filter((line) => !line.startsWith("ready ") && !line.startsWith("{"))).toEqual([
      "state CONNECTED",
      "state SUSPENDED",
      "event NONE None",
      "state CONNECTED",
    ]);
    expect(JSON.parse(kazoo.lines.find((line) => line.startsWith("{"))!)).toEqual({ session, eph: true, data: "v1" });
  });
}
