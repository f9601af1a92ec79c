/**
 * Sessions over the WebSocket protocol (protocol/session-protocol.ts), through the
 * Worker's /v1/sessions/socket into real session hosts and shards: connect, resume,
 * requests in order, ephemerals on close and expiry, limits and bad frames.
 * The tick is 200 ms here: timeouts lie in [400, 4000] ms.
 */
import { describe, expect, it } from "vitest";
import { HttpClient, ORIGIN } from "../harness/http.ts";
import { MIN_TIMEOUT_MS, eventually } from "../harness/sessions.ts";
import { sleep } from "../harness/shard.ts";
import { type Connected, SessionSocket, b64, unb64 } from "../harness/socket.ts";
import { SELF, env, evictDurableObject } from "cloudflare:test";
import { hostObjectName } from "../../protocol/session-ids.ts";

describe("connecting", () => {
  it("opens a session, answers pings, and refuses a plain GET", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open(1_000);
    expect(s).toMatchObject({ t: "connected", timeoutMs: 1_000, resumed: false });
    expect(s.password).toMatch(/^[A-Za-z0-9_-]{22}$/);
    socket.send("ping");
    await socket.next((m) => m === "pong");
    const plain = await SELF.fetch(`${ORIGIN}/v1/sessions/socket?namespace=${zk.namespace}`);
    expect(plain.status).toBe(400);
    await plain.body?.cancel();
  });

  it("a resume with a wrong password is refused and harms nothing; an unknown one is expired", async () => {
    const zk = new HttpClient();
    const a = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await a.open();
    await a.ok(s.sessionId, { op: "create", path: "/e", mode: "EPHEMERAL" });
    const b = await SessionSocket.open(zk.namespace, { session: String(s.sessionId) });
    const refused = await b.connect(4_000, { sessionId: s.sessionId, password: "wrong" });
    expect(refused).toMatchObject({ t: "refused", error: { name: "AuthFailed" } });
    expect((await a.ok(s.sessionId, { op: "exists", path: "/e" })).stat).not.toBeNull();
    expect(await b.connect(4_000, { sessionId: s.sessionId + 1000, password: s.password })).toMatchObject({ t: "expired" });
    expect(await b.connect(4_000, { sessionId: 12345, password: "x" })).toMatchObject({ t: "expired" });
  });
});

