/**
 * Regions simulated on one machine: `npm start -- --regions wnam,enam,weur,apac,oc`.
 * The basics hold through every surface with regions set (HTTP with
 * X-Edgekeeper-Region, the TypeScript client with connect({ region }), the bridge of
 * npm start and `edgekeeper proxy --region`); sessions live in their caller's region;
 * an unknown region is refused clearly on each surface; GET /v1/admin/shards says
 * where each shard's leader lives and its epoch.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KeeperClient, connect } from "../../client/index.ts";
import type { KeeperError } from "../../protocol/errors.ts";
import { REGIONS } from "../../protocol/regions.ts";
import { hostNumberOfSession, locationOfHost } from "../../protocol/session-ids.ts";
import { type LocalServer, npmStart, startLocalServer } from "../harness/local-server.ts";
import { until } from "../harness/recipe-clients.ts";
import { type Any, LISTENING, bridgePort, call, nzc, zookeeper } from "../harness/zk-clients.ts";
import { freePort } from "../harness/zookeeper/launch.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const ALL = REGIONS.join(",");

let server: LocalServer;
const clients: KeeperClient[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startLocalServer({ args: ["--regions", ALL] });
});

afterAll(async () => {
  for (const zk of clients) await zk.close().catch(() => undefined);
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await server?.stop();
});

function api(path: string, init: { method?: string; region?: string; body?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (init.region !== undefined) headers["X-Edgekeeper-Region"] = init.region;
  return fetch(`${server.base}${path}`, { method: init.method ?? "GET", headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
}

async function client(region?: string): Promise<KeeperClient> {
  const zk = await connect({ servers: [server.base], sessionTimeoutMs: 10_000, ...(region === undefined ? {} : { region }) });
  clients.push(zk);
  return zk;
}

/** `npx edgekeeper proxy` as a user runs it; resolves with its port once it serves, or its exit and output. */
function proxy(args: string[]): Promise<{ port?: number; code?: number | null; output: string }> {
  const child = spawn("npx", ["edgekeeper", "proxy", "--port", "0", "--url", server.base, ...args], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  return new Promise((done) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const serving = LISTENING.exec(output);
      if (serving) done({ port: Number(serving[1]), output });
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.on("exit", (code) => done({ code, output }));
  });
}

/** Creates, reads and watches a node through a ZooKeeper client on the bridge at `port`; another region's client fires the watch. */
async function bridgeBasics(port: number, path: string): Promise<void> {
  const zk: Any = await nzc(port);
  try {
    await call((cb) => zk.create(path, Buffer.from("v1"), zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, cb));
    const fired: string[] = [];
    const [data] = await call<[Buffer, unknown]>((cb) => zk.getData(path, (event: Any) => fired.push(event.getName()), cb));
    expect(data.toString()).toBe("v1");
    await (await client("oc")).setData(path, "v2");
    await until(() => fired.length > 0, 20_000, "the bridge client's data watch");
    expect(fired).toEqual(["NODE_DATA_CHANGED"]);
  } finally {
    zk.close();
  }
}

describe("with --regions set", () => {
  it("HTTP creates and reads from any region, and a caller names none to be in the first", async () => {
    const created = await api("/v1/znodes/r-http", { method: "POST", region: "apac", body: { data: "hi" } });
    expect(created.status).toBe(201);
    for (const region of [undefined, "oc", "weur"]) {
      const read = await api("/v1/znodes/r-http", region === undefined ? {} : { region });
      expect(read.status).toBe(200);
      expect(((await read.json()) as { data: string }).data).toBe("hi");
    }
  });

  it("the TypeScript client's session lives in its region, and sees another region's write through its watch", async () => {
    const apac = await client("apac");
    expect(locationOfHost(hostNumberOfSession(apac.sessionId!)!)).toBe("apac");
    const first = await client();
    expect(locationOfHost(hostNumberOfSession(first.sessionId!)!)).toBe("wnam");
    await apac.create("/r-client", "v1");
    const events: string[] = [];
    const read = await apac.getData("/r-client", { watch: (event) => events.push(event.type) });
    expect(new TextDecoder().decode(read.data)).toBe("v1");
    await first.setData("/r-client", "v2");
    await until(() => events.length > 0, 20_000, "the client's data watch");
    expect(events).toEqual(["NodeDataChanged"]);
    expect(new TextDecoder().decode((await apac.getData("/r-client")).data)).toBe("v2");
  });

  it("the bridge of npm start serves ZooKeeper clients (in the first region)", async () => {
    await bridgeBasics(await bridgePort(server), "/r-bridge");
  });

  it("edgekeeper proxy --region serves ZooKeeper clients from that region", async () => {
    const started = await proxy(["--region", "weur"]);
    expect(started.port, started.output).toBeGreaterThan(0);
    await bridgeBasics(started.port!, "/r-proxy");
  });

  it("GET /v1/admin/shards says each shard's leader region and epoch", async () => {
    const res = await api("/v1/admin/shards", { region: "oc" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Any;
    expect(body.regions).toEqual([...REGIONS]);
    const root = body.shards.find((shard: Any) => shard.prefix === "/");
    expect(root.leader).toMatchObject({ region: "wnam", epoch: 1 });
    expect(root.leader.lastZxid).toBeGreaterThan(2 ** 32);
    // Replicas start at the first read routed to them: those the reads above reached, each in a region besides the leader's.
    for (const replica of root.replicas) {
      expect(REGIONS.filter((region) => region !== "wnam")).toContain(replica.region);
      expect(replica.appliedZxid).toBeLessThanOrEqual(root.leader.lastZxid);
    }
    expect(body.next).toBeUndefined();
  });
});

describe("an unknown region is refused clearly", () => {
  it("in X-Edgekeeper-Region: BadArguments, naming the regions", async () => {
    const res = await api("/v1/znodes/", { region: "mars" });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { name: string; message: string } };
    expect(error.name).toBe("BadArguments");
    expect(error.message).toBe(`X-Edgekeeper-Region: region "mars" is not one of this server's regions (${REGIONS.join(", ")})`);
  });

  it("by the TypeScript client: connect fails with BadArguments, not ConnectionLoss", async () => {
    const refused = await connect({ servers: [server.base], sessionTimeoutMs: 10_000, region: "mars", connectTimeoutMs: 10_000 }).then(
      (zk) => {
        clients.push(zk);
        return undefined;
      },
      (error: KeeperError) => error,
    );
    expect(refused?.keeperName).toBe("BadArguments");
    expect(refused?.message).toContain('region "mars"');
  });

  it("by edgekeeper proxy --region, before it serves", async () => {
    const unknown = await proxy(["--region", "mars"]);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('edgekeeper proxy: --region: region "mars" is unknown; regions: wnam, enam, weur, apac, oc');
  });

  it("by npm start --regions, which does not start", async () => {
    const state = await mkdtemp(join(tmpdir(), "edgekeeper-regions-"));
    try {
      const start = npmStart({ port: await freePort(), state, args: ["--regions", "wnam,sam"] });
      expect((await start.exited).code).toBe(1);
      expect(start.output()).toContain('edgekeeper: --regions: region "sam" has no simulated round-trip times; regions: wnam, enam, weur, apac, oc');
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
