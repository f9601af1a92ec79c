/**
 * One node: its data (JSON, text or hex), Stat, ACL; edit with a version check,
 * create a child, delete it and its subtree after a confirmation; or, when there
 * is no node at the path, an empty state offering to create it.
 *
 * The view does not follow the node live: it says when the node changed, and the
 * user reloads. An edit thus always names the version the user saw, and a change by
 * someone else in between is refused with BadVersion instead of overwritten.
 */
import { type Acl, type CreateMode, type KeeperClient, type Stat, isKeeperError } from "edgekeeper/client";
import { deleteTree } from "./delete-tree.ts";
import { describe, element, make } from "./dom.ts";
import { STAT_ROWS, aclText, hex, permsText, renderValue } from "./format.ts";
import { childPath, hashOf, parentOf } from "./paths.ts";

interface Shown {
  path: string;
  stat: Stat;
}

const ui = {
  crumbs: element<HTMLHeadingElement>("crumbs"),
  message: element<HTMLParagraphElement>("node-message"),
  missing: element<HTMLDivElement>("node-missing"),
  missingPath: element<HTMLElement>("missing-path"),
  createMissing: element<HTMLButtonElement>("create-missing"),
  present: element<HTMLDivElement>("node-present"),
  dataKind: element<HTMLSpanElement>("data-kind"),
  data: element<HTMLPreElement>("data"),
  editForm: element<HTMLFormElement>("edit-form"),
  editVersion: element<HTMLSpanElement>("edit-version"),
  editValue: element<HTMLTextAreaElement>("edit-value"),
  stat: element<HTMLTableElement>("stat"),
  acl: element<HTMLTableElement>("acl"),
  createForm: element<HTMLFormElement>("create-form"),
  createName: element<HTMLInputElement>("create-name"),
  createMode: element<HTMLSelectElement>("create-mode"),
  createValue: element<HTMLTextAreaElement>("create-value"),
  deleteButton: element<HTMLButtonElement>("delete"),
  confirm: element<HTMLDivElement>("confirm-delete"),
  confirmText: element<HTMLParagraphElement>("confirm-text"),
  confirmYes: element<HTMLButtonElement>("confirm-yes"),
  confirmNo: element<HTMLButtonElement>("confirm-no"),
};

export class NodeView {
  #path = "/";
  #shown: Shown | undefined;
  /** Reads in flight: an event meanwhile is already in what they return. */
  #loading = 0;

  readonly client: KeeperClient;

