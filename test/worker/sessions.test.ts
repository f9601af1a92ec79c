/**
 * Sessions as leases over HTTP: POST /v1/sessions, keepalive, DELETE, and the znode
 * routes and /v1/multi run as the session with X-Edgekeeper-Session: <id>:<password>.
 * The tick is 200 ms here (vitest.config.ts): timeouts lie in [400, 4000] ms.
 */
import { describe, expect, it } from "vitest";
import { hostNumberOfSession } from "../../protocol/session-ids.ts";
import type { Stat } from "../../protocol/index.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { MAX_TIMEOUT_MS, MIN_TIMEOUT_MS, eventually } from "../harness/sessions.ts";
import { sleep } from "../harness/shard.ts";

interface Grant {
  sessionId: number;
  sessionIdHex: string;
  password: string;
  timeoutMs: number;
}

async function openSession(zk: HttpClient, body: unknown = {}): Promise<Grant> {
  const res = await zk.fetch("POST", "/v1/sessions", { body });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<Grant>();
}

/** The client acting as a session (every request carries its header). */
function as(zk: HttpClient, s: Grant, password = s.password): HttpClient {
  return new HttpClient({ namespace: zk.namespace, headers: { "X-Edgekeeper-Session": `${s.sessionId}:${password}` } });
}

const keepAlive = (zk: HttpClient, s: Grant, password = s.password) =>
  zk.fetch("POST", `/v1/sessions/${s.sessionId}/keepalive`, { headers: { "X-Edgekeeper-Session": `${s.sessionId}:${password}` } });
const close = (zk: HttpClient, s: Grant, password = s.password) =>
  zk.fetch("DELETE", `/v1/sessions/${s.sessionId}`, { headers: { "X-Edgekeeper-Session": `${s.sessionId}:${password}` } });

describe("POST /v1/sessions", () => {
  it("opens a session: id as a number and as zkCli's hex, a password, the negotiated timeout", async () => {
    const zk = new HttpClient();
    const s = await openSession(zk, { timeoutMs: 1_000 });
    expect(s).toMatchObject({ timeoutMs: 1_000 });
    expect(Number.isSafeInteger(s.sessionId)).toBe(true);
    expect(s.sessionIdHex).toBe(`0x${s.sessionId.toString(16)}`);
    expect(typeof s.password).toBe("string");
    // Hosts are picked among EDGEKEEPER_HOSTS_PER_LOCATION (4) buckets of location "local".
    expect(hostNumberOfSession(s.sessionId)).toBeLessThan(4);
    expect((await openSession(zk, { timeoutMs: 1 })).timeoutMs).toBe(MIN_TIMEOUT_MS);
    expect((await openSession(zk, { timeoutMs: 10 ** 9 })).timeoutMs).toBe(MAX_TIMEOUT_MS);
    expect((await openSession(zk)).timeoutMs).toBe(MAX_TIMEOUT_MS); // 10 s asked, 4 s the most here
    await expectKeeperError(await zk.fetch("POST", "/v1/sessions", { body: { timeoutMs: "soon" } }), "MarshallingError");
  });
});