describe("ephemerals", () => {
  it("go on close: the answer, then closed", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    const created = await socket.ok(s.sessionId, { op: "create", path: "/e", mode: "EPHEMERAL", data: b64("hi") });
    expect(created.stat.ephemeralOwner).toBe(s.sessionId);
    const [xid] = socket.sendReqs(s.sessionId, { op: "close" });
    const res = await socket.response(s.sessionId, xid!);
    expect(res.ok).toBe(true);
    const closed = await socket.next((m) => m !== "pong" && m.t === "closed");
    expect(closed).toEqual({ t: "closed", sid: s.sessionId, reason: "closed" });
    expect(socket.log.indexOf(res)).toBeLessThan(socket.log.indexOf(closed));
    expect(await zk.exists("/e")).toBe(false);
    expect(await socket.req(s.sessionId, { op: "exists", path: "/" })).toMatchObject({ ok: false, error: { name: "SessionExpired" } });
  });

  it("go on a close over HTTP of a session a socket carries, and the socket is told", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    await socket.ok(s.sessionId, { op: "create", path: "/e", mode: "EPHEMERAL" });
    // The same session by RPC: its requests share the session's one order and cxids with the socket's.
    const header = { "X-Edgekeeper-Session": `${s.sessionId}:${s.password}` };
    expect((await zk.fetch("PUT", "/v1/znodes/e", { headers: header, body: { data: "by http" } })).status).toBe(200);
    expect(unb64((await socket.ok(s.sessionId, { op: "getData", path: "/e" })).data)).toBe("by http");
    expect((await zk.fetch("DELETE", `/v1/sessions/${s.sessionId}`, { headers: header })).status).toBe(200);
    expect(await socket.next((m) => m !== "pong" && m.t === "closed")).toEqual({ t: "closed", sid: s.sessionId, reason: "closed" });
    expect(await zk.exists("/e")).toBe(false);
  });

  it("go on expiry when the socket drops and nobody resumes; stay on a resume within the timeout", async () => {
    const zk = new HttpClient();
    const first = await SessionSocket.open(zk.namespace, { host: "0" });
    const kept = await first.open(1_200);
    const lost = await first.open(MIN_TIMEOUT_MS);
    await first.ok(kept.sessionId, { op: "create", path: "/kept", mode: "EPHEMERAL" });
    await first.ok(lost.sessionId, { op: "create", path: "/lost", mode: "EPHEMERAL" });
    // Alive while the socket pings (answered by the runtime), however long.
    for (let i = 0; i < 8; i++) {
      first.send("ping");
      await sleep(MIN_TIMEOUT_MS / 4);
    }
    expect(await zk.exists("/lost")).toBe(true);
    first.drop();
    await sleep(300);
    const second = (await SessionSocket.open(zk.namespace, { session: String(kept.sessionId) })).keepAlive();
    expect(await second.connect(1_200, { sessionId: kept.sessionId, password: kept.password })).toMatchObject({ t: "connected", resumed: true, sessionId: kept.sessionId });
    await eventually("the unresumed session's ephemeral goes", async () => !(await zk.exists("/lost")));
    await sleep(1_500);
    expect(await zk.exists("/kept")).toBe(true);
    expect((await second.ok(kept.sessionId, { op: "getEphemerals", prefix: "/" })).paths).toEqual(["/kept"]);
  });

  it("many sessions of one host expire independently, each at its own timeout", async () => {
    const zk = new HttpClient();
    const timeouts = [400, 1_200, 2_400];
    const sessions: Connected[] = [];
    for (const t of timeouts) {
      const socket = await SessionSocket.open(zk.namespace, { host: "7" });
      const s = await socket.open(t);
      await socket.ok(s.sessionId, { op: "create", path: `/e${t}`, mode: "EPHEMERAL" });
      sessions.push(s);
      socket.drop();
    }
    expect(new Set(sessions.map((s) => Math.floor(s.sessionId / 2 ** 32)))).toEqual(new Set([7]));
    const start = Date.now();
    const goneAt: number[] = [];
    for (const t of timeouts) {
      await eventually(`/e${t} goes`, async () => !(await zk.exists(`/e${t}`)), 6_000);
      goneAt.push(Date.now() - start);
    }
    expect(goneAt[0]!).toBeLessThan(1_200);
    expect(goneAt[2]!).toBeGreaterThan(1_500);
  });

  it("across hibernation of the host, a pinging socket's session lives on and a silent socket's expires", async () => {
    const zk = new HttpClient();
    const timeoutMs = 1_200;
    const pinging = await SessionSocket.open(zk.namespace, { host: "5" });
    const silent = await SessionSocket.open(zk.namespace, { host: "5" });
    const kept = await pinging.open(timeoutMs);
    const quiet = await silent.open(timeoutMs);
    await pinging.ok(kept.sessionId, { op: "create", path: "/kept", mode: "EPHEMERAL" });
    await silent.ok(quiet.sessionId, { op: "create", path: "/quiet", mode: "EPHEMERAL" });
    // Requests renew both; their deadlines move in memory, which hibernation loses.
    for (let i = 0; i < 3; i++) {
      await sleep(timeoutMs / 4);
      await pinging.ok(kept.sessionId, { op: "exists", path: "/" });
      await silent.ok(quiet.sessionId, { op: "exists", path: "/" });
    }
    const quietSince = Date.now();
    await evictDurableObject(env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(zk.namespace, 5))), { webSockets: "hibernate" });
    // Pings are answered by the runtime: the host reads them from the socket when a deadline comes.
    for (let i = 0; i < 40 && (await zk.exists("/quiet")); i++) {
      await sleep(timeoutMs / 4);
      pinging.send("ping");
      await pinging.next((m) => m === "pong");
    }
    expect(await zk.exists("/quiet")).toBe(false);
    expect(Date.now() - quietSince).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(await zk.exists("/kept")).toBe(true);
    expect(await pinging.ok(kept.sessionId, { op: "getEphemerals", prefix: "/" })).toEqual({ paths: ["/kept"] });
  });

  it("a socket's frames keep all its sessions alive, also across hibernation; once it is silent they expire", async () => {
    const zk = new HttpClient();
    const timeoutMs = 1_000;
    const socket = await SessionSocket.open(zk.namespace, { host: "6" });
    const idle = await socket.open(timeoutMs);
    const busy = await socket.open(timeoutMs);
    await socket.ok(idle.sessionId, { op: "create", path: "/idle", mode: "EPHEMERAL" });
    // Only `busy` sends requests, for longer than the timeout: `idle` lives by its socket's frames.
    const until = Date.now() + 2 * timeoutMs;
    while (Date.now() < until) {
      await sleep(timeoutMs / 5);
      await socket.ok(busy.sessionId, { op: "exists", path: "/" });
    }
    expect(await zk.exists("/idle")).toBe(true);
    const silentSince = Date.now();
    // The socket's last message is known after hibernation from what its attachment saved.
    await evictDurableObject(env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(zk.namespace, 6))), { webSockets: "hibernate" });
    await eventually("the silent socket's sessions expire", async () => !(await zk.exists("/idle")), 4 * timeoutMs);
    expect(Date.now() - silentSince).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(await socket.req(busy.sessionId, { op: "exists", path: "/" })).toMatchObject({ ok: false, error: { name: "SessionExpired" } });
  }, 20_000); // a limit for a stuck run, not a speed assertion

  it("a resume moves the session: the old socket is told, the new one carries it", async () => {
    const zk = new HttpClient();
    const a = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await a.open();
    // A request first, so the host knows the session (on `a`) before it moves.
    expect(await a.ok(s.sessionId, { op: "exists", path: "/" })).toMatchObject({ stat: { numChildren: 1 } });
    const b = await SessionSocket.open(zk.namespace, { session: String(s.sessionId) });
    expect(await b.connect(4_000, { sessionId: s.sessionId, password: s.password })).toMatchObject({ t: "connected", resumed: true });
    expect(await a.next((m) => m !== "pong" && m.t === "closed")).toEqual({ t: "closed", sid: s.sessionId, reason: "moved" });
    expect(await a.req(s.sessionId, { op: "exists", path: "/" })).toMatchObject({ ok: false, error: { name: "SessionMoved" } });
    expect(await b.ok(s.sessionId, { op: "exists", path: "/" })).toMatchObject({ stat: { numChildren: 1 } });
  });
});

