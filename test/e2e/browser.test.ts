/**
 * The browser page `npm start` serves at /ui/ (examples/browser), driven in headless
 * Debian Chromium: it subscribes to a znode with the real client over its WebSocket,
 * and shows what other clients do to the node over the HTTP API, as it happens.
 * Skips, saying why, only where /usr/bin/chromium is absent (`apt-get install chromium`).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Chromium, chromiumMissing as missing, launchChromium } from "../harness/chromium.ts";
import { type LocalServer, startLocalServer, startProxy } from "../harness/local-server.ts";

const UPDATE_LIMIT_MS = 15_000; // a limit for a stuck page, not a speed assertion

let server: LocalServer | undefined;
let chrome: Chromium | undefined;

beforeAll(async () => {
  if (missing) {
    console.warn(`browser e2e test skipped: ${missing}`);
    return;
  }
  server = await startLocalServer();
  chrome = await launchChromium();
});

afterAll(async () => {
  await chrome?.close();
  await server?.stop();
});

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: UPDATE_LIMIT_MS, interval: 100 });
/** The value of one Stat row, by its exact field name. */
const statField = (page: Page, field: string) => text(page, `#stat td:text-is("${field}") + td`);

async function api(path: string, method: string, body?: unknown): Promise<Response> {
  const json = body === undefined ? {} : { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(`${server!.base}/v1/znodes${path}`, { method, ...json });
  expect(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`).toBe(true);
  return response;
}

it("shows a watched znode's value, Stat and events live as others change it", async (ctx) => {
  if (missing) ctx.skip(missing);
  const page = await chrome!.context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });

  // /ui answers with the page's directory, as a static site does.
  const redirect = await fetch(`${server!.base}/ui`, { redirect: "manual" });
  expect([301, 307, 308]).toContain(redirect.status);
  await page.goto(`${server!.base}/ui`);
  expect(new URL(page.url()).pathname).toBe("/ui/");

  // On load it connects and watches the default path, which does not exist yet.
  await poll(() => text(page, "#state")).toBe("connected");
  expect(await text(page, "#session")).toMatch(/^session 0x[0-9a-f]+, timeout \d+ ms$/);
  await poll(() => text(page, "#value")).toBe("no node at /demo");

  // Pick another path with the form.
  await page.locator("#path").fill("/browser");
  await page.locator("#subscribe").click();
  await poll(() => text(page, "#log")).toContain("watching /browser (persistent)");
  await poll(() => text(page, "#value")).toBe("no node at /browser");

  // Another client creates it, then sets it (PUT) over HTTP: the page follows.
  await api("/browser", "POST", { data: "first" });
  await poll(() => text(page, "#value")).toBe("first");
  await poll(() => text(page, "#log")).toMatch(/NodeCreated \/browser at zxid 0x[0-9a-f]+/);
  await api("/browser", "PUT", { data: "changed over HTTP" });
  await poll(() => text(page, "#value")).toBe("changed over HTTP");
  await poll(() => text(page, "#log")).toMatch(/NodeDataChanged \/browser at zxid 0x[0-9a-f]+/);
  expect(await statField(page, "version")).toBe("1");
  expect(await statField(page, "dataLength")).toBe(String("changed over HTTP".length));

  // A child appears: a children event, and the list.
  await api("/browser/child", "POST", { data: "" });
  await poll(() => text(page, "#log")).toContain("NodeChildrenChanged (children) /browser");
  await poll(() => text(page, "#children")).toBe("children: child");
  expect(await statField(page, "numChildren")).toBe("1");

  // The page's own write goes through its session, and HTTP readers see it.
  await page.locator("#new-value").fill("set in the browser");
  await page.locator("#set").click();
  await poll(() => text(page, "#value")).toBe("set in the browser");
  const read = await (await api("/browser", "GET")).json();
  expect(read).toMatchObject({ path: "/browser", data: "set in the browser", stat: { version: 2 } });
  expect(await statField(page, "version")).toBe("2");

  const screenshot = join(tmpdir(), `edgekeeper-browser-${process.pid}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`browser e2e: screenshot of the page in ${screenshot}`);

  // Deleted by another client: the page says so.
  await api("/browser/child", "DELETE");
  await api("/browser", "DELETE");
  await poll(() => text(page, "#value")).toBe("no node at /browser");
  await poll(() => text(page, "#log")).toMatch(/NodeDeleted \/browser at zxid/);
  expect(await text(page, "#state")).toBe("connected");
  expect(problems).toEqual([]);
});

it("shows the connection suspended, then the same session reconnected, when its socket drops", async (ctx) => {
  if (missing) ctx.skip(missing);
  // The page's server is its own origin: loaded through the proxy, its socket is too.
  const proxy = await startProxy(server!.port);
  const page = await chrome!.context.newPage();
  try {
    await page.goto(`${proxy.base}/ui/`);
    await poll(() => text(page, "#state")).toBe("connected");
    const session = await text(page, "#session");
    await poll(() => text(page, "#log")).toContain("watching /demo (persistent)");

    proxy.cutAll();
    await poll(() => text(page, "#log")).toContain("connection suspended");
    await poll(() => text(page, "#state")).toBe("reconnected");
    expect(await text(page, "#session")).toBe(session);

    // The watch outlived the outage.
    await api("/demo", "POST", { data: "after the outage" });
    await poll(() => text(page, "#value")).toBe("after the outage");
    await poll(() => text(page, "#log")).toMatch(/NodeCreated \/demo at zxid/);
  } finally {
    await page.close();
    await proxy.close();
  }
});
