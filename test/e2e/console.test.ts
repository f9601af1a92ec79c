/**
 * The web console `npm start` serves at /ui/ (console/), driven in headless Debian
 * Chromium as a user would: browse and expand the tree, open a node by deep link,
 * create, edit (and a stale edit refused), delete a subtree after confirming, the
 * empty state, the live event log following another client's writes, a phone
 * screen, and the connection surviving a dropped socket. Another client acts over
 * the HTTP API. Skips, saying why, only where /usr/bin/chromium is absent.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Chromium, chromiumMissing as missing, launchChromium } from "../harness/chromium.ts";
import { type LocalServer, startLocalServer, startProxy } from "../harness/local-server.ts";

const UPDATE_LIMIT_MS = 15_000; // a limit for a stuck page, not a speed assertion
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let server: LocalServer | undefined;
let chrome: Chromium | undefined;

beforeAll(async () => {
  if (missing) {
    console.warn(`console e2e tests skipped: ${missing}`);
    return;
  }
  server = await startLocalServer();
  chrome = await launchChromium();
});

afterAll(async () => {
  await chrome?.close();
  await server?.stop();
});

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? "").trim();
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: UPDATE_LIMIT_MS, interval: 100 });
const statField = (page: Page, field: string) => text(page, `#stat td:text-is("${field}") + td`);
/** The tree's row link for `path`. */
const treeLink = (page: Page, path: string) => page.locator(`#tree li[data-path="${path}"] > .row > a`);