describe("requests", () => {
  it("of one frame share RPCs but keep their order when the host's mount table is stale", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/small");
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    await socket.ok(s.sessionId, { op: "exists", path: "/" }); // the host has read the table: one shard
    // Mounted behind the host's back: its cached table still sends /late/* to the root shard.
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(zk.namespace));
    expect((await directory.mount(zk.namespace, "/late", { sessionId: 0, ids: [] })).ok).toBe(true);
    const xids = socket.sendReqs(
      s.sessionId,
      { op: "create", path: "/late/q-", mode: "PERSISTENT_SEQUENTIAL", data: b64("1") },
      { op: "create", path: "/small/q-", mode: "PERSISTENT_SEQUENTIAL" },
      { op: "create", path: "/late/q-", mode: "PERSISTENT_SEQUENTIAL", data: b64("2") },
      { op: "setData", path: "/late/q-0000000001", data: b64("3") },
      { op: "getData", path: "/late/q-0000000000" },
    );
    const answers = await Promise.all(xids.map((x) => socket.response(s.sessionId, x)));
    expect(answers.map((a) => (a.ok ? "ok" : a.error.name))).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect(answers.map((a) => (a.ok ? (a.value as { path?: string }).path : undefined)).slice(0, 3)).toEqual([
      "/late/q-0000000000",
      "/small/q-0000000000",
      "/late/q-0000000001",
    ]);
    const read = answers[4]!;
    expect(read.ok && unb64((read.value as { data: string }).data)).toBe("1");
    expect(await zk.mustGet("/late/q-0000000001")).toMatchObject({ data: "3", stat: { version: 1 } });
    const order = socket.log.filter((m) => m !== "pong" && m.t === "res").map((m) => (m as { xid: number }).xid);
    expect(order.slice(-xids.length)).toEqual(xids);
  });

  it("are answered in order across two mounted shards, values as base64", async () => {
    const zk = new HttpClient();
    expect((await zk.mount("/big")).status).toBe(201);
    await zk.mustCreate("/small");
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    const xids = socket.sendReqs(
      s.sessionId,
      { op: "create", path: "/big/n", data: b64("1") },
      { op: "create", path: "/small/n", data: b64("1") },
      { op: "setData", path: "/big/n", data: b64("2") },
      { op: "getData", path: "/big/n" },
      { op: "delete", path: "/small/n" },
      { op: "exists", path: "/small/n" },
      { op: "sync", path: "/big" },
      { op: "multi", ops: [{ op: "create", path: "/big/m" }, { op: "check", path: "/big/n", version: 1 }] },
      { op: "multiRead", ops: [{ op: "getData", path: "/big/n" }] },
    );
    const answers = await Promise.all(xids.map((x) => socket.response(s.sessionId, x)));
    const order = socket.log.filter((m) => m !== "pong" && m.t === "res").map((m) => (m as { xid: number }).xid);
    expect(order).toEqual(xids);
    expect(answers.every((a) => a.ok)).toBe(true);
    const value = (i: number): any => (answers[i]!.ok ? answers[i]!.value : undefined);
    expect(unb64(value(3).data)).toBe("2");
    expect(value(5).stat).toBeNull();
    expect(value(6)).toEqual({ path: "/big" });
    expect(unb64(value(8).results[0].data)).toBe("2");
  });

  it("addAuth adds a digest identity that ACL checks use; an unknown scheme is AuthFailed", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s = await socket.open();
    expect(await socket.req(s.sessionId, { op: "addAuth", scheme: "kerberos", credentials: "x" })).toMatchObject({ ok: false, error: { name: "AuthFailed" } });
    await socket.ok(s.sessionId, { op: "addAuth", scheme: "digest", credentials: "alice:secret" });
    await socket.ok(s.sessionId, { op: "create", path: "/mine", acl: [{ perms: 31, scheme: "auth", id: "" }], data: b64("x") });
    expect(unb64((await socket.ok(s.sessionId, { op: "getData", path: "/mine" })).data)).toBe("x");
    const other = await socket.open();
    expect(await socket.req(other.sessionId, { op: "getData", path: "/mine" })).toMatchObject({ ok: false, error: { name: "NoAuth" } });
  });
});