describe("a session's ephemeral nodes over HTTP", () => {
  it("are created with the session, owned by it, listed by getEphemerals, and go on DELETE", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/app");
    // Without a session, ephemeral modes are still refused.
    await expectKeeperError(await zk.create("/app/e", { mode: "EPHEMERAL" }), "BadArguments");
    const s = await openSession(zk);
    const me = as(zk, s);
    const res = await me.create("/app/e", { mode: "EPHEMERAL", data: "mine" });
    expect(res.status).toBe(201);
    expect((await res.json<{ stat: Stat }>()).stat.ephemeralOwner).toBe(s.sessionId);
    const lock = await me.fetch("POST", "/v1/multi", { body: { ops: [{ op: "create", path: "/app/lock-", mode: "EPHEMERAL_SEQUENTIAL" }] } });
    expect(lock.status).toBe(200);
    const lockPath = (await lock.json<{ results: { path: string }[] }>()).results[0]!.path;
    expect((await me.mustGet("/app/e")).data).toBe("mine");
    const listed = await me.fetch("GET", "/v1/ephemerals?prefix=/app");
    expect(await listed.json()).toEqual({ prefix: "/app", paths: ["/app/e", lockPath] });

    const closed = await close(zk, s);
    expect(closed.status).toBe(200);
    expect(await closed.json()).toEqual({ sessionId: s.sessionId, sessionIdHex: s.sessionIdHex, closed: true });
    expect(await zk.exists("/app/e")).toBe(false);
    expect(await zk.exists(lockPath)).toBe(false);
    expect(await zk.exists("/app")).toBe(true);
  });

  it("stay while kept alive and go when the session is not", async () => {
    const zk = new HttpClient();
    const s = await openSession(zk, { timeoutMs: MIN_TIMEOUT_MS });
    expect((await as(zk, s).create("/leader", { mode: "EPHEMERAL" })).status).toBe(201);
    for (let i = 0; i < 10; i++) {
      await sleep(MIN_TIMEOUT_MS / 4);
      const res = await keepAlive(zk, s);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ sessionId: s.sessionId, sessionIdHex: s.sessionIdHex, timeoutMs: MIN_TIMEOUT_MS });
    }
    expect(await zk.exists("/leader")).toBe(true);
    await eventually("the lease runs out", async () => !(await zk.exists("/leader")));
    await expectKeeperError(await keepAlive(zk, s), "SessionExpired");
    // Someone else can take the node now.
    const other = await openSession(zk);
    expect((await as(zk, other).create("/leader", { mode: "EPHEMERAL" })).status).toBe(201);
  });

  it("on two mounted shards both go when the session closes", async () => {
    const zk = new HttpClient();
    expect((await zk.mount("/big")).status).toBe(201);
    await zk.mustCreate("/small");
    const s = await openSession(zk);
    const me = as(zk, s);
    expect((await me.create("/big/e", { mode: "EPHEMERAL" })).status).toBe(201);
    expect((await me.create("/small/e", { mode: "EPHEMERAL" })).status).toBe(201);
    expect(await (await me.fetch("GET", "/v1/ephemerals")).json()).toEqual({ prefix: "/", paths: ["/big/e", "/small/e"] });
    expect((await close(zk, s)).status).toBe(200);
    expect(await zk.exists("/big/e")).toBe(false);
    expect(await zk.exists("/small/e")).toBe(false);
  });
});

describe("the session's other requests", () => {
  it("reads, writes, deletes and counts run as the session", async () => {
    const zk = new HttpClient();
    const s = await openSession(zk);
    const me = as(zk, s);
    await me.mustCreate("/a", { data: "1" });
    expect((await me.set("/a", { data: "2", version: 0 })).status).toBe(200);
    await expectKeeperError(await me.set("/a", { data: "3", version: 0 }), "BadVersion");
    expect((await me.mustGet("/a")).data).toBe("2");
    const count = await (await zk.get("/", { view: "count" })).json<{ count: number }>();
    expect(await (await me.get("/", { view: "count" })).json()).toEqual(count);
    expect((await me.delete("/a")).status).toBe(200);
    expect(await zk.exists("/a")).toBe(false);
  });

  it("a write retried with the same X-Edgekeeper-Cxid applies once", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/q");
    const s = await openSession(zk);
    const me = as(zk, s);
    const send = () => me.create("/q/job-", { mode: "PERSISTENT_SEQUENTIAL" }, { "X-Edgekeeper-Cxid": "100" });
    const first = await (await send()).json();
    const again = await send();
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(first);
    expect((await (await zk.get("/q", { view: "children" })).json<{ children: string[] }>()).children).toEqual(["job-0000000000"]);
    // A new request without a cxid is a new write.
    await me.mustCreate("/q/job-", { mode: "PERSISTENT_SEQUENTIAL" });
    expect((await (await zk.get("/q", { view: "children" })).json<{ children: string[] }>()).children).toHaveLength(2);
    await expectKeeperError(await me.create("/q/x", {}, { "X-Edgekeeper-Cxid": "0" }), "BadArguments");
    await expectKeeperError(await zk.create("/q/x", {}, { "X-Edgekeeper-Cxid": "5" }), "BadArguments");
  });
});

