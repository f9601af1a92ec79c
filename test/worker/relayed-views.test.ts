/**
 * What a relaying socket (the wire bridge) is told when it resumes a session another
 * one carried: where the session's highest answer zxid stands, and what the session's
 * answers had shown of each shard when they first reached the zxid its client saw, so
 * that its setWatches compares each node with its own shard's zxid.
 */
import { expect, it } from "vitest";
import type { ServerMessage } from "../../protocol/session-protocol.ts";
import { HttpClient } from "../harness/http.ts";
import { SessionSocket, b64 } from "../harness/socket.ts";

type Res = Extract<ServerMessage, { t: "res" }>;

it("tells a relay resuming a session what its client had been shown of each shard at the zxid it saw", async () => {
  const zk = new HttpClient();
  expect((await zk.mount("/m")).status).toBe(201);
  await zk.mustCreate("/m/x");
  await zk.mustCreate("/r");
  const first = await SessionSocket.open(zk.namespace, { host: "0" });
  const { sessionId, password } = await first.open(10_000, "10.0.0.1");
  // The root shard is written more, so its zxids pass the mounted shard's.
  const answers: Res[] = [];
  const ask = async (op: Parameters<SessionSocket["req"]>[1]) => answers.push((await first.req(sessionId, op)) as Res);
  for (let i = 0; i < 4; i++) await ask({ op: "setData", path: "/r", data: b64(String(i)) });
  await ask({ op: "setData", path: "/m/x", data: b64("m") });
  await ask({ op: "getData", path: "/r" });
  const root = answers[0]!.shard!;
  const mounted = answers[4]!.shard!;
  expect(root).not.toBe(mounted);
  // Each new highest zxid, with the highest of each shard shown when it was first reached.
  const expected = new Map<number, Record<string, number>>();
  const shards: Record<string, number> = {};
  let highest = 0;
  for (const res of answers) {
    shards[res.shard!] = Math.max(shards[res.shard!] ?? 0, res.zxid);
    if (res.zxid > highest) expected.set((highest = res.zxid), { ...shards });
  }
  first.drop();

  const next = await SessionSocket.open(zk.namespace, { host: "0" });
  const seen = answers[2]!.zxid;
  expect(await next.connect(10_000, { sessionId, password, clientAddress: "10.0.0.1", seenZxid: seen })).toMatchObject({ t: "connected", resumed: true, zxid: highest, shownAt: expected.get(seen) });
  // A zxid the session's answers never reached first: nothing to say of it.
  const answer = (await next.connect(10_000, { sessionId, password, clientAddress: "10.0.0.1", seenZxid: seen + 1_000 })) as Extract<ServerMessage, { t: "connected" }>;
  expect(answer).toMatchObject({ t: "connected", zxid: highest });
  expect(answer.shownAt).toBeUndefined();
  expect(await next.connect(10_000, { sessionId, password, seenZxid: -1 })).toMatchObject({ t: "refused", error: { name: "MarshallingError" } });
  next.drop();
});