describe("bad input", () => {
  it("a bad message on a shared socket is answered alone; the other sessions go on", async () => {
    const zk = new HttpClient();
    const socket = await SessionSocket.open(zk.namespace);
    const s1 = await socket.open();
    const s2 = await socket.open();
    socket.send([
      { t: "req", sid: s1.sessionId, xid: 900, op: { op: "create" } },
      { t: "req", sid: s1.sessionId, xid: 901, op: { op: "frobnicate", path: "/" } },
      { t: "nonsense", sid: s1.sessionId, xid: 902 },
      { t: "req", sid: s1.sessionId, xid: 903, op: { op: "setData", path: "/x", data: "%%%not base64" } },
      { t: "connect", ref: 77 },
      { t: "req", sid: 42, xid: 904, op: { op: "exists", path: "/" } },
    ]);
    expect(await socket.response(s1.sessionId, 900)).toMatchObject({ ok: false, error: { name: "MarshallingError" } });
    expect(await socket.response(s1.sessionId, 901)).toMatchObject({ ok: false, error: { name: "Unimplemented" } });
    expect(await socket.response(s1.sessionId, 902)).toMatchObject({ ok: false, error: { name: "MarshallingError" } });
    expect(await socket.response(s1.sessionId, 903)).toMatchObject({ ok: false, error: { name: "MarshallingError" } });
    expect(await socket.next((m) => m !== "pong" && m.t === "refused" && m.ref === 77)).toMatchObject({ error: { name: "MarshallingError" } });
    expect(await socket.response(42, 904)).toMatchObject({ ok: false, error: { name: "SessionExpired" } });
    await socket.ok(s1.sessionId, { op: "create", path: "/a" });
    await socket.ok(s2.sessionId, { op: "create", path: "/b" });
  });

  it("an unreadable frame closes its socket (1003/1008) and no other", async () => {
    const zk = new HttpClient();
    const good = await SessionSocket.open(zk.namespace, { host: "0" });
    const s = await good.open();
    for (const [frame, code] of [
      ["{not json", 1003],
      ['{"t":"connect"}', 1008],
      ['[1, 2]', 1008],
    ] as const) {
      const bad = await SessionSocket.open(zk.namespace, { host: "0" });
      const victim = await bad.open();
      bad.send(frame);
      expect((await bad.waitClosed()).code).toBe(code);
      // The session on the closed socket waits for a resume; the other socket's goes on.
      expect(await good.connect(4_000, { sessionId: victim.sessionId, password: victim.password })).toMatchObject({ t: "connected", resumed: true });
    }
    await good.ok(s.sessionId, { op: "create", path: "/still" });
    expect(good.closed).toBeUndefined();
  });
});

describe("the bearer token", () => {
  it("may come as ?token= on the socket route, and on no other", async () => {
    const { app } = await import("../../worker/app.ts");
    const { env } = await import("cloudflare:test");
    const deployed = { ...env, EDGEKEEPER_LOCAL: undefined, EDGEKEEPER_TOKEN: "t" };
    const ns = new HttpClient().namespace;
    const upgrade = { headers: { Upgrade: "websocket" } };
    const wrong = await app.request(`${ORIGIN}/v1/sessions/socket?namespace=${ns}&token=x`, upgrade, deployed);
    expect(wrong.status).toBe(401);
    const ok = await app.request(`${ORIGIN}/v1/sessions/socket?namespace=${ns}&token=t`, upgrade, deployed);
    expect(ok.status).toBe(101);
    ok.webSocket?.accept();
    ok.webSocket?.close(1000, "done");
    const elsewhere = await app.request(`${ORIGIN}/v1/znodes/?token=t`, {}, deployed);
    expect(elsewhere.status).toBe(401);
  });
});
