/**
 * The namespace as a tree: each node's children are read when it is first expanded
 * (never the whole tree up front), and read again when a watch event says a child
 * came or went. A node's row links to its deep link (`#/path`).
 */
import { type KeeperClient, isKeeperError } from "edgekeeper/client";
import { describe, make } from "./dom.ts";
import { ancestorsOf, childPath, hashOf, nameOf, parentOf } from "./paths.ts";

/** Children shown at once under one node; "show more" adds as many again. */
const CHILDREN_PER_PAGE = 200;

interface Entry {
  item: HTMLLIElement;
  toggle: HTMLButtonElement;
  link: HTMLAnchorElement;
  list: HTMLUListElement | undefined;
}

export class TreeView {
  readonly #entries = new Map<string, Entry>();
  #selected: string | undefined;
  /** Mount point -> shard, from the last mount table read (empty without the admin right). */
  #mounts = new Map<string, string>();

  readonly client: KeeperClient;
  readonly onError: (text: string) => void;

  constructor(container: HTMLElement, client: KeeperClient, onError: (text: string) => void) {
    this.client = client;
    this.onError = onError;
    const top = make("ul");
    top.append(this.#row("/", true).item);
    container.replaceChildren(top);
  }

  /** Expands every ancestor of `path` and marks it as the node shown. */
  async reveal(path: string): Promise<void> {
    for (const ancestor of ancestorsOf(parentOf(path))) {
      const entry = this.#entries.get(ancestor);
      if (!entry) break;
      if (!entry.list) await this.#expand(ancestor);
    }
    if (path === "/" && !this.#entries.get("/")!.list) await this.#expand("/");
    this.#select(path);
  }

  /** Marks each mount point below / with its shard. */
  markMounts(mounts: readonly { prefix: string; shard: string }[]): void {
    this.#mounts = new Map(mounts.filter(({ prefix }) => prefix !== "/").map(({ prefix, shard }) => [prefix, shard]));
    for (const [path, entry] of this.#entries) this.#markMount(path, entry);
  }

  #markMount(path: string, entry: Entry): void {
    entry.item.querySelector(":scope > .row > .shard")?.remove();
    const shard = this.#mounts.get(path);
    if (shard !== undefined) entry.link.after(make("span", `shard ${shard}`, { class: "shard" }));
  }

  /** A child of `parent` was created or deleted: list it again, if it is open. */
  async childrenChanged(parent: string): Promise<void> {
    if (this.#entries.get(parent)?.list) await this.#expand(parent);
  }

  #select(path: string): void {
    if (this.#selected) this.#entries.get(this.#selected)?.link.removeAttribute("aria-current");
    this.#selected = path;
    this.#entries.get(path)?.link.setAttribute("aria-current", "true");
  }

  #row(path: string, hasChildren: boolean, ephemeral = false): Entry {
    const item = make("li", "", { "data-path": path });
    const row = make("div", "", { class: "row" });
    const toggle = make("button", "▸", { type: "button", class: "toggle", "aria-expanded": "false", "aria-label": `expand ${path}` });
    toggle.disabled = !hasChildren;
    const link = make("a", nameOf(path), { href: hashOf(path) });
    if (ephemeral) link.classList.add("ephemeral");
    toggle.addEventListener("click", () => {
      const run = this.#entries.get(path)?.list ? Promise.resolve(this.#collapse(path)) : this.#expand(path);
      run.catch((error: unknown) => this.onError(`listing ${path}: ${describe(error)}`));
    });
    row.append(toggle, link);
    item.append(row);
    const entry: Entry = { item, toggle, link, list: undefined };
    this.#entries.set(path, entry);
    this.#markMount(path, entry);
    if (path === this.#selected) link.setAttribute("aria-current", "true");
    return entry;
  }

  #collapse(path: string): void {
    const entry = this.#entries.get(path)!;
    for (const known of [...this.#entries.keys()]) if (known !== path && known.startsWith(path === "/" ? "/" : `${path}/`)) this.#entries.delete(known);
    entry.list?.remove();
    entry.list = undefined;
    entry.toggle.textContent = "▸";
    entry.toggle.setAttribute("aria-expanded", "false");
  }

  /** Reads the children of `path` and their Stats (in one frame), and lists them. */
  async #expand(path: string): Promise<void> {
    let names: string[];
    try {
      names = (await this.client.getChildren(path)).children.sort();
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return; // gone: its parent's listing drops it
      throw error;
    }
    const stats = await Promise.all(names.map((name) => this.client.exists(childPath(path, name)).catch(() => null)));
    const entry = this.#entries.get(path);
    if (!entry) return; // collapsed meanwhile
    const below = path === "/" ? "/" : `${path}/`;
    const wasOpen = [...this.#entries].filter(([known, { list }]) => list && known.startsWith(below)).map(([known]) => known);
    if (entry.list) this.#collapse(path);
    const list = make("ul");
    entry.list = list;
    entry.item.append(list);
    entry.toggle.textContent = "▾";
    entry.toggle.setAttribute("aria-expanded", "true");
    entry.toggle.disabled = false;
    const children = names.map((name, i) => ({ path: childPath(path, name), stat: stats[i] }));
    const showPage = (from: number) => {
      for (const child of children.slice(from, from + CHILDREN_PER_PAGE)) {
        const hasChildren = (child.stat?.numChildren ?? 0) > 0;
        list.append(this.#row(child.path, hasChildren, (child.stat?.ephemeralOwner ?? 0) !== 0).item);
      }
      const shown = Math.min(from + CHILDREN_PER_PAGE, children.length);
      if (shown < children.length) {
        const more = make("button", `show more (${shown} of ${children.length} shown)`, { type: "button", class: "more" });
        more.addEventListener("click", () => {
          more.remove();
          showPage(shown);
        });
        list.append(more);
      }
    };
    showPage(0);
    // Keep open what was open below it.
    for (const open of wasOpen) if (this.#entries.has(open)) await this.#expand(open);
  }
}
