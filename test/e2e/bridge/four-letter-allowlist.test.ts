/**
 * The bridge's four-letter-word allowlist as a setting (startBridge's
 * fourLetterWords, which --4lw and EDGEKEEPER_4LW_COMMANDS set): "*" answers every
 * word, a list answers its words and refuses the others in ZooKeeper 3.8's words.
 * The defaults are compared with a real ZooKeeper in wire-compat.test.ts.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Bridge, startBridge } from "../../../bridge/server/server.ts";
import { FakeSessionHost } from "../../harness/fake-session-host.ts";
import { fourLetterWord } from "../../harness/zookeeper/launch.ts";

let host: FakeSessionHost;
const bridges: Bridge[] = [];

beforeAll(async () => {
  host = await FakeSessionHost.start();
});

afterAll(async () => {
  for (const bridge of bridges) await bridge.close();
  await host?.stop();
});

async function bridgeWith(fourLetterWords: string): Promise<number> {
  const bridge = await startBridge({ url: host.base, port: 0, fourLetterWords, log: () => {} });
  bridges.push(bridge);
  return bridge.port;
}

it('"*" answers every word, those off by default included', async () => {
  const port = await bridgeWith("*");
  expect(await fourLetterWord(port, "envi")).toMatch(/^Environment:\n/);
  expect(await fourLetterWord(port, "srst")).toBe("Server stats reset.\n");
  expect(await fourLetterWord(port, "wchp")).not.toMatch(/not executed/);
});

it("a list (spaces ignored) answers its words only; the case still matters", async () => {
  const port = await bridgeWith(" ruok , envi");
  expect(await fourLetterWord(port, "ruok")).toBe("imok");
  expect(await fourLetterWord(port, "envi")).toMatch(/^Environment:\n/);
  expect(await fourLetterWord(port, "srvr")).toBe("srvr is not executed because it is not in the whitelist.\n");
  expect(await fourLetterWord(port, "RUOK")).toBe("");
});
