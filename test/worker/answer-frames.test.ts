/**
 * A session socket's answers are bounded per frame and per RPC between host and
 * shard (EDGEKEEPER_MAX_ANSWER_BYTES, 2 MiB in these tests): a frame of many large
 * reads is answered in full and in order, over several frames, none over the cap
 * (a single answer larger than it, a value at the limit as base64, goes alone).
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { limitsFromEnv } from "../../protocol/index.ts";
import type { ServerMessage } from "../../protocol/session-protocol.ts";
import { HttpClient } from "../harness/http.ts";
import { SessionSocket } from "../harness/socket.ts";

const { maxAnswerBytes, maxValueBytes } = limitsFromEnv(env);

it("answers a frame of reads past the cap in full, in order, in frames within it", async () => {
  const zk = new HttpClient();
  const big = "x".repeat(maxValueBytes);
  const count = Math.ceil((2 * maxAnswerBytes) / maxValueBytes) + 1;
  for (let i = 0; i < count; i++) expect((await zk.create(`/v${i}`, { data: big })).status).toBe(201);

  const socket = await SessionSocket.open(zk.namespace);
  const s = await socket.open();
  const frames: { length: number; messages: number }[] = [];
  socket.ws.addEventListener("message", (e) => {
    if (typeof e.data === "string" && e.data !== "pong") frames.push({ length: e.data.length, messages: (JSON.parse(e.data) as ServerMessage[]).length });
  });
  const xids = socket.sendReqs(
    s.sessionId,
    ...Array.from({ length: count }, (_, i) => ({ op: "getData" as const, path: `/v${i}` })),
    { op: "create", path: "/after" },
  );
  const answers = [];
  for (const xid of xids) answers.push(await socket.response(s.sessionId, xid));
  expect(answers.map((res) => res.ok)).toEqual(xids.map(() => true));
  expect(answers.slice(0, count).map((res) => (res.ok ? atob((res.value as { data: string }).data).length : 0))).toEqual(Array(count).fill(maxValueBytes));
  for (const frame of frames) if (frame.messages > 1) expect(frame.length).toBeLessThanOrEqual(maxAnswerBytes);
  expect(frames.length).toBeGreaterThan(1);
});