/** Another client: the HTTP API. */
async function api(path: string, method: string, body?: unknown): Promise<Response> {
  const json = body === undefined ? {} : { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  return fetch(`${server!.base}/v1/znodes${path}`, { method, ...json });
}

async function apiOk(path: string, method: string, body?: unknown): Promise<Response> {
  const response = await api(path, method, body);
  expect(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`).toBe(true);
  return response;
}

const valueOf = async (path: string) => ((await (await apiOk(path, "GET")).json()) as { data: string }).data;

/** A page with the console open at `fragment`, connected, collecting any error it meets. */
async function openConsole(fragment = ""): Promise<{ page: Page; problems: string[] }> {
  const page = await chrome!.context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  await page.goto(`${server!.base}/ui/${fragment}`);
  await poll(() => text(page, "#state")).toBe("connected");
  return { page, problems };
}

describe.skipIf(missing)("the console", () => {
  it("is the front page: / redirects to /ui/, and an unknown path is a 404", async () => {
    const bare = await fetch(`${server!.base}/ui`, { redirect: "manual" });
    expect([301, 307, 308]).toContain(bare.status);
    const root = await fetch(`${server!.base}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("Location")).toBe("/ui/");
    const unknown = await fetch(`${server!.base}/no/such/page`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { name: "Unimplemented" } });
  });

  it("browses: the tree expands lazily, and a node shows its data, Stat in ISO 8601 UTC, and ACL", async () => {
    await apiOk("/browse", "POST", { data: "top" });
    await apiOk("/browse/db", "POST", { data: "postgres://db.internal:5432" });
    await apiOk("/browse/db/replica", "POST", { data: "" });
    const { page, problems } = await openConsole();
    expect(new URL(page.url()).pathname).toBe("/ui/");

    await poll(() => treeLink(page, "/browse").count()).toBe(1);
    // Children are read when a node is expanded, not before.
    expect(await treeLink(page, "/browse/db").count()).toBe(0);
    await page.locator('#tree li[data-path="/browse"] > .row > .toggle').click();
    await poll(() => treeLink(page, "/browse/db").count()).toBe(1);
    expect(await treeLink(page, "/browse/db/replica").count()).toBe(0);
    await page.locator('#tree li[data-path="/browse/db"] > .row > .toggle').click();
    await poll(() => treeLink(page, "/browse/db/replica").count()).toBe(1);

    await treeLink(page, "/browse/db").click();
    expect(new URL(page.url()).hash).toBe("#/browse/db");
    await poll(() => text(page, "#data")).toBe("postgres://db.internal:5432");
    expect(await text(page, "#data-kind")).toMatch(/^text, 27 bytes$/);
    expect(await statField(page, "ctime")).toMatch(ISO_UTC);
    expect(await statField(page, "mtime")).toMatch(ISO_UTC);
    expect(await statField(page, "numChildren")).toBe("1");
    expect(await text(page, "#acl tbody")).toBe("world:anyonecdrwa");
    expect(await treeLink(page, "/browse/db").getAttribute("aria-current")).toBe("true");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("opens a deep link, JSON pretty-printed and binary as hex, with the tree open down to it", async () => {
    await apiOk("/deep", "POST", { data: "" });
    await apiOk("/deep/config", "POST", { data: '{"db":{"host":"db1","port":5432}}' });
    await apiOk("/deep/blob", "POST", { data: Buffer.from([0xff, 0x00, 0x10]).toString("base64"), encoding: "base64" });
    const { page, problems } = await openConsole("#/deep/config");
    await poll(() => text(page, "#data")).toBe(JSON.stringify({ db: { host: "db1", port: 5432 } }, null, 2));
    expect(await text(page, "#data-kind")).toMatch(/^JSON/);
    // Edited as stored: saving unchanged text writes the same bytes back.
    expect(await page.locator("#edit-value").inputValue()).toBe('{"db":{"host":"db1","port":5432}}');
    await poll(() => treeLink(page, "/deep/config").getAttribute("aria-current")).toBe("true");
    expect(await text(page, "#crumbs")).toBe("/deep/config");

    await page.goto(`${server!.base}/ui/#/deep/blob`);
    await poll(() => text(page, "#data")).toBe("00000000  ff 00 10");
    expect(await text(page, "#data-kind")).toBe("binary, 3 bytes, in hex");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows an empty state for a missing node, from which it can be created", async () => {
    const { page } = await openConsole("#/missing-node");
    await poll(() => page.locator("#node-missing").isVisible()).toBe(true);
    expect(await text(page, "#node-missing")).toContain("No node at /missing-node");
    expect(await page.locator("#node-present").isVisible()).toBe(false);
    await page.locator("#create-missing").click();
    await poll(() => page.locator("#node-present").isVisible()).toBe(true);
    expect((await api("/missing-node", "GET")).status).toBe(200);
    await page.close();
  });

  it("creates a child, edits it at its version, and refuses a stale edit with BadVersion", async () => {
    await apiOk("/edits", "POST", { data: "" });
    const { page, problems } = await openConsole("#/edits");
    await poll(() => page.locator("#node-present").isVisible()).toBe(true);

    await page.locator("#create-name").fill("flag");
    await page.locator("#create-value").fill("on");
    await page.locator("#create").click();
    await poll(() => text(page, "#node-message")).toBe("created /edits/flag");
    expect(new URL(page.url()).hash).toBe("#/edits/flag");
    expect(await valueOf("/edits/flag")).toBe("on");

    await page.locator("#edit-value").fill("off");
    await page.locator("#save").click();
    await poll(() => text(page, "#node-message")).toBe("saved: version 1");
    expect(await valueOf("/edits/flag")).toBe("off");
    expect(await statField(page, "version")).toBe("1");

    // Someone else changes it while the page shows version 1: the page says so, and a
    // save made from what it shows is refused, not written over theirs.
    await apiOk("/edits/flag", "PUT", { data: "theirs" });
    await poll(() => text(page, "#node-message")).toContain("this node changed since it was shown");
    await page.locator("#edit-value").fill("mine");
    await page.locator("#save").click();
    await poll(() => text(page, "#node-message")).toContain("BadVersion (-103)");
    expect(await valueOf("/edits/flag")).toBe("theirs");
    expect(await page.locator("#edit-value").inputValue()).toBe("mine");

    await page.locator("#reload").click();
    await poll(() => text(page, "#data")).toBe("theirs");
    expect(await statField(page, "version")).toBe("2");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("deletes a node and its subtree only once confirmed", async () => {
    for (const path of ["/doomed", "/doomed/a", "/doomed/a/b", "/doomed/c"]) await apiOk(path, "POST", { data: "" });
    const { page, problems } = await openConsole("#/doomed");
    await poll(() => page.locator("#node-present").isVisible()).toBe(true);

    await page.locator("#delete").click();
    await poll(() => text(page, "#confirm-text")).toBe("Delete /doomed and the 3 nodes below it? This cannot be undone.");
    await page.locator("#confirm-no").click();
    expect(await page.locator("#confirm-delete").isVisible()).toBe(false);
    expect((await api("/doomed/a/b", "GET")).status).toBe(200);

    await page.locator("#delete").click();
    await page.locator("#confirm-yes").click();
    await poll(() => text(page, "#node-message")).toBe("deleted /doomed and everything below it");
    expect(new URL(page.url()).hash).toBe("#/");
    expect((await api("/doomed", "GET")).status).toBe(404);
    await poll(() => treeLink(page, "/doomed").count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("logs another client's changes live, with the values", async () => {
    const { page, problems } = await openConsole();
    await poll(() => treeLink(page, "/").count()).toBe(1);
    await apiOk("/live", "POST", { data: "hello" });
    await poll(() => text(page, "#events")).toMatch(/NodeCreated \/live at zxid 0x[0-9a-f]+ = hello/);
    await apiOk("/live", "PUT", { data: '{"n": 2}' });
    await poll(() => text(page, "#events")).toMatch(/NodeDataChanged \/live at zxid 0x[0-9a-f]+ = \{"n":2\}/);
    await apiOk("/live", "DELETE");
    await poll(() => text(page, "#events")).toMatch(/NodeDeleted \/live at zxid 0x[0-9a-f]+/);
    expect(await text(page, "#events .time")).toMatch(ISO_UTC);
    // The tree follows too.
    await apiOk("/live-tree", "POST", { data: "" });
    await poll(() => treeLink(page, "/live-tree").count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows its session and the namespace's shards and mounts, mount points marked in the tree", async () => {
    const mounted = await fetch(`${server!.base}/v1/admin/mounts`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prefix: "/on-a-shard" }) });
    expect(mounted.status, await mounted.clone().text()).toBe(201);
    const { mount } = (await mounted.json()) as { mount: { shard: string } };
    const { page } = await openConsole();
    await poll(() => text(page, '#tree li[data-path="/on-a-shard"] .shard')).toBe(`shard ${mount.shard}`);
    expect(await text(page, "#mounts table")).toContain(`/on-a-shard${mount.shard}`);
    await poll(() => text(page, "#sessions")).toMatch(/This console's session: 0x[0-9a-f]+, timeout \d+ ms\./);
    await poll(() => text(page, "#mounts table")).toContain("/root");
    const own = /session (0x[0-9a-f]+)/.exec(await text(page, "#session"))![1]!;

    // Every session of the namespace, from the admin command cons.
    await page.locator("#list-sessions").click();
    await poll(() => text(page, "#all-sessions table")).toContain(own);
    await page.close();
  });

  it("fits a phone screen (390x844) without scrolling sideways", async () => {
    await apiOk("/phone", "POST", { data: JSON.stringify({ long: "x".repeat(400), list: Array.from({ length: 30 }, (_, i) => `item-${i}`) }) });
    const { page, problems } = await openConsole("#/phone");
    await page.setViewportSize({ width: 390, height: 844 });
    await poll(() => text(page, "#data-kind")).toMatch(/^JSON/);
    await poll(() => text(page, "#sessions")).toContain("This console's session");
    await apiOk("/phone", "PUT", { data: "a-very-long-value-".repeat(30) });
    await poll(() => text(page, "#events")).toContain("NodeDataChanged /phone");
    // Run in the page (a string: this file is compiled without the DOM's types).
    const widths = await page.evaluate<{ scroll: number; client: number }>("({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })");
    expect(widths.scroll).toBeLessThanOrEqual(widths.client);
    // One column: the tree above the node.
    const tree = await page.locator("#tree-pane").boundingBox();
    const node = await page.locator("#node-pane").boundingBox();
    expect(tree!.y + tree!.height).toBeLessThanOrEqual(node!.y);
    const screenshot = join(tmpdir(), `edgekeeper-console-phone-${process.pid}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`console e2e: phone screenshot in ${screenshot}`);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows the connection suspended, then the same session reconnected, when its socket drops", async () => {
    // The page's server is its own origin: loaded through the proxy, its socket is too.
    const proxy = await startProxy(server!.port);
    const page = await chrome!.context.newPage();
    try {
      await page.goto(`${proxy.base}/ui/#/after-outage`);
      await poll(() => text(page, "#state")).toBe("connected");
      const session = await text(page, "#session");
      await poll(() => page.locator("#node-missing").isVisible()).toBe(true);

      proxy.cutAll();
      await poll(() => text(page, "#events")).toContain("connection suspended");
      await poll(() => text(page, "#state")).toBe("reconnected");
      expect(await text(page, "#session")).toBe(session);

      // The watch outlived the outage.
      await apiOk("/after-outage", "POST", { data: "after the outage" });
      await poll(() => text(page, "#events")).toMatch(/NodeCreated \/after-outage at zxid 0x[0-9a-f]+ = after the outage/);
      await poll(() => text(page, "#data")).toBe("after the outage");
    } finally {
      await page.close();
      await proxy.close();
    }
  });
});

describe.skipIf(missing)("the console against a server that needs a token", () => {
  const TOKEN = `token-${crypto.randomUUID()}`;
  let guarded: LocalServer | undefined;

  beforeAll(async () => {
    guarded = await startLocalServer({ env: { EDGEKEEPER_TOKEN: TOKEN } });
  });

  afterAll(async () => {
    await guarded?.stop();
  });

  it("connects with the token given in its settings, kept in the tab's sessionStorage only", async () => {
    const page = await chrome!.context.newPage();
    try {
      await page.goto(`${guarded!.base}/ui/#/with-token`);
      expect(await text(page, "#state")).not.toBe("connected");
      await page.locator("#settings summary").click();
      await page.locator("#settings-namespace").fill("tokened");
      await page.locator("#settings-token").fill(TOKEN);
      await page.locator("#settings-form button").click();

      await poll(() => text(page, "#state")).toBe("connected");
      expect(await text(page, "#namespace")).toBe("tokened");
      await poll(() => page.locator("#node-missing").isVisible()).toBe(true);
      await page.locator("#create-missing").click();
      await poll(() => page.locator("#node-present").isVisible()).toBe(true);
      // The HTTP routes get the token too (the mount table needs the admin right).
      await poll(() => text(page, "#mounts table")).toContain("/root");

      const read = await fetch(`${guarded!.base}/v1/znodes/with-token`, { headers: { Authorization: `Bearer ${TOKEN}`, "X-Edgekeeper-Namespace": "tokened" } });
      expect(read.status).toBe(200);
      const stored = await page.evaluate<{ session: string | null; local: number }>(
        "({ session: sessionStorage.getItem('edgekeeper.console.token'), local: localStorage.length })",
      );
      expect(stored).toEqual({ session: TOKEN, local: 0 });
      expect(page.url()).not.toContain(TOKEN);
    } finally {
      await page.close();
    }
  });
});
