/**
 * An ACL protects a node on every way out, also the ways that report changes: the
 * event stream (live and replayed from the log), blocking reads, and persistent and
 * recursive watches of socket sessions. Each event is judged by the READ permission
 * on its node's ACL as of the event; the stream or wait itself needs READ on its path.
 */
import { describe, expect, it } from "vitest";
import { type Acl, KEEPER_ERRORS, digestId } from "../../protocol/index.ts";
import { HttpClient, expectKeeperError } from "../harness/http.ts";
import { eventually } from "../harness/sessions.ts";
import { type StreamedEvent, readEvents } from "../harness/sse.ts";
import { SessionSocket } from "../harness/socket.ts";

const ALICE = "digest alice:secret";

async function aliceOnly(): Promise<Acl[]> {
  return [{ perms: 31, scheme: "digest", id: await digestId("alice:secret") }];
}

/** The change events of a stream as "event path" (a replay from 0 starts with an `overflow` notice). */
function changes(events: StreamedEvent[]): string[] {
  return events.filter((e) => e.event !== "overflow").map((e) => `${e.event} ${e.data.path}`);
}

async function ok(res: Promise<Response>): Promise<void> {
  const answer = await res;
  if (answer.status >= 300) throw new Error(`${answer.status} ${await answer.text()}`);
}

/** A namespace where alice keeps /secret and its children to herself. */
async function withSecret(): Promise<{ alice: HttpClient; anon: HttpClient }> {
  const alice = new HttpClient({ auth: ALICE });
  const acl = await aliceOnly();
  await alice.mustCreate("/secret", { acl });
  await alice.mustCreate("/secret/before", { data: "x", acl });
  await alice.mustCreate("/public");
  return { alice, anon: alice.as(undefined) };
}

/** Changes under /secret, then a change anyone may read that ends the story. */
async function secretChanges(alice: HttpClient, done: string): Promise<void> {
  const acl = await aliceOnly();
  await alice.mustCreate("/secret/after", { data: "1", acl });
  await ok(alice.set("/secret/after", { data: "2" }));
  await ok(alice.delete("/secret/before"));
  await alice.mustCreate(done);
}

describe("the event stream", () => {
  it("refuses a path the caller may not read, with NoAuth before any stream", async () => {
    const { anon } = await withSecret();
    const res = await anon.fetch("GET", "/v1/events/secret?after=0");
    expect(res.status).toBe(KEEPER_ERRORS.NoAuth.httpStatus);
    await expectKeeperError(res, "NoAuth");
    await expectKeeperError(await anon.fetch("GET", "/v1/events/secret?scope=children"), "NoAuth");
  });

  it("replays (after=0) and streams only the events of nodes the caller may read", async () => {
    const { alice, anon } = await withSecret();
    const replayedAnon = await anon.fetch("GET", "/v1/events/?after=0");
    const replayedAlice = await alice.fetch("GET", "/v1/events/?after=0");
    const reading = [replayedAnon, replayedAlice].map((res) => readEvents(res, (e) => e.data.path === "/public/done"));
    await secretChanges(alice, "/public/done");
    const [seenByAnon, seenByAlice] = await Promise.all(reading);
    expect(changes(seenByAnon!)).toEqual(["NodeCreated /public", "NodeCreated /public/done"]);
    expect(changes(seenByAlice!)).toEqual([
      "NodeCreated /secret",
      "NodeCreated /secret/before",
      "NodeCreated /public",
      "NodeCreated /secret/after",
      "NodeDataChanged /secret/after",
      "NodeDeleted /secret/before",
      "NodeCreated /public/done",
    ]);
  });

  it("judges each event by its node's ACL as of the event", async () => {
    const alice = new HttpClient({ auth: ALICE });
    const anon = alice.as(undefined);
    await alice.mustCreate("/doc", { data: "draft" });
    const stream = anon.fetch("GET", "/v1/events/?after=0");
    await ok(alice.set("/doc", { data: "open" }));
    await ok(alice.set("/doc", { acl: await aliceOnly() }, { query: { view: "acl" } }));
    await ok(alice.set("/doc", { data: "closed" }));
    await alice.mustCreate("/end");
    const events = await readEvents(await stream, (e) => e.data.path === "/end");
    expect(changes(events)).toEqual(["NodeCreated /doc", "NodeDataChanged /doc", "NodeCreated /end"]);
  });

  it("ends with an error event once the caller may no longer read the streamed path", async () => {
    const alice = new HttpClient({ auth: ALICE });
    const anon = alice.as(undefined);
    await alice.mustCreate("/doc");
    const stream = await anon.fetch("GET", "/v1/events/doc");
    expect(stream.status).toBe(200);
    const reading = readEvents(stream, (e) => e.event === "error");
    await ok(alice.set("/doc", { acl: await aliceOnly() }, { query: { view: "acl" } }));
    // A child anyone may read: its event wakes the stream, which finds /doc closed.
    await alice.mustCreate("/doc/open");
    const events = await reading;
    expect(events.map((e) => e.event)).toEqual(["error"]);
    expect(events[0]!.data).toMatchObject({ error: { name: "NoAuth", code: KEEPER_ERRORS.NoAuth.code } });
  });
});

