/**
 * What a hostile web page, open in the developer's browser while `npm start` runs,
 * can do to the local API: nothing. Driven in headless Debian Chromium against a
 * real `npm start`: a page of another site opens the session socket (cross-site
 * WebSocket hijacking) and writes with a no-preflight text/plain POST; a page whose
 * DNS name is rebound to 127.0.0.1 writes with same-origin requests. The page
 * (served by Playwright, at made-up names that Chromium resolves to 127.0.0.1) runs
 * with Chromium's Local Network Access checks off, as in browsers that have none.
 * Skips, saying why, only where /usr/bin/chromium is absent.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Chromium, chromiumMissing as missing, launchChromium } from "../harness/chromium.ts";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";

const EVIL = "evil.test";
const REBOUND = "rebound.test";

let server: LocalServer | undefined;
let chrome: Chromium | undefined;

beforeAll(async () => {
  if (missing) {
    console.warn(`browser attack e2e test skipped: ${missing}`);
    return;
  }
  server = await startLocalServer();
  chrome = await launchChromium([
    `--host-resolver-rules=MAP ${EVIL} 127.0.0.1, MAP ${REBOUND} 127.0.0.1`,
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights",
  ]);
});

afterAll(async () => {
  await chrome?.close();
  await server?.stop();
});

/** A blank page at `url`, served by Playwright: its origin is the attacker's. */
async function pageAt(url: string): Promise<Page> {
  const page = await chrome!.context.newPage();
  await page.route(url, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>hostile</title>" }));
  await page.goto(url);
  return page;
}

async function exists(path: string): Promise<boolean> {
  const response = await fetch(`${server!.base}/v1/znodes${path}?view=stat`);
  return response.status === 200;
}

it("a page of another site can neither open the session socket nor write", async (ctx) => {
  if (missing) ctx.skip(missing);
  const page = await pageAt(`http://${EVIL}/`);
  const socketUrl = `ws://127.0.0.1:${server!.port}/v1/sessions/socket`;
  const socket = await page.evaluate(
    (url) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.onopen = () => {
          ws.send(JSON.stringify([{ t: "connect", ref: 1, timeoutMs: 10_000 }]));
          ws.onmessage = (event) => resolve(`opened: ${String(event.data)}`);
        };
        ws.onclose = (event) => resolve(`closed ${event.code}`);
      }),
    socketUrl,
  );
  expect(socket).toBe("closed 1006");

  // A simple request: no preflight, so it reaches the server whatever CORS says.
  await page.evaluate(
    (url) => fetch(url, { method: "POST", mode: "no-cors", body: '{"data":"stolen"}' }).then(() => undefined),
    `${server!.base}/v1/znodes/hijacked`,
  );
  expect(await exists("/hijacked")).toBe(false);
  await page.close();
});

it("a page whose DNS name is rebound to 127.0.0.1 cannot use the API, though same-origin", async (ctx) => {
  if (missing) ctx.skip(missing);
  const origin = `http://${REBOUND}:${server!.port}`;
  const page = await pageAt(`${origin}/`);
  const answer = await page.evaluate(
    (url) =>
      fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"data":"rebound"}' }).then(
        async (response) => `${response.status} ${await response.text()}`,
      ),
    `${origin}/v1/znodes/rebound`,
  );
  expect(answer).toMatch(/^403 .*"NoAuth"/);
  expect(await exists("/rebound")).toBe(false);
  await page.close();
});
