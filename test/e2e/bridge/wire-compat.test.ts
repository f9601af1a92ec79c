/**
 * The bridge of `npm start` against a real ZooKeeper 3.8, at the level of bytes and
 * timing that old and strict clients check: the connect reply byte for byte (with
 * and without the readOnly byte, on resume, for an expired session), the expiry of
 * a client that goes silent, and the four-letter words refused by default. Without
 * Java or Debian's ZooKeeper, a test whose comparison cannot run still makes its own
 * checks, then is reported skipped, saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FOUR_LETTER_WORDS } from "../../../bridge/server/four-letter.ts";
import { type ConnectRequest, decodeConnectResponse } from "../../../protocol/jute/index.ts";
import { type LocalServer, startLocalServer } from "../../harness/local-server.ts";
import { bridgePort } from "../../harness/zk-clients.ts";
import { fourLetterWord, skipUncompared, zookeeperUnavailable } from "../../harness/zookeeper/launch.ts";
import { NEW_SESSION, RawConnection } from "../../harness/zookeeper/raw-connection.ts";
import { type RunningZookeeper, startZookeeper } from "../../harness/zookeeper/reference.ts";

const OPEN_ACL = [{ perms: 31, scheme: "world", id: "anyone" }];
const WITHOUT_READ_ONLY: ConnectRequest = { ...NEW_SESSION, readOnly: undefined };

let server: LocalServer;
let bridge: number;
let reference: RunningZookeeper | undefined;
/** Connections of sessions kept alive for a resume, closed at the end. */
const kept: RawConnection[] = [];
const referenceMissing = await zookeeperUnavailable();

beforeAll(async () => {
  server = await startLocalServer();
  bridge = await bridgePort(server);
  // The reference answers the words our bridge answers by default, and refuses the rest.
  if (!referenceMissing) reference = await startZookeeper({ fourLetterWords: DEFAULT_FOUR_LETTER_WORDS });
});

afterAll(async () => {
  for (const zk of kept) zk.destroy();
  await server?.stop();
  await reference?.stop();
});

/** The reply's bytes with what differs between servers (session id, password) zeroed. */
function normalised(reply: Uint8Array): Uint8Array {
  const copy = reply.slice();
  copy.fill(0, 8, 16); // sessionId
  copy.fill(0, 20, 36); // the 16 password bytes after their length
  return copy;
}

/** Sends one ConnectRequest on a new connection; the reply as sent, and the connection. */
async function connectReply(port: number, request: ConnectRequest): Promise<{ reply: Uint8Array; zk: RawConnection }> {
  const zk = await RawConnection.open(port);
  return { reply: await zk.connectRaw(request), zk };
}

/** The same request to the bridge and, when present, to ZooKeeper: both replies. */
async function bothReplies(request: (port: number) => Promise<ConnectRequest>): Promise<{ ours: Uint8Array; theirs?: Uint8Array }> {
  const ours = await connectReply(bridge, await request(bridge));
  ours.zk.destroy();
  if (!reference) return { ours: ours.reply };
  const theirs = await connectReply(reference.port, await request(reference.port));
  theirs.zk.destroy();
  return { ours: ours.reply, theirs: theirs.reply };
}

/** A live session's id and raw password on `port`, its connection kept open. */
async function liveSession(port: number, request: ConnectRequest): Promise<{ sessionId: bigint; passwd: Uint8Array }> {
  const { reply, zk } = await connectReply(port, request);
  kept.push(zk);
  const { sessionId, passwd } = decodeConnectResponse(reply);
  return { sessionId, passwd };
}

