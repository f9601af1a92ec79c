/**
 * Callers without a socket learn of changes by blocking reads (?index=&wait=, as
 * Consul's blocking queries) and by a Server-Sent Events stream, both fed by the
 * shard's change log.
 */
import { describe, expect, it } from "vitest";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { readEvents } from "../harness/sse.ts";

const INDEX = "X-Edgekeeper-Index";

function indexOf(res: Response): string {
  const index = res.headers.get(INDEX);
  if (index === null) throw new Error(`no ${INDEX} header`);
  return index;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("blocking reads", () => {
  it("answer at once when the node changed after the index", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/cfg", { data: "v1" });
    const first = await zk.get("/cfg");
    const index = indexOf(first);
    await zk.set("/cfg", { data: "v2" });
    const res = await zk.get("/cfg", { index, wait: "30" });
    expect(await res.json()).toMatchObject({ data: "v2" });
    expect(Number(indexOf(res))).toBeGreaterThan(Number(index));
  });

  it("wait for the next change and answer with it", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/cfg", { data: "v1" });
    const index = indexOf(await zk.get("/cfg"));
    let answered = false;
    const blocked = zk.get("/cfg", { index, wait: "30" }).then((res) => {
      answered = true;
      return res;
    });
    await pause(200);
    expect(answered).toBe(false);
    await zk.set("/cfg", { data: "v2" });
    const res = await blocked;
    expect(await res.json()).toMatchObject({ data: "v2", stat: { version: 1 } });
  });

  it("answer with the unchanged value when the wait runs out", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/cfg", { data: "v1" });
    const index = indexOf(await zk.get("/cfg"));
    const res = await zk.get("/cfg", { index, wait: "0.2" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ data: "v1", stat: { version: 0 } });
    expect(indexOf(res)).toBe(index);
  });

  it("on children wake for a child, not for the node's data", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/jobs");
    const index = indexOf(await zk.get("/jobs", { view: "children" }));
    const blocked = zk.get("/jobs", { view: "children", index, wait: "30" });
    await zk.set("/jobs", { data: "not a child change" });
    await pause(300);
    await zk.mustCreate("/jobs/j1");
    expect(await (await blocked).json()).toMatchObject({ children: ["j1"] });
  });

  it("wait for a missing node to be created", async () => {
    const zk = new HttpClient();
    const missing = await zk.get("/later");
    const index = indexOf(missing);
    await expectKeeperError(missing, "NoNode");
    const blocked = zk.get("/later", { index, wait: "30" });
    await pause(100);
    await zk.mustCreate("/later", { data: "here" });
    expect(await (await blocked).json()).toMatchObject({ data: "here" });
  });

  it("refuse an index on views that cannot block, and a bad wait", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/n");
    await expectKeeperError(await zk.get("/n", { view: "acl", index: "1" }), "BadArguments");
    await expectKeeperError(await zk.get("/n", { index: "1", wait: "soon" }), "BadArguments");
    await expectKeeperError(await zk.get("/n", { index: "x" }), "BadArguments");
  });
});

describe("the event stream", () => {
  it("streams a subtree's changes in commit order, ids being zxids", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/app");
    const stream = await zk.fetch("GET", "/v1/events/app");
    expect(stream.headers.get("Content-Type")).toContain("text/event-stream");
    const reading = readEvents(stream, 4);
    await zk.mustCreate("/app/x", { data: "1" });
    await zk.set("/app/x", { data: "2" });
    await zk.mustCreate("/elsewhere");
    await zk.delete("/app/x");
    await zk.set("/app", { data: "root" });
    const events = await reading;
    expect(events.map((e) => [e.event, e.data.path])).toEqual([
      ["NodeCreated", "/app/x"],
      ["NodeDataChanged", "/app/x"],
      ["NodeDeleted", "/app/x"],
      ["NodeDataChanged", "/app"],
    ]);
    const ids = events.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(events.every((e) => e.data.zxid === Number(e.id))).toBe(true);
  });

  it("resumes after Last-Event-ID with what the client missed", async () => {
    const zk = new HttpClient();
    await zk.mustCreate("/app");
    const first = readEvents(await zk.fetch("GET", "/v1/events/app"), 1);
    await zk.mustCreate("/app/a");
    const [seen] = await first;
    await zk.mustCreate("/app/b");
    await zk.mustCreate("/app/c");
    const resumed = await readEvents(await zk.fetch("GET", "/v1/events/app", { headers: { "Last-Event-ID": seen!.id } }), 2);
    expect(resumed.map((e) => e.data.path)).toEqual(["/app/b", "/app/c"]);
  });

  it("refuses an unknown scope", async () => {
    const zk = new HttpClient();
    await expectKeeperError(await zk.fetch("GET", "/v1/events/app?scope=everything"), "BadArguments");
  });
});
