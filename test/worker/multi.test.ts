/**
 * POST /v1/multi (all or nothing, per-op results) and POST /v1/multi-read over HTTP.
 */
import { describe, expect, it } from "vitest";
import { HttpClient, base64, expectKeeperError } from "../harness/http.ts";

describe("multi", () => {
  it("applies every op atomically and answers a result per op", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/m", { data: "old" });
    await zk.mustCreate("/gone");
    const res = await zk.multi([
      { op: "check", path: "/m", version: 0 },
      { op: "create", path: "/m/a", data: "A" },
      { op: "create", path: "/m/seq-", mode: "PERSISTENT_SEQUENTIAL", data: base64(new Uint8Array([0xff])), encoding: "base64" },
      { op: "setData", path: "/m", data: "new", version: 0 },
      { op: "delete", path: "/gone", version: 0 },
    ]);
    expect(res.status).toBe(200);
    const body = await res.json<{ results: Record<string, unknown>[] }>();
    expect(body.results).toHaveLength(5);
    expect(body.results[0]).toEqual({ op: "check" });
    expect(body.results[1]).toMatchObject({ op: "create", path: "/m/a", stat: { version: 0 } });
    expect(body.results[2]).toMatchObject({ op: "create", path: "/m/seq-0000000001" });
    expect(body.results[3]).toMatchObject({ op: "setData", stat: { version: 1 } });
    expect(body.results[4]).toEqual({ op: "delete" });
    // All ops share one zxid.
    const zxids = [(body.results[1] as { stat: { czxid: number } }).stat.czxid, (body.results[3] as { stat: { mzxid: number } }).stat.mzxid];
    expect(zxids[0]).toBe(zxids[1]);

    expect(await zk.mustGet("/m")).toMatchObject({ data: "new", stat: { version: 1 } });
    expect(await zk.mustGet("/m/a")).toMatchObject({ data: "A" });
    expect(await zk.mustGet("/m/seq-0000000001")).toMatchObject({ data: "/w==", encoding: "base64" });
    await expectKeeperError(await zk.get("/gone"), "NoNode");
  });

  it("on failure answers the failing op's error with per-op results and writes nothing", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/m", { data: "old" });
    const before = await zk.snapshot();
    const res = await zk.multi([
      { op: "create", path: "/m/a" },
      { op: "setData", path: "/m", data: "new" },
      { op: "check", path: "/m", version: 7 },
      { op: "delete", path: "/m" },
    ]);
    const body = await expectKeeperError(res, "BadVersion");
    expect(body.error.path).toBe("/m");
    expect(body.results?.map((r) => r.error?.name)).toEqual(["Ok", "Ok", "BadVersion", "RuntimeInconsistency"]);
    expect(body.results?.map((r) => r.error?.code)).toEqual([0, 0, -103, -2]);
    expect(body.results?.every((r) => r.op === "error")).toBe(true);
    expect(await zk.snapshot()).toEqual(before);
  });

  it("reports NodeExists, NoNode and NotEmpty inside a multi the same way", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/p");
    await zk.mustCreate("/p/c");
    const before = await zk.snapshot();
    const exists = await expectKeeperError(await zk.multi([{ op: "create", path: "/x" }, { op: "create", path: "/x" }]), "NodeExists");
    expect(exists.results?.map((r) => r.error?.name)).toEqual(["Ok", "NodeExists"]);
    const noNode = await expectKeeperError(await zk.multi([{ op: "delete", path: "/nope" }, { op: "create", path: "/y" }]), "NoNode");
    expect(noNode.results?.map((r) => r.error?.name)).toEqual(["NoNode", "RuntimeInconsistency"]);
    const notEmpty = await expectKeeperError(await zk.multi([{ op: "delete", path: "/p" }]), "NotEmpty");
    expect(notEmpty.results?.map((r) => r.error?.name)).toEqual(["NotEmpty"]);
    expect(await zk.snapshot()).toEqual(before);
  });

  it("sees its own earlier ops: create then delete of the same node", async () => {
    const zk = new HttpClient();
    const res = await zk.multi([
      { op: "create", path: "/t" },
      { op: "create", path: "/t/u" },
      { op: "delete", path: "/t/u" },
    ]);
    expect(res.status).toBe(200);
    expect(await (await zk.get("/t", { view: "children" })).json()).toMatchObject({ children: [], stat: { numChildren: 0 } });
    await expectKeeperError(await zk.get("/t/u"), "NoNode");
  });

  it("answers an empty multi with no results", async () => {
    const zk = new HttpClient();
    const res = await zk.multi([]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ results: [] });
  });
});

describe("multi-read", () => {
  it("reads data and children, each op answering on its own", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/r", { data: "txt" });
    await zk.mustCreate("/r/b", { data: base64(new Uint8Array([0xc3])), encoding: "base64" });
    const res = await zk.multiRead([
      { op: "getData", path: "/r" },
      { op: "getChildren", path: "/r" },
      { op: "getData", path: "/missing" },
      { op: "getData", path: "/r/b" },
    ]);
    expect(res.status).toBe(200);
    const { results } = await res.json<{ results: Record<string, unknown>[] }>();
    expect(results[0]).toMatchObject({ op: "getData", data: "txt", encoding: "utf8", stat: { version: 0 } });
    expect(results[1]).toMatchObject({ op: "getChildren", children: ["b"] });
    expect(results[2]).toMatchObject({ op: "error", error: { name: "NoNode", code: -101, path: "/missing" } });
    expect(results[3]).toMatchObject({ op: "getData", data: "ww==", encoding: "base64" });

    const b64 = await (await zk.multiRead([{ op: "getData", path: "/r" }], { encoding: "base64" })).json<{ results: unknown[] }>();
    expect(b64.results[0]).toMatchObject({ data: "dHh0", encoding: "base64" });
  });
});