  constructor(client: KeeperClient) {
    this.client = client;
    ui.editForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#save();
    });
    ui.createForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#createChild();
    });
    ui.createMissing.addEventListener("click", () => void this.#createMissing());
    ui.deleteButton.addEventListener("click", () => void this.#askDelete());
    ui.confirmNo.addEventListener("click", () => (ui.confirm.hidden = true));
    ui.confirmYes.addEventListener("click", () => void this.#delete());
  }

  get path(): string {
    return this.#path;
  }

  /** Reads `path` and shows it; `message` (say, what was just done) stays above it. */
  async show(path: string, message?: { text: string; error?: boolean }): Promise<void> {
    this.#path = path;
    this.#crumbs(path);
    ui.confirm.hidden = true;
    this.#say(undefined);
    let read: [{ data: Uint8Array; stat: Stat }, { acl: Acl[] }];
    this.#loading++;
    try {
      // Issued in one tick: one frame, one view of the node.
      read = await Promise.all([this.client.getData(path), this.client.getACL(path)]);
    } catch (error) {
      if (this.#path !== path) return;
      this.#say(message?.text, message?.error);
      this.#shown = undefined;
      ui.present.hidden = true;
      if (isKeeperError(error, "NoNode")) {
        ui.missingPath.textContent = path;
        ui.missing.hidden = false;
      } else {
        ui.missing.hidden = true;
        this.#say(`reading ${path}: ${describe(error)}`, true);
      }
      return;
    } finally {
      this.#loading--;
    }
    if (this.#path !== path) return; // another node was picked meanwhile
    this.#say(message?.text, message?.error);
    const [{ data, stat }, { acl }] = read;
    this.#shown = { path, stat };
    ui.missing.hidden = true;
    ui.present.hidden = false;
    const value = renderValue(data);
    ui.dataKind.textContent = { empty: "(empty)", json: `JSON, ${data.byteLength} bytes`, text: `text, ${data.byteLength} bytes`, binary: `binary, ${data.byteLength} bytes, in hex` }[value.kind];
    ui.data.textContent = value.text;
    ui.editVersion.textContent = String(stat.version);
    // The stored text as it is (not pretty-printed), so a save changes only what the user changed.
    ui.editValue.value = value.kind === "binary" ? "" : new TextDecoder().decode(data);
    ui.editForm.hidden = value.kind === "binary"; // a textarea cannot hold arbitrary bytes
    this.#statTable(stat);
    this.#aclTable(acl);
    ui.deleteButton.hidden = path === "/";
  }

  /** A watch event on the node shown: say so, without replacing what the user edits. */
  changed(path: string, type: string, zxid: number): void {
    // Events come before the replies to later reads: a read in flight includes this one.
    if (path !== this.#path || this.#loading > 0) return;
    if (!this.#shown) {
      if (!ui.missing.hidden && type === "NodeCreated") void this.show(path);
      return;
    }
    if (type === "NodeDataChanged" && zxid <= this.#shown.stat.mzxid) return;
    this.#say(`${type} at zxid ${hex(zxid)}: this node changed since it was shown. `, false, true);
  }

  /** Points the URL at `path` (the app then only moves the tree) and shows it with a message. */
  async #open(path: string, message: string): Promise<void> {
    location.hash = hashOf(path);
    await this.show(path, { text: message });
  }

  #crumbs(path: string): void {
    const parts: (HTMLAnchorElement | string)[] = [make("a", "/", { href: "#/" })];
    let at = "";
    for (const part of path.split("/").slice(1).filter(Boolean)) {
      at += `/${part}`;
      parts.push(parts.length > 1 ? "/" : "", make("a", part, { href: hashOf(at) }));
    }
    ui.crumbs.replaceChildren(...parts);
  }

  #say(text: string | undefined, error = false, withReload = false): void {
    ui.message.hidden = !text;
    ui.message.className = error ? "error" : withReload ? "warn" : "notice";
    ui.message.replaceChildren(text ?? "");
    if (withReload) {
      const reload = make("button", "Reload", { type: "button", id: "reload" });
      reload.addEventListener("click", () => void this.show(this.#path));
      ui.message.append(reload);
    }
  }

  #statTable(stat: Stat): void {
    const body = ui.stat.tBodies[0]!;
    body.replaceChildren();
    for (const [field, format] of STAT_ROWS) {
      const row = body.insertRow();
      row.insertCell().textContent = field;
      row.insertCell().textContent = format(stat[field]);
    }
    if (stat.ephemeralOwner !== 0) body.rows[8]!.cells[1]!.textContent += " (ephemeral of that session)";
  }

  #aclTable(acl: Acl[]): void {
    const body = ui.acl.tBodies[0]!;
    body.replaceChildren();
    for (const entry of acl) {
      const row = body.insertRow();
      row.insertCell().textContent = aclText(entry);
      row.insertCell().textContent = permsText(entry.perms);
    }
  }

  /** setData at the version shown: BadVersion if the node changed since. */
  async #save(): Promise<void> {
    const shown = this.#shown;
    if (!shown) return;
    try {
      const stat = await this.client.setData(shown.path, ui.editValue.value, shown.stat.version);
      await this.show(shown.path, { text: `saved: version ${stat.version}` });
    } catch (error) {
      const stale = isKeeperError(error, "BadVersion") ? ` The node changed since version ${shown.stat.version} was shown; your text is kept: reload to see the current value, then save again.` : "";
      this.#say(`not saved: ${describe(error)}.${stale}`, true, stale !== "");
    }
  }

  async #createChild(): Promise<void> {
    const path = childPath(this.#path, ui.createName.value.trim());
    try {
      const created = await this.client.create(path, ui.createValue.value, { mode: ui.createMode.value as CreateMode });
      ui.createName.value = "";
      ui.createValue.value = "";
      await this.#open(created, `created ${created}`);
    } catch (error) {
      this.#say(`not created: ${describe(error)}`, true);
    }
  }

  async #createMissing(): Promise<void> {
    const path = this.#path;
    try {
      await this.client.create(path, "");
      await this.show(path, { text: `created ${path}` });
    } catch (error) {
      this.#say(`not created: ${describe(error)}`, true);
    }
  }

  async #askDelete(): Promise<void> {
    const path = this.#path;
    try {
      const below = await this.client.getAllChildrenNumber(path);
      ui.confirmText.textContent = below
        ? `Delete ${path} and the ${below} node${below === 1 ? "" : "s"} below it? This cannot be undone.`
        : `Delete ${path}? This cannot be undone.`;
      ui.confirm.hidden = false;
      ui.confirmYes.focus();
    } catch (error) {
      this.#say(`cannot delete: ${describe(error)}`, true);
    }
  }

  async #delete(): Promise<void> {
    const path = this.#path;
    ui.confirm.hidden = true;
    try {
      await deleteTree(this.client, path);
      await this.#open(parentOf(path), `deleted ${path} and everything below it`);
    } catch (error) {
      this.#say(`delete stopped: ${describe(error)}`, true);
    }
  }
}