describe("blocking reads", () => {
  it("answer NoAuth at once on a node the caller may not read, whatever the view", async () => {
    const { alice, anon } = await withSecret();
    const index = (await alice.get("/secret")).headers.get("X-Edgekeeper-Index")!;
    // Long waits: without the check these would block until the wait ran out.
    for (const view of ["data", "stat", "children"]) {
      await expectKeeperError(await anon.get("/secret", { view, index, wait: "60" }), "NoAuth");
    }
    const blocked = alice.get("/secret", { view: "children", index, wait: "60" });
    await alice.mustCreate("/secret/new", { acl: await aliceOnly() });
    expect(await (await blocked).json()).toMatchObject({ children: ["before", "new"] });
  });
});

describe("persistent and recursive watches of socket sessions", () => {
  it("deliver only the events of nodes the session may read, by its identities at the event", async () => {
    const { alice } = await withSecret();
    const acl = await aliceOnly();
    // Readable through the session's address (its ip identity), not its digest.
    await alice.mustCreate("/local", { acl: [...acl, { perms: 1, scheme: "ip", id: "127.0.0.1" }] });
    const socket = await SessionSocket.open(alice.namespace, { host: "0" });
    const anon = (await socket.open()).sessionId;
    const authorised = (await socket.open()).sessionId;
    await socket.ok(authorised, { op: "addAuth", scheme: "digest", credentials: "alice:secret" });
    for (const sid of [anon, authorised]) {
      await socket.ok(sid, { op: "addWatch", path: "/", mode: "recursive" });
      await socket.ok(sid, { op: "addWatch", path: "/secret/after", mode: "persistent" });
    }
    await ok(alice.set("/local", { data: "by ip" }));
    await secretChanges(alice, "/public/done");
    await socket.ok(authorised, { op: "create", path: "/secret/after/child", acl });
    await alice.mustCreate("/public/end");
    await eventually("both saw the end", async () => [anon, authorised].every((sid) => socket.events(sid).some(([, path]) => path === "/public/end")));
    expect(socket.events(anon)).toEqual([
      ["NodeDataChanged", "/local", "recursive"],
      ["NodeCreated", "/public/done", "recursive"],
      ["NodeCreated", "/public/end", "recursive"],
    ]);
    expect(socket.events(authorised)).toEqual([
      ["NodeDataChanged", "/local", "recursive"],
      ["NodeCreated", "/secret/after", "persistent"],
      ["NodeCreated", "/secret/after", "recursive"],
      ["NodeDataChanged", "/secret/after", "persistent"],
      ["NodeDataChanged", "/secret/after", "recursive"],
      ["NodeDeleted", "/secret/before", "recursive"],
      ["NodeCreated", "/public/done", "recursive"],
      ["NodeCreated", "/secret/after/child", "recursive"],
      ["NodeChildrenChanged", "/secret/after", "persistent"],
      ["NodeCreated", "/public/end", "recursive"],
    ]);
  });

  it("one-shot watches fire as the read that set them allowed (ZooKeeper checks READ at the read)", async () => {
    const alice = new HttpClient({ auth: ALICE });
    await alice.mustCreate("/doc", { data: "open" });
    const socket = await SessionSocket.open(alice.namespace, { host: "0" });
    const anon = (await socket.open()).sessionId;
    await socket.ok(anon, { op: "getData", path: "/doc", watch: true });
    await ok(alice.set("/doc", { acl: await aliceOnly() }, { query: { view: "acl" } }));
    await ok(alice.set("/doc", { data: "closed" }));
    await eventually("the data watch fired", async () => socket.events(anon).length === 1);
    expect(socket.events(anon)).toEqual([["NodeDataChanged", "/doc", "data"]]);
    expect(await socket.req(anon, { op: "getData", path: "/doc", watch: true })).toMatchObject({ ok: false, error: { name: "NoAuth" } });
  });
});
