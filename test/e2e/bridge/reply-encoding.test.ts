/**
 * One reply the bridge cannot encode costs its own connection, never the process:
 * the bridge in this process, in front of a session host double (fake-session-host.ts)
 * that answers one path with a Stat no Java long can hold (a fractional zxid), which
 * a real host never sends but which stands for any value the wire cannot carry.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Bridge, startBridge } from "../../../bridge/server/server.ts";
import type { Stat } from "../../../protocol/stat.ts";
import { FakeSessionHost } from "../../harness/fake-session-host.ts";
import { RawConnection } from "../../harness/zookeeper/raw-connection.ts";

const STAT: Stat = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0, dataLength: 1, numChildren: 0 };
const UNENCODABLE = "/unencodable";

let host: FakeSessionHost;
let bridge: Bridge;
const logged: string[] = [];

beforeAll(async () => {
  host = await FakeSessionHost.start();
  host.answer = (op) => {
    const stat = op.op === "getData" && op.path === UNENCODABLE ? { ...STAT, czxid: 1.5 } : STAT;
    return { ok: true, value: { data: btoa("x"), stat } };
  };
  bridge = await startBridge({ url: host.base, port: 0, newSessionHosts: [0], log: (line) => logged.push(line) });
});

afterAll(async () => {
  await bridge?.close();
  await host?.stop();
});

it("a reply that cannot be encoded closes only its connection, logged once; another client keeps working", async () => {
  const victim = await RawConnection.open(bridge.port);
  await victim.handshake();
  const bystander = await RawConnection.open(bridge.port);
  await bystander.handshake();
  expect((await victim.call("getData", { path: "/fine", watch: false })).header.err).toBe(0);

  await expect(victim.call("getData", { path: UNENCODABLE, watch: false })).rejects.toThrow("connection closed");
  await victim.closed;

  const after = await bystander.call("getData", { path: "/fine", watch: false });
  expect(after.header.err).toBe(0);
  expect(new TextDecoder().decode(after.body!.data!)).toBe("x");
  // A new client connects as before.
  const newcomer = await RawConnection.open(bridge.port);
  expect((await newcomer.handshake()).timeOut).toBeGreaterThan(0);
  expect(logged.filter((line) => line.includes("could not be encoded"))).toHaveLength(1);
  for (const zk of [bystander, newcomer]) zk.destroy();
});
