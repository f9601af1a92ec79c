/**
 * Monitoring over HTTP: GET /metrics (Prometheus text, ZooKeeper's names) and the
 * AdminServer-style commands report what the namespace holds after known creates,
 * deletes, sessions, watches and a mount; /metrics needs the admin right when
 * tokens are configured; /readyz answers once the objects do.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app.ts";
import { HttpClient, ORIGIN, expectKeeperError, uniqueNamespace } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";
import { SessionSocket, b64 } from "../harness/socket.ts";

interface Grant {
  sessionId: number;
  password: string;
}

/** A sample's value in a Prometheus text exposition, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metricsOf(zk: HttpClient): Promise<string> {
  const res = await zk.fetch("GET", "/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toContain("text/plain; version=0.0.4");
  return res.text();
}

async function monitorOf(zk: HttpClient): Promise<Record<string, unknown>> {
  const res = await zk.fetch("GET", "/v1/admin/commands/monitor");
  expect(res.status).toBe(200);
  return res.json();
}

describe("GET /metrics and /v1/admin/commands/monitor", () => {
  it("count the nodes, ephemerals, data, sessions and watches of the namespace, per shard too", async () => {
    const zk = new HttpClient();
    const ns = `namespace="${zk.namespace}"`;
    // A new namespace: ZooKeeper's system nodes (/, /zookeeper, its config and quota).
    expect(sample(await metricsOf(zk), `znode_count{${ns}}`)).toBe(4);

    await zk.mustCreate("/app", { data: "hello" });
    await zk.mustCreate("/app/gone");
    expect((await zk.delete("/app/gone")).status).toBe(200);
    expect((await zk.mount("/big")).status).toBe(201);
    await zk.mustCreate("/big/x", { data: "12345678" });
    // A lease over HTTP, and a session on a socket holding an ephemeral and a watch.
    const lease = await (await zk.fetch("POST", "/v1/sessions", { body: {} })).json<Grant>();
    const socket = await SessionSocket.open(zk.namespace, { host: "1" });
    const { sessionId } = await socket.open();
    await socket.ok(sessionId, { op: "create", path: "/app/e", mode: "EPHEMERAL", data: b64("x") });
    await socket.ok(sessionId, { op: "getData", path: "/app", watch: true });

    // A session host lists itself in the directory as it opens its first session.
    await eventually("both session hosts are listed", async () => sample(await metricsOf(zk), `global_sessions{${ns}}`) === 2);
    const text = await metricsOf(zk);
    const nodes = 4 + 3; // with /app, /big (counted once: in its own shard), /big/x; and /app/e while its session lives
    expect(sample(text, `znode_count{${ns}}`)).toBe(nodes + 1);
    expect(sample(text, `ephemerals_count{${ns}}`)).toBe(1);
    // Path lengths plus data bytes: the system nodes' 44, /app 4+5, /app/e 6+1, /big 4, /big/x 6+8.
    expect(sample(text, `approximate_data_size{${ns}}`)).toBe(44 + 9 + 7 + 4 + 14);
    expect(sample(text, `outstanding_requests{${ns}}`)).toBe(0);
    // The hosts timed the sessions' requests: a histogram whose buckets add up to its count.
    const timed = sample(text, `edgekeeper_request_latency_ms_count{${ns}}`);
    expect(timed).toBeGreaterThanOrEqual(2);
    expect(sample(text, `edgekeeper_request_latency_ms_bucket{${ns},le="+Inf"}`)).toBe(timed);
    expect(sample(text, `max_latency{${ns}}`)).toBeGreaterThanOrEqual(sample(text, `min_latency{${ns}}`)!);
    const big = (await (await zk.fetch("GET", "/v1/admin/mounts")).json<{ mounts: { prefix: string; shard: string }[] }>()).mounts.find((m) => m.prefix === "/big");
    expect(sample(text, `edgekeeper_shard_znode_count{${ns},shard="${big?.shard}",prefix="/big"}`)).toBe(2);
    expect(sample(text, `edgekeeper_shard_znode_count{${ns},shard="root",prefix="/"}`)).toBe(4 + 2); // the stub of /big is not counted here

    const monitor = await monitorOf(zk);
    expect(monitor).toMatchObject({
      server_state: "standalone",
      znode_count: sample(text, `znode_count{${ns}}`),
      ephemerals_count: 1,
      approximate_data_size: 44 + 9 + 7 + 4 + 14,
      global_sessions: 2,
      num_alive_connections: 1,
      command: "monitor",
      error: null,
    });
    // ZooKeeper's getData watch, held by the session (as its watch_count counts it).
    expect(monitor.watch_count).toBe(1);
    expect(sample(text, `watch_count{${ns}}`)).toBe(1);
    const shards = monitor.shards as { prefix: string; last_zxid: number }[];
    expect(shards.map((x) => x.prefix).sort()).toEqual(["/", "/big"]);
    expect(await (await zk.fetch("GET", "/v1/admin/commands/wchs")).json()).toEqual({ num_connections: 1, num_paths: 1, num_total_watches: 1, command: "watch_summary", error: null });
    // cons lists the session on a socket (the lease has none), as ZooKeeper lists a connection.
    expect(await (await zk.fetch("GET", "/v1/admin/commands/cons")).json()).toEqual({
      connections: [{ remote_socket_address: "127.0.0.1", session_id: sessionId, session_timeout: 4_000, last_cxid: 2 }],
      secure_connections: [],
      command: "connections",
      error: null,
    });

    // Closing the sessions takes their ephemeral, watch and themselves out of the numbers.
    await socket.ok(sessionId, { op: "close" });
    const asLease = { "X-Edgekeeper-Session": `${lease.sessionId}:${lease.password}` };
    expect((await zk.fetch("DELETE", `/v1/sessions/${lease.sessionId}`, { headers: asLease })).status).toBe(200);
    const after = await monitorOf(zk);
    expect(after).toMatchObject({ znode_count: nodes, ephemerals_count: 0, global_sessions: 0, num_alive_connections: 0, watch_count: 0, outstanding_requests: 0 });
    socket.drop();
  });

  it("answers stats, srvr, wchs and ruok in ZooKeeper's shapes, and an unknown command as ZooKeeper does", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/a");
    const stat = await (await zk.fetch("GET", "/v1/admin/commands/stat")).json<Record<string, unknown>>();
    expect(stat).toMatchObject({ read_only: false, node_count: 5, command: "stats", error: null });
    expect(stat.server_stats).toMatchObject({ server_state: "standalone", outstanding_requests: 0 });
    expect((stat.server_stats as { last_processed_zxid: number }).last_processed_zxid).toBeGreaterThan(0);
    expect(await (await zk.fetch("GET", "/v1/admin/commands/srvr")).json()).toMatchObject({ command: "server_stats", node_count: 5 });
    expect(await (await zk.fetch("GET", "/v1/admin/commands/wchs")).json()).toEqual({ num_connections: 0, num_paths: 0, num_total_watches: 0, command: "watch_summary", error: null });
    expect(await (await zk.fetch("GET", "/v1/admin/commands/ruok")).json()).toEqual({ command: "ruok", error: null });
    const unknown = await zk.fetch("GET", "/v1/admin/commands/nope");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ command: "nope", error: "Unknown command: nope" });
  });
});

describe("cons", () => {
  it("lists at most EDGEKEEPER_MAX_LISTED_CONNECTIONS sessions, by id, and says it was cut", async () => {
    const namespace = uniqueNamespace("cons");
    const socket = await SessionSocket.open(namespace, { host: "2" });
    const ids = [(await socket.open()).sessionId, (await socket.open()).sessionId].sort((a, b) => a - b);
    const limited = { ...env, EDGEKEEPER_MAX_LISTED_CONNECTIONS: "1" };
    const cons = async () => {
      const res = await app.fetch(new Request(`${ORIGIN}/v1/admin/commands/cons`, { headers: { "X-Edgekeeper-Namespace": namespace } }), limited);
      return res.json<{ connections: { session_id: number }[]; truncated?: boolean }>();
    };
    await eventually("the host is listed", async () => (await cons()).connections.length > 0);
    expect(await cons()).toMatchObject({ connections: [{ session_id: ids[0] }], truncated: true, command: "connections" });
    socket.drop();
  });
});

describe("who may read the numbers", () => {
  const namespace = uniqueNamespace("metrics");
  const deployed = {
    ...env,
    EDGEKEEPER_LOCAL: undefined,
    EDGEKEEPER_TOKENS: JSON.stringify([
      { token: "reader-0123456789", namespaces: [namespace], scope: "read" },
      { token: "admin-0123456789", namespaces: [namespace], scope: "admin" },
    ]),
  };
  const get = (path: string, token?: string) =>
    app.fetch(new Request(`${ORIGIN}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} }), deployed);

  it("/metrics needs a token with the admin right, for the namespace named by ?namespace=", async () => {
    await expectKeeperError(await get(`/metrics?namespace=${namespace}`), "AuthFailed");
    await expectKeeperError(await get(`/metrics?namespace=${namespace}`, "reader-0123456789"), "NoAuth");
    await expectKeeperError(await get("/metrics?namespace=default", "admin-0123456789"), "NoAuth");
    await expectKeeperError(await get(`/v1/admin/commands/monitor`, "reader-0123456789"), "NoAuth");
    const res = await get(`/metrics?namespace=${namespace}`, "admin-0123456789");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`znode_count{namespace="${namespace}"} 4`);
  });

  it("/readyz answers without a token once the directory and root shard answer, and 503 when they cannot", async () => {
    const res = await get("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    // A deployment whose objects cannot be reached (here: the directory's binding fails).
    const unreachable = { ...deployed, DIRECTORY: { idFromName: () => { throw new Error("no such namespace binding"); } } };
    const down = await app.fetch(new Request(`${ORIGIN}/readyz`), unreachable);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ ok: false, error: "no such namespace binding" });
  });
});
