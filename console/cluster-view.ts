/**
 * Sessions and shards: this console's own session, its ephemeral nodes and watch,
 * and the namespace's mount table (which subtree is on which shard). The mount
 * table needs the admin right; without it the view says so.
 */
import type { KeeperClient } from "edgekeeper/client";
import { describe, make } from "./dom.ts";
import { hex } from "./format.ts";
import { hashOf } from "./paths.ts";
import { type Settings, getJson } from "./settings.ts";

interface MountTable {
  version: number;
  mounts: { prefix: string; shard: string }[];
}

/** A table with a header row; cells are text or elements. */
function table(headings: string[], rows: (string | HTMLElement)[][]): HTMLTableElement {
  const made = make("table");
  const head = made.createTHead().insertRow();
  for (const heading of headings) head.append(make("th", heading));
  const body = made.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    for (const cell of cells) row.insertCell().append(cell);
  }
  return made;
}

const refreshButton = (run: () => void) => {
  const button = make("button", "Refresh", { type: "button" });
  button.addEventListener("click", run);
  return button;
};

export class ClusterView {
  readonly client: KeeperClient;
  readonly settings: Settings;
  readonly sessions: HTMLElement;
  readonly mounts: HTMLElement;

  constructor(client: KeeperClient, settings: Settings, sessions: HTMLElement, mounts: HTMLElement) {
    this.client = client;
    this.settings = settings;
    this.sessions = sessions;
    this.mounts = mounts;
  }

  async refresh(): Promise<void> {
    await Promise.all([this.#showSessions(), this.#showMounts()]);
  }

  async #showSessions(): Promise<void> {
    const parts: (HTMLElement | string)[] = [refreshButton(() => void this.#showSessions())];
    const own = this.client.sessionId === undefined ? "none" : `${hex(this.client.sessionId)}, timeout ${this.client.sessionTimeoutMs} ms`;
    parts.push(make("p", `This console's session: ${own}.`));
    try {
      const ephemerals = await this.client.getEphemerals("/");
      parts.push(ephemerals.length ? make("p", "Its ephemeral nodes:") : make("p", "It holds no ephemeral nodes."));
      if (ephemerals.length) parts.push(table(["path"], ephemerals.map((path) => [make("a", path, { href: hashOf(path) })])));
    } catch (error) {
      parts.push(make("p", `its ephemeral nodes: ${describe(error)}`, { class: "error" }));
    }
    parts.push(make("p", "Its watch: a recursive watch on / (the live events).", { class: "kind" }));
    this.sessions.replaceChildren(...parts);
  }

  async #showMounts(): Promise<void> {
    const parts: HTMLElement[] = [refreshButton(() => void this.#showMounts())];
    try {
      const { version, mounts } = await getJson<MountTable>(this.settings, "v1/admin/mounts");
      parts.push(
        make("p", `Mount table version ${version}: each subtree below lives on its shard.`),
        table(["prefix", "shard"], mounts.map(({ prefix, shard }) => [make("a", prefix, { href: hashOf(prefix) }), shard])),
      );
    } catch (error) {
      parts.push(make("p", describe(error), { class: "error" }));
    }
    this.mounts.replaceChildren(...parts);
  }
}
