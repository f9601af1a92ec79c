/**
 * A session socket's answers are bounded per frame (EDGEKEEPER_MAX_ANSWER_BYTES,
 * 2 MiB in these tests): a frame of reads whose answers pass the cap is answered, in
 * order, up to the cap; the rest are not run but answered Throttled, to be sent again,
 * so one frame never makes the host build or buffer more than about the cap.
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { limitsFromEnv } from "../../protocol/index.ts";
import { HttpClient } from "../harness/http.ts";
import { SessionSocket } from "../harness/socket.ts";

const { maxAnswerBytes, maxValueBytes } = limitsFromEnv(env);

it("answers a frame of reads up to the cap and refuses the rest, writes included, as Throttled", async () => {
  const zk = new HttpClient();
  const big = "x".repeat(maxValueBytes);
  const count = Math.ceil((2 * maxAnswerBytes) / maxValueBytes) + 1;
  for (let i = 0; i < count; i++) expect((await zk.create(`/v${i}`, { data: big })).status).toBe(201);

  const socket = await SessionSocket.open(zk.namespace);
  const s = await socket.open();
  const reads = Array.from({ length: count }, (_, i) => ({ op: "getData" as const, path: `/v${i}` }));
  const xids = socket.sendReqs(s.sessionId, ...reads, { op: "create", path: "/after" });
  const answers = [];
  for (const xid of xids) answers.push(await socket.response(s.sessionId, xid));
  const outcomes = answers.map((res) => (res.ok ? "ok" : res.error.name));
  const answered = outcomes.indexOf("Throttled");
  expect(answered).toBeGreaterThan(0);
  expect(answered * maxValueBytes).toBeLessThanOrEqual(maxAnswerBytes);
  expect(outcomes).toEqual([...Array(answered).fill("ok"), ...Array(xids.length - answered).fill("Throttled")]);
  expect(answers[answered]!.ok ? "" : answers[answered]!.error.message).toContain("EDGEKEEPER_MAX_ANSWER_BYTES");
  expect((await socket.ok(s.sessionId, { op: "exists", path: "/after" })).stat).toBeNull();
  // Sent again, a frame at a time, each is answered.
  for (const op of reads.slice(answered)) expect(atob((await socket.ok<{ data: string }>(s.sessionId, op)).data).length).toBe(maxValueBytes);
  await socket.ok(s.sessionId, { op: "create", path: "/after" });
});
