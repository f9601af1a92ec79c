/** Small DOM helpers shared by the console's views. */
import { isKeeperError } from "edgekeeper/client";

/** The element index.html has under `id`; a missing one is a bug in the page. */
export function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found as T;
}

/** An error as users read it: ZooKeeper's name and code first. */
export function describe(error: unknown): string {
  if (isKeeperError(error)) return `${error.keeperName} (${error.code}): ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** A new element with text and attributes. */
export function make<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  made.textContent = text;
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}
