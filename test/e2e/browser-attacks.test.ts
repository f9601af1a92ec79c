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
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";

const CHROMIUM = "/usr/bin/chromium";
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (Debian's chromium package: apt-get install -y chromium)`;
const EVIL = "evil.test";
const REBOUND = "rebound.test";

let server: LocalServer | undefined;
let browser: BrowserContext | undefined;
let profileDir: string | undefined;

beforeAll(async () => {
  if (missing) {
    console.warn(`browser attack e2e test skipped: ${missing}`);
    return;
  }
  server = await startLocalServer();
  profileDir = await mkdtemp(join(tmpdir(), "edgekeeper-chromium-"));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--host-resolver-rules=MAP ${EVIL} 127.0.0.1, MAP ${REBOUND} 127.0.0.1`,
      "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

/** A blank page at `url`, served by Playwright: its origin is the attacker's. */
async function pageAt(url: string): Promise<Page> {
  const page = await browser!.newPage();
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
