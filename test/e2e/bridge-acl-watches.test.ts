/**
 * ZooKeeper's CVE-2024-23944 through the wire bridge: a persistent recursive watch
 * must not report what happens below a node the watcher may not read. zkCli.sh
 * (ZooKeeper's own Java client) watches `/` twice, once without and once with
 * alice's digest, while node-zookeeper-client writes as alice under a digest-only
 * /secret; then a world-readable node ends the story for both.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { digestId } from "../../protocol/index.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { type Any, type ZkCli, bridgePort, call, hostPort, nzc, startZkCli, zkCliUnavailable, zookeeper } from "../harness/zk-clients.ts";

let server: LocalServer;
let port: number;
const clis: ZkCli[] = [];

beforeAll(async () => {
  server = await startLocalServer();
  port = await bridgePort(server);
});

afterAll(async () => {
  for (const cli of clis) cli.stop();
  await server?.stop();
});

/** A zkCli.sh session with a recursive watch on `/`, ready once its read after addWatch answered. */
async function recursiveWatcher(auth?: string): Promise<ZkCli> {
  const cli = await startZkCli(hostPort(port));
  clis.push(cli);
  if (auth) cli.send(`addauth digest ${auth}`);
  cli.send("addWatch -m PERSISTENT_RECURSIVE /");
  // Requests of a session are answered in order: once this read answers, the watch is set.
  cli.send("get /ready");
  await cli.waitFor("ready-marker");
  return cli;
}

/** The node events a zkCli.sh watcher printed (not its connection's), as "type path". */
function events(cli: ZkCli): string[] {
  return cli.events.filter((event) => !event.startsWith("state "));
}

it("a recursive watcher without digest rights gets no events from below a digest-only node; an authorised one does", async (ctx) => {
  const missing = zkCliUnavailable();
  if (missing) ctx.skip(missing);
  const alice: Any = await nzc(port);
  alice.addAuthInfo("digest", Buffer.from("alice:secret"));
  const aliceOnly = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id("digest", await digestId("alice:secret")))];
  const create = (path: string, acl = zookeeper.ACL.OPEN_ACL_UNSAFE, data = "x") => call((cb) => alice.create(path, Buffer.from(data), acl, zookeeper.CreateMode.PERSISTENT, cb));
  try {
    await create("/ready", undefined, "ready-marker");
    const anonymous = await recursiveWatcher();
    const authorised = await recursiveWatcher("alice:secret");

    await create("/secret", aliceOnly);
    await create("/secret/a", aliceOnly);
    await call((cb) => alice.setData("/secret/a", Buffer.from("changed"), -1, cb));
    await call((cb) => alice.remove("/secret/a", -1, cb));
    await create("/open");
    for (const cli of [anonymous, authorised]) await cli.waitFor("type:NodeCreated path:/open");

    expect(events(anonymous)).toEqual(["NodeCreated /open"]);
    expect(events(authorised)).toEqual([
      "NodeCreated /secret",
      "NodeCreated /secret/a",
      "NodeDataChanged /secret/a",
      "NodeDeleted /secret/a",
      "NodeCreated /open",
    ]);
  } finally {
    alice.close();
  }
});
