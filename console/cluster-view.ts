/**
 * Sessions and shards: this console's own session, its ephemeral nodes and watch;
 * on request, every session of the namespace and its watch totals, from the admin
 * commands `cons` and `wchs` where the server has them; and the namespace's mount
 * table (which subtree is on which shard). The admin listings need the admin right;
 * without it the view says so.
 */
import { type KeeperClient, isKeeperError } from "edgekeeper/client";
import { describe, make } from "./dom.ts";
import { hex } from "./format.ts";
import { hashOf } from "./paths.ts";
import { type Settings, getJson } from "./settings.ts";

/** The parts of ZooKeeper's AdminServer answers (`cons`, `wchs`) the console shows. */
interface Connections {
  connections: { session_id: number; session_timeout: number; remote_socket_address?: string; last_cxid?: number }[];
  truncated?: boolean;
}
interface WatchSummary {
  num_connections: number;
  num_paths: number;
  num_total_watches: number;
}

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
  /** Told each mount table read, so that the tree can mark mount points. */
  readonly onMounts: (mounts: MountTable["mounts"]) => void;

  constructor(client: KeeperClient, settings: Settings, views: { sessions: HTMLElement; mounts: HTMLElement; onMounts: ClusterView["onMounts"] }) {
    this.client = client;
    this.settings = settings;
    this.sessions = views.sessions;
    this.mounts = views.mounts;
    this.onMounts = views.onMounts;
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
    const everyone = make("div", "", { id: "all-sessions" });
    const list = make("button", "List every session of the namespace", { type: "button", id: "list-sessions" });
    list.addEventListener("click", () => void this.#showAllSessions(everyone));
    parts.push(list, everyone);
    this.sessions.replaceChildren(...parts);
  }

  /** Asked for, not shown by default: it asks every session host, and needs the admin right. */
  async #showAllSessions(into: HTMLElement): Promise<void> {
    try {
      const [cons, wchs] = await Promise.all([
        getJson<Connections>(this.settings, "v1/admin/commands/cons"),
        getJson<WatchSummary>(this.settings, "v1/admin/commands/wchs"),
      ]);
      const rows = cons.connections.map((c) => [typeof c.session_id === "number" ? hex(c.session_id) : String(c.session_id), `${c.session_timeout} ms`, c.remote_socket_address ?? "", String(c.last_cxid ?? "")]);
      into.replaceChildren(
        table(["session", "timeout", "address", "last cxid"], rows),
        make("p", `${cons.connections.length} sessions${cons.truncated ? " (list cut at the server's limit)" : ""}; ${wchs.num_total_watches} watches on ${wchs.num_paths} paths, held by ${wchs.num_connections} sessions.`),
      );
    } catch (error) {
      // A server without the admin commands answers 404 (Unimplemented, or AdminServer's own body).
      const absent = isKeeperError(error, "Unimplemented") || (isKeeperError(error, "SystemError") && error.message.startsWith("404"));
      into.replaceChildren(make("p", absent ? "This server does not list the namespace's sessions (it lacks the admin commands cons and wchs)." : describe(error), { class: absent ? "kind" : "error" }));
    }
  }

  async #showMounts(): Promise<void> {
    const parts: HTMLElement[] = [refreshButton(() => void this.#showMounts())];
    try {
      const { version, mounts } = await getJson<MountTable>(this.settings, "v1/admin/mounts");
      this.onMounts(mounts);
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