describe("the connect reply is ZooKeeper 3.8's, byte for byte", () => {
  it.for([
    ["with the readOnly byte (3.5+ clients): 37 bytes", NEW_SESSION, 37],
    ["without it (older C clients): exactly 36 bytes", WITHOUT_READ_ONLY, 36],
  ] as const)("a new session, %s", async ([, request, length], ctx) => {
    const { ours, theirs } = await bothReplies(async () => request);
    expect(ours.byteLength).toBe(length);
    const response = decodeConnectResponse(ours);
    expect(response.passwd.byteLength).toBe(16);
    expect(response.sessionId).not.toBe(0n);
    if (theirs) expect(normalised(ours)).toEqual(normalised(theirs));
    skipUncompared(ctx, referenceMissing);
  });

  it.for([
    ["with the readOnly byte", NEW_SESSION],
    ["without it", WITHOUT_READ_ONLY],
  ] as const)("a resume with the 16 raw password bytes, %s, re-attaches the session", async ([, request], ctx) => {
    const resumes: Uint8Array[] = [];
    for (const port of reference ? [bridge, reference.port] : [bridge]) {
      const session = await liveSession(port, request);
      const { reply, zk } = await connectReply(port, { ...request, ...session });
      expect(decodeConnectResponse(reply)).toMatchObject({ timeOut: 30_000, ...session });
      // The session works on its new connection.
      expect((await zk.call("exists", { path: "/", watch: false })).header.err).toBe(0);
      zk.destroy();
      resumes.push(reply);
    }
    const [ours, theirs] = resumes;
    expect(ours!.byteLength).toBe(request.readOnly === undefined ? 36 : 37);
    if (theirs) expect(normalised(ours!)).toEqual(normalised(theirs));
    skipUncompared(ctx, referenceMissing);
  });

  it.for([
    ["with the readOnly byte", NEW_SESSION],
    ["without it", WITHOUT_READ_ONLY],
  ] as const)("an unknown session, or a wrong or short password, %s: timeout 0, id 0, 16 zero bytes", async ([, request], ctx) => {
    const expired = { protocolVersion: 0, timeOut: 0, sessionId: 0n, passwd: new Uint8Array(16), readOnly: request.readOnly === undefined ? undefined : false };
    // An id next to a live one's (so it names a real host) that was never issued.
    const unknown = await bothReplies(async (port) => {
      const { sessionId, passwd } = await liveSession(port, request);
      return { ...request, sessionId: sessionId + 1_000_000n, passwd };
    });
    const wrongPassword = await bothReplies(async (port) => ({ ...request, sessionId: (await liveSession(port, request)).sessionId, passwd: new Uint8Array(16).fill(9) }));
    const shortPassword = await bothReplies(async (port) => ({ ...request, sessionId: (await liveSession(port, request)).sessionId, passwd: new Uint8Array(3) }));
    for (const { ours, theirs } of [unknown, wrongPassword, shortPassword]) {
      expect(decodeConnectResponse(ours)).toEqual(expired);
      expect(ours.byteLength).toBe(request.readOnly === undefined ? 36 : 37);
      if (theirs) expect(ours).toEqual(theirs);
    }
    skipUncompared(ctx, referenceMissing);
  });
});

it("a connected client that goes silent expires one session timeout after its last packet, not two", async () => {
  const silent = await RawConnection.open(bridge);
  const granted = await silent.handshake({ ...NEW_SESSION, timeOut: 4_000 });
  expect(granted.timeOut).toBe(4_000);
  const path = `/silent-${Date.now()}`;
  expect((await silent.call("create", { path, data: null, acl: OPEN_ACL, flags: 1 })).header.err).toBe(0);
  const lastPacketAt = Date.now(); // from here on the client sends nothing, not even pings

  const watcher = await RawConnection.open(bridge);
  await watcher.handshake();
  while ((await watcher.call("exists", { path, watch: false })).header.err === 0) {
    expect(Date.now() - lastPacketAt, "the ephemeral node outlived 1.75 session timeouts").toBeLessThan(7_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const goneAfterMs = Date.now() - lastPacketAt;
  expect(goneAfterMs).toBeLessThan(7_000);
  // ...and not before its timeout (a small margin for timer granularity).
  expect(goneAfterMs).toBeGreaterThanOrEqual(3_900);
  await silent.closed; // the bridge closed the silent connection too
  watcher.destroy();
});

describe("four-letter words", () => {
  it.for(["envi", "srst", "cons", "dump", "wchc", "wchp"])("%s is off by default, refused in ZooKeeper 3.8's words", async (word, ctx) => {
    const ours = await fourLetterWord(bridge, word);
    expect(ours).toBe(`${word} is not executed because it is not in the whitelist.\n`);
    if (reference) expect(ours).toBe(await fourLetterWord(reference.port, word));
    skipUncompared(ctx, referenceMissing);
  });

  it("the default allowlist answers ruok, isro, stat, srvr, conf, mntr, wchs and crst", async (ctx) => {
    expect(await fourLetterWord(bridge, "ruok")).toBe("imok");
    expect(await fourLetterWord(bridge, "isro")).toBe("rw");
    for (const word of ["stat", "srvr", "conf", "mntr", "wchs", "crst"]) {
      expect(await fourLetterWord(bridge, word), word).not.toMatch(/not executed/);
    }
    if (reference) expect(await fourLetterWord(bridge, "crst")).toBe(await fourLetterWord(reference.port, "crst"));
    skipUncompared(ctx, referenceMissing);
  });
});
