/**
 * Every answer of a shard is bounded in bytes (EDGEKEEPER_MAX_ANSWER_BYTES, 2 MiB in
 * these tests): a read that would pass it is refused, a batch stops there and leaves
 * the rest unrun for its caller to send again, and nothing is built whole first.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { limitsFromEnv } from "../../protocol/index.ts";
import { ANON, exec, exists, newShard, ok, run, session, type ShardStub } from "../harness/shard.ts";

const { maxAnswerBytes, maxValueBytes, maxPathBytes } = limitsFromEnv(env);

/** Creates `count` nodes /v0.. holding values at the limit; answers their paths. */
async function bigValues(stub: ShardStub, count: number): Promise<string[]> {
  const paths = Array.from({ length: count }, (_, i) => `/v${i}`);
  for (const path of paths) await ok(stub, ANON, { op: "create", path, data: new Uint8Array(maxValueBytes).fill(1) });
  return paths;
}

describe("answers bounded in bytes", () => {
  it("these tests' settings make three values at the limit pass the cap, and one fit", () => {
    expect(3 * maxValueBytes).toBeGreaterThan(maxAnswerBytes);
    expect(maxValueBytes).toBeLessThan(maxAnswerBytes);
  });

  it("refuses a multiRead whose values pass the cap with BadArguments, and reads fewer", async () => {
    const { stub } = newShard();
    const paths = await bigValues(stub, 3);
    const all = await run(stub, ANON, { op: "multiRead", ops: paths.map((path) => ({ op: "getData" as const, path })) });
    expect(all.ok ? "ok" : all.error).toMatchObject({ name: "BadArguments", message: expect.stringContaining("EDGEKEEPER_MAX_ANSWER_BYTES") });
    const one = await ok(stub, ANON, { op: "multiRead", ops: [{ op: "getData", path: paths[0]! }] });
    expect(one.results[0]).toMatchObject({ op: "getData", stat: { dataLength: maxValueBytes } });
  });

  it("refuses getChildren of a node whose names pass the cap, and still lists a smaller one", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/wide" });
    const long = "n".repeat(maxPathBytes - "/wide/".length - 6);
    const count = Math.ceil(maxAnswerBytes / long.length) + 1;
    for (let start = 0; start < count; start += 100) {
      const batch = Array.from({ length: Math.min(100, count - start) }, (_, i) => ({ op: "create" as const, path: `/wide/${String(start + i).padStart(5, "0")}${long}` }));
      for (const outcome of await exec(stub, ANON, ...batch)) expect(outcome.ok).toBe(true);
    }
    const wide = await run(stub, ANON, { op: "getChildren", path: "/wide" });
    expect(wide.ok ? "ok" : wide.error.name).toBe("BadArguments");
    expect((await ok(stub, ANON, { op: "getAllChildrenNumber", path: "/wide" })).count).toBe(count);
    expect((await ok(stub, ANON, { op: "getChildren", path: "/" })).children).toContain("wide");
  }, 60_000);

  it("reads names a page at a time: a list longer than a page comes whole, in order", async () => {
    const { stub } = newShard();
    await ok(stub, ANON, { op: "create", path: "/many" });
    const names = Array.from({ length: 600 }, (_, i) => `c${String(i).padStart(4, "0")}`);
    for (const outcome of await exec(stub, ANON, ...names.map((name) => ({ op: "create" as const, path: `/many/${name}` })))) expect(outcome.ok).toBe(true);
    expect((await ok(stub, ANON, { op: "getChildren", path: "/many" })).children).toEqual(names);
  });

  it("answers a batch up to the cap and leaves the rest unrun (deferred), writes included", async () => {
    const { stub } = newShard();
    const paths = await bigValues(stub, 3);
    const outcomes = await exec(
      stub,
      session(7),
      ...paths.map((path) => ({ op: "getData" as const, path })),
      { op: "create", path: "/after", cxid: 1 },
    );
    expect(outcomes.map((o) => (o.ok ? "ok" : o.deferred ? "deferred" : o.error.name))).toEqual(["ok", "deferred", "deferred", "deferred"]);
    expect(await exists(stub, "/after")).toBe(false);
    // Sent again, the rest runs; the deferred write applies once, with its own cxid.
    const again = await exec(stub, session(7), { op: "getData", path: paths[1]! }, { op: "create", path: "/after", cxid: 1 });
    expect(again.map((o) => o.ok)).toEqual([true, true]);
  });
});
