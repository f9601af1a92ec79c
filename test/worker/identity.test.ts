/**
 * Identity from the transport: a caller cannot take another address for ip ACLs by
 * sending `CF-Connecting-IP` (locally every caller is on loopback), over HTTP and
 * the session socket; only a socket the Worker trusts may name, per session, the
 * address of a client it relays (the wire bridge), and that address is then the
 * session's ip identity.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hostObjectName } from "../../protocol/session-ids.ts";
import type { ServerMessage } from "../../protocol/session-protocol.ts";
import { clientAddressOf } from "../../worker/identity.ts";
import { HttpClient, SUPER_AUTH, expectKeeperError } from "../harness/http.ts";
import { SessionSocket } from "../harness/socket.ts";

const SPOOFED = "10.9.9.9";

/** A namespace with /only-10 (readable from 10.9.9.9 only) and /only-loopback (from 127.0.0.1 only). */
async function withIpNodes(): Promise<HttpClient> {
  const anon = new HttpClient();
  const root = anon.as(SUPER_AUTH);
  await root.mustCreate("/only-10", { data: "ten", acl: [{ perms: "r", scheme: "ip", id: SPOOFED }] });
  await root.mustCreate("/only-loopback", { data: "home", acl: [{ perms: "r", scheme: "ip", id: "127.0.0.1" }] });
  return anon;
}

describe("the caller's address over HTTP", () => {
  it("is loopback locally, whatever CF-Connecting-IP says", async () => {
    const anon = await withIpNodes();
    await expectKeeperError(await anon.get("/only-10", {}, { "CF-Connecting-IP": SPOOFED }), "NoAuth");
    expect((await anon.get("/only-loopback", {}, { "CF-Connecting-IP": SPOOFED })).status).toBe(200);
  });

  it("is the edge's CF-Connecting-IP when deployed, and none without it", () => {
    const headers = (values: Record<string, string>) => ({ header: (name: string) => values[name] });
    expect(clientAddressOf(headers({ "CF-Connecting-IP": "203.0.113.9" }), { ...env, EDGEKEEPER_LOCAL: undefined })).toBe("203.0.113.9");
    expect(clientAddressOf(headers({}), { ...env, EDGEKEEPER_LOCAL: undefined })).toBeUndefined();
    expect(clientAddressOf(headers({ "CF-Connecting-IP": SPOOFED }), env)).toBe("127.0.0.1");
  });
});

describe("the caller's address on the session socket", () => {
  it("is loopback locally, whatever CF-Connecting-IP the upgrade carried", async () => {
    const anon = await withIpNodes();
    const socket = await SessionSocket.open(anon.namespace, { host: "0" }, { "CF-Connecting-IP": SPOOFED });
    const { sessionId } = await socket.open();
    const refused = await socket.req(sessionId, { op: "getData", path: "/only-10" });
    expect(refused.ok ? "read" : refused.error.name).toBe("NoAuth");
    expect((await socket.req(sessionId, { op: "getData", path: "/only-loopback" })).ok).toBe(true);
    socket.drop();
  });

  it("is the relayed client's, per session, on a socket trusted to relay", async () => {
    const anon = await withIpNodes();
    const socket = await SessionSocket.open(anon.namespace, { host: "0" });
    const relayed = await socket.open(4_000, SPOOFED);
    const own = await socket.open(4_000);
    expect((await socket.req(relayed.sessionId, { op: "getData", path: "/only-10" })).ok).toBe(true);
    const refused = await socket.req(relayed.sessionId, { op: "getData", path: "/only-loopback" });
    expect(refused.ok ? "read" : refused.error.name).toBe("NoAuth");
    expect((await socket.req(own.sessionId, { op: "getData", path: "/only-loopback" })).ok).toBe(true);
    // A resume without an address takes the socket's own again.
    const resumed = await socket.connect(4_000, { sessionId: relayed.sessionId, password: relayed.password });
    expect(resumed).toMatchObject({ t: "connected", resumed: true });
    expect((await socket.req(relayed.sessionId, { op: "getData", path: "/only-loopback" })).ok).toBe(true);
    socket.drop();
  });

  it("refuses an address that is not one, with MarshallingError", async () => {
    const socket = await SessionSocket.open(new HttpClient().namespace, { host: "0" });
    const answer = (await socket.connect(4_000, { clientAddress: "localhost" })) as ServerMessage;
    expect(answer).toMatchObject({ t: "refused", error: { name: "MarshallingError" } });
    socket.drop();
  });

  it("refuses a relayed address from a socket the Worker did not mark as trusted, with NoAuth", async () => {
    const namespace = new HttpClient().namespace;
    // As the Worker forwards a socket it does not trust to relay: its address and scope, no relay=1.
    const host = env.SESSION_HOST.get(env.SESSION_HOST.idFromName(hostObjectName(namespace, 0)));
    const res = await host.fetch(`https://session-host/socket?namespace=${namespace}&host=0&scope=write&address=198.51.100.1`, { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket!;
    ws.accept();
    const answers: ServerMessage[] = [];
    ws.addEventListener("message", (e) => {
      answers.push(...(JSON.parse(e.data as string) as ServerMessage[]));
    });
    ws.send(JSON.stringify([{ t: "connect", ref: 1, timeoutMs: 4_000, clientAddress: SPOOFED }]));
    await expect.poll(() => answers[0]).toMatchObject({ t: "refused", ref: 1, error: { name: "NoAuth" } });
    ws.close(1000);
  });
});