describe("refusals", () => {
  it("a wrong password is AuthFailed everywhere and leaves the session unharmed", async () => {
    const zk = new HttpClient();
    const s = await openSession(zk);
    const me = as(zk, s);
    expect((await me.create("/e", { mode: "EPHEMERAL" })).status).toBe(201);
    const thief = as(zk, s, "not-the-password");
    await expectKeeperError(await thief.delete("/e"), "AuthFailed");
    await expectKeeperError(await thief.create("/f", { mode: "EPHEMERAL" }), "AuthFailed");
    await expectKeeperError(await thief.fetch("GET", "/v1/ephemerals"), "AuthFailed");
    await expectKeeperError(await keepAlive(zk, s, "nope"), "AuthFailed");
    await expectKeeperError(await close(zk, s, "nope"), "AuthFailed");
    expect(await zk.exists("/e")).toBe(true);
    expect(await zk.exists("/f")).toBe(false);
    expect((await keepAlive(zk, s)).status).toBe(200);
    expect((await me.create("/f", { mode: "EPHEMERAL" })).status).toBe(201);
  });

  it("a closed session, or an id never issued, is SessionExpired (410)", async () => {
    const zk = new HttpClient();
    const s = await openSession(zk);
    expect((await close(zk, s)).status).toBe(200);
    const me = as(zk, s);
    await expectKeeperError(await me.create("/e", { mode: "EPHEMERAL" }), "SessionExpired");
    await expectKeeperError(await me.get("/"), "SessionExpired");
    await expectKeeperError(await me.fetch("POST", "/v1/multi", { body: { ops: [{ op: "create", path: "/m" }] } }), "SessionExpired");
    await expectKeeperError(await keepAlive(zk, s), "SessionExpired");
    await expectKeeperError(await close(zk, s), "SessionExpired");
    expect(await zk.exists("/e")).toBe(false);
    expect(await zk.exists("/m")).toBe(false);
    // Ids are per namespace: a live session's header means nothing in another one.
    const live = await openSession(zk);
    await expectKeeperError(await as(new HttpClient(), live).get("/"), "SessionExpired");
    await expectKeeperError(await as(zk, { ...live, sessionId: 2 ** 52 }).get("/"), "SessionExpired");
  });

  it("malformed session headers are BadArguments; the URL and the header must agree", async () => {
    const zk = new HttpClient();
    const s = await openSession(zk);
    for (const header of ["nocolon", ":pw", "abc:pw", "-1:pw"]) {
      await expectKeeperError(await zk.get("/", {}, { "X-Edgekeeper-Session": header }), "BadArguments");
    }
    const other = await openSession(zk);
    await expectKeeperError(
      await zk.fetch("POST", `/v1/sessions/${other.sessionId}/keepalive`, { headers: { "X-Edgekeeper-Session": `${s.sessionId}:${s.password}` } }),
      "BadArguments",
    );
    await expectKeeperError(await zk.fetch("POST", `/v1/sessions/${s.sessionId}/keepalive`), "AuthFailed");
    // The hex form names the same session.
    const hex = await zk.fetch("POST", `/v1/sessions/${s.sessionIdHex}/keepalive`, { headers: { "X-Edgekeeper-Session": `${s.sessionIdHex}:${s.password}` } });
    expect(hex.status).toBe(200);
    await expectKeeperError(await zk.fetch("GET", "/v1/ephemerals"), "BadArguments");
  });
});
