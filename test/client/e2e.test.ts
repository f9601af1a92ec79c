/**
 * The client end to end against `npm start`: the real Worker, session hosts and
 * shards in local workerd.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ConnectionState, type KeeperClient, type WatchEvent, connect } from "../../client/index.ts";
import { decodeBookmark } from "../../protocol/bookmark.ts";
import { MAX_READABLE_VALUE_BYTES } from "../../protocol/limits.ts";
import { bookmarkedReadServers, callerRegionOption } from "../harness/caller-region.ts";
import { type LocalServer, type Proxy, startLocalServer, startProxy } from "../harness/local-server.ts";

let server: LocalServer;
const clients: KeeperClient[] = [];
let counter = 0;

beforeAll(async () => {
  server = await startLocalServer();
});

afterAll(async () => {
  for (const zk of clients) await zk.close().catch(() => undefined);
  await server?.stop();
});

/** A client in a namespace of its own (tests share the server, never state). */
async function open(namespace: string, servers = [server.base]): Promise<KeeperClient> {
  const zk = await connect({ servers, namespace, sessionTimeoutMs: 10_000, backoff: { baseMs: 20, capMs: 200 }, ...callerRegionOption() });
  clients.push(zk);
  return zk;
}

function freshNamespace(): string {
  return `client-e2e-${process.pid}-${++counter}`;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

it("creates, reads, sets and deletes", async () => {
  const zk = await open(freshNamespace());
  expect(await zk.create("/app", "v1")).toBe("/app");
  const read = await zk.getData("/app");
  expect(text(read.data)).toBe("v1");
  expect(read.stat.version).toBe(0);
  const stat = await zk.setData("/app", new Uint8Array([0, 1, 255]), 0);
  expect(stat.version).toBe(1);
  expect((await zk.getData("/app")).data).toEqual(new Uint8Array([0, 1, 255]));
  await expect(zk.setData("/app", "stale", 0)).rejects.toMatchObject({ keeperName: "BadVersion", code: -103 });
  const seq = await zk.create("/app/job-", "", { mode: "PERSISTENT_SEQUENTIAL" });
  expect(seq).toBe("/app/job-0000000000");
  expect((await zk.getChildren("/app")).children).toEqual(["job-0000000000"]);
  await expect(zk.delete("/app")).rejects.toMatchObject({ keeperName: "NotEmpty" });
  await zk.transaction().delete(seq).check("/app", 1).commit();
  await zk.delete("/app", 1);
  expect(await zk.exists("/app")).toBeNull();
  await expect(zk.getData("/app")).rejects.toMatchObject({ keeperName: "NoNode", path: "/app" });
});

it("negotiates no compression on a session socket, though the WebSocket offers it", async () => {
  // Node's WebSocket offers permessage-deflate, as browsers' do; the host takes no
  // offer, so it never deflates an answer (docs/api.md).
  const ws = new WebSocket(`${server.base.replace(/^http/, "ws")}/v1/sessions/socket?namespace=${freshNamespace()}`);
  try {
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    });
    expect(ws.extensions).toBe("");
  } finally {
    ws.close();
  }
});

it("writes four values at the limit sent in one tick, over as many frames as the host takes", async () => {
  const zk = await open(freshNamespace());
  const value = new Uint8Array(MAX_READABLE_VALUE_BYTES).fill(9);
  const paths = await Promise.all([0, 1, 2, 3].map((i) => zk.create(`/big${i}`, value)));
  expect(paths).toEqual(["/big0", "/big1", "/big2", "/big3"]);
  expect((await zk.exists("/big3"))?.dataLength).toBe(MAX_READABLE_VALUE_BYTES);
});

it("deletes a session's ephemeral nodes when it closes", async () => {
  const namespace = freshNamespace();
  const owner = await open(namespace);
  const observer = await open(namespace);
  await owner.create("/leader", "me", { mode: "EPHEMERAL" });
  const stat = await observer.exists("/leader");
  expect(stat?.ephemeralOwner).toBe(owner.sessionId);
  expect(await owner.getEphemerals()).toEqual(["/leader"]);
  let onDeleted!: (event: WatchEvent) => void;
  const deleted = new Promise<WatchEvent>((resolve) => (onDeleted = resolve));
  // Answered before the owner closes: requests of two sessions have no order between
  // them, and a watching exists that came after the close would watch for a create.
  expect(await observer.exists("/leader", { watch: onDeleted })).not.toBeNull();
  await owner.close();
  expect(owner.state).toBe("closed");
  expect(await deleted).toMatchObject({ type: "NodeDeleted", path: "/leader" });
  expect(await observer.exists("/leader")).toBeNull();
});

it("fires one-shot and persistent watches set by another session's writes", async () => {
  const namespace = freshNamespace();
  const watcher = await open(namespace);
  const writer = await open(namespace);
  await writer.create("/cfg", "a");
  let fire!: (event: WatchEvent) => void;
  const changed = new Promise<WatchEvent>((resolve) => (fire = resolve));
  // Both watches are set once their requests are answered: write only after.
  await watcher.getData("/cfg", { watch: fire });
  const stream = watcher.watch("/cfg", { mode: "recursive" });
  await stream.ready;
  await writer.setData("/cfg", "b");
  await writer.create("/cfg/x", "");
  expect(await changed).toMatchObject({ type: "NodeDataChanged", path: "/cfg", kind: "data", watchPath: "/cfg" });
  const seen: string[] = [];
  for await (const ev of stream) {
    seen.push(`${ev.type} ${ev.path}`);
    if (seen.length === 2) break;
  }
  expect(seen).toEqual(["NodeDataChanged /cfg", "NodeCreated /cfg/x"]);
});

it("resumes the same session after its socket drops, ephemerals intact", async () => {
  const proxy: Proxy = await startProxy(server.port);
  try {
    const zk = await open(freshNamespace(), [proxy.base]);
    const states: ConnectionState[] = [];
    zk.on("state", (s) => states.push(s));
    const id = zk.sessionId;
    await zk.create("/mine", "x", { mode: "EPHEMERAL" });
    const suspended = new Promise<void>((resolve) => zk.on("suspended", resolve));
    proxy.cutAll();
    await suspended;
    // Issued while suspended: it waits, and goes once the session is resumed.
    await expect(zk.getData("/mine")).resolves.toMatchObject({ stat: { ephemeralOwner: id } });
    expect(states).toEqual(["suspended", "reconnected"]);
    expect(zk.sessionId).toBe(id);
    expect(await zk.getEphemerals()).toEqual(["/mine"]);
  } finally {
    await proxy.close();
  }
});

it("reads in every mode, and its bookmark lets a plain HTTP request read what it wrote", async () => {
  const namespace = freshNamespace();
  const zk = await open(namespace);
  await zk.create("/modes", "v1");
  const written = await zk.setData("/modes", "v2");
  for (const consistency of ["sequential", "linearizable", "bounded=100", "any"] as const) {
    expect(text((await zk.getData("/modes", { consistency })).data)).toBe("v2");
  }
  const res = await fetch(`${server.base}/v1/znodes/modes`, { headers: { "X-Edgekeeper-Namespace": namespace, "X-Edgekeeper-Bookmark": zk.bookmark } });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { data: string }).data).toBe("v2");
  expect(bookmarkedReadServers()).toContain(res.headers.get("X-Edgekeeper-Served-By"));
  expect(decodeBookmark(res.headers.get("X-Edgekeeper-Bookmark")!, namespace).shards.get("root")).toBe(written.mzxid);
});
