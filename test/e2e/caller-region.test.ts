/**
 * The harness's simulated-regions mode, which `npm test`'s regions run relies on
 * (test/harness/caller-region.ts): with EDGEKEEPER_TEST_REGIONS set, every surface a
 * test drives stands in the second region, not the leader's. Its HTTP reads are
 * served by that region's replica and its writes by the leader; sessions of the
 * TypeScript client and of ZooKeeper clients through the bridge live on that
 * region's hosts.
 */
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { connect } from "../../client/index.ts";
import { hostNumberOfSession, locationOfHost } from "../../protocol/session-ids.ts";
import { TEST_REGIONS_VARIABLE, callerRegionOption } from "../harness/caller-region.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { until } from "../harness/recipe-clients.ts";
import { type Any, bridgePort, call, nzc } from "../harness/zk-clients.ts";

const NAMESPACE = `caller-region-${process.pid}`;
const CATCH_UP_LIMIT_MS = 60_000; // a limit for a stuck replica, not a speed assertion

let server: LocalServer;

beforeAll(async () => {
  vi.stubEnv(TEST_REGIONS_VARIABLE, "wnam,apac");
  server = await startLocalServer();
});

afterAll(async () => {
  await server?.stop();
  vi.unstubAllEnvs();
});

const regionOfSession = (sessionId: number) => locationOfHost(hostNumberOfSession(sessionId)!);

it("HTTP callers write at the leader's region and read from their own region's replica", async () => {
  const headers = { "X-Edgekeeper-Namespace": NAMESPACE, "content-type": "application/json" };
  const created = await fetch(`${server.base}/v1/znodes/http`, { method: "POST", headers, body: JSON.stringify({ data: "v1" }) });
  expect(created.status).toBe(201);
  expect(created.headers.get("X-Edgekeeper-Served-By")).toBe("wnam/leader");
  // The replica starts at the first read routed to it, and serves once it has caught up.
  let read: { servedBy: string | null; data: string } | undefined;
  await until(
    async () => {
      const res = await fetch(`${server.base}/v1/znodes/http`, { headers });
      read = { servedBy: res.headers.get("X-Edgekeeper-Served-By"), data: ((await res.json()) as { data: string }).data };
      return read.servedBy === "apac/replica";
    },
    CATCH_UP_LIMIT_MS,
    `a read served by apac's replica (last: ${JSON.stringify(read)})`,
  );
  expect(read).toEqual({ servedBy: "apac/replica", data: "v1" });
});

it("sessions of the TypeScript client and of ZooKeeper clients through the bridge live in the callers' region", async () => {
  expect(callerRegionOption()).toEqual({ region: "apac" });
  // The bridge's sessions live in the default namespace.
  const zk = await connect({ servers: [server.base], sessionTimeoutMs: 10_000, ...callerRegionOption() });
  const bridged: Any = await nzc(await bridgePort(server));
  try {
    expect(regionOfSession(zk.sessionId!)).toBe("apac");
    expect(regionOfSession(Number((bridged.getSessionId() as Buffer).readBigUInt64BE()))).toBe("apac");
    // The bridge's session works: a write through it is read back by the client.
    const path = `/${NAMESPACE}`;
    await call((cb) => bridged.create(path, Buffer.from("via the bridge"), cb));
    expect(new TextDecoder().decode((await zk.getData(path)).data)).toBe("via the bridge");
  } finally {
    bridged.close();
    await zk.close();
  }
});
