/**
 * The live log: a recursive watch on / (every change in the namespace the session
 * may read), each event shown with the value read right after it, newest first.
 */
import { type KeeperClient, type WatchEvent, isKeeperError } from "edgekeeper/client";
import { describe, make } from "./dom.ts";
import { hex, isoTime, valueSummary } from "./format.ts";

/** Lines kept; older ones drop off the bottom. */
const MAX_ENTRIES = 200;

export class EventLog {
  readonly list: HTMLUListElement;

  constructor(list: HTMLUListElement) {
    this.list = list;
  }

  add(text: string, kind: "event" | "state" | "error", value?: string): void {
    const item = make("li", "", { class: kind });
    item.append(make("span", isoTime(Date.now()), { class: "time" }), text);
    if (value !== undefined) item.append(" ", make("span", `= ${value}`, { class: "value" }));
    this.list.prepend(item);
    while (this.list.children.length > MAX_ENTRIES) this.list.lastElementChild?.remove();
  }

  /**
   * Follows every change until the watch ends (the session is lost or closed),
   * calling `onEvent` for each after logging it.
   */
  async follow(client: KeeperClient, onEvent: (event: WatchEvent) => void): Promise<void> {
    const stream = client.watch("/", { mode: "recursive" });
    try {
      await stream.ready;
      for await (const event of stream) {
        this.add(`${event.type} ${event.path} at zxid ${hex(event.zxid)}`, "event", await this.#valueAfter(client, event));
        onEvent(event);
      }
    } catch (error) {
      this.add(`watch on / ended: ${describe(error)}`, "error");
    }
  }

  async #valueAfter(client: KeeperClient, event: WatchEvent): Promise<string | undefined> {
    if (event.type !== "NodeCreated" && event.type !== "NodeDataChanged") return undefined;
    try {
      return valueSummary((await client.getData(event.path)).data);
    } catch (error) {
      return isKeeperError(error, "NoNode") ? "(deleted since)" : `(unreadable: ${describe(error)})`;
    }
  }
}
