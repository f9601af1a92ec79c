/**
 * A browser page that subscribes to a znode and shows it live: its value, Stat and
 * children, every watch event, and the connection state. It uses only the public
 * client (`edgekeeper/client`) and the DOM; `npm start` serves it at /ui/.
 *
 * The API is the page's own origin (the directory above /ui/). Options in the URL's
 * fragment, which never leaves the browser: `#token=...` for a deployed Worker's
 * bearer token, `#namespace=...` for a tenant other than `default`.
 */
import { type ConnectionState, type KeeperClient, type Stat, type WatchEvent, type WatchIterator, connect, isKeeperError } from "edgekeeper/client";

type Mode = "persistent" | "recursive";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found as T;
}

const ui = {
  state: element<HTMLSpanElement>("state"),
  session: element<HTMLSpanElement>("session"),
  subscribeForm: element<HTMLFormElement>("subscribe-form"),
  path: element<HTMLInputElement>("path"),
  mode: element<HTMLSelectElement>("mode"),
  watched: element<HTMLElement>("watched"),
  value: element<HTMLPreElement>("value"),
  setForm: element<HTMLFormElement>("set-form"),
  newValue: element<HTMLInputElement>("new-value"),
  deleteButton: element<HTMLButtonElement>("delete"),
  stat: element<HTMLTableElement>("stat"),
  children: element<HTMLParagraphElement>("children"),
  log: element<HTMLUListElement>("log"),
};

const MAX_LOG_ENTRIES = 200;
const hex = (n: number) => `0x${n.toString(16)}`;
const STAT_ROWS: [keyof Stat, (n: number) => string][] = [
  ["czxid", hex],
  ["mzxid", hex],
  ["pzxid", hex],
  ["ctime", (t) => new Date(t).toISOString()],
  ["mtime", (t) => new Date(t).toISOString()],
  ["version", String],
  ["cversion", String],
  ["aversion", String],
  ["ephemeralOwner", hex],
  ["dataLength", String],
  ["numChildren", String],
];

let zk: KeeperClient | undefined;
/** The subscription shown, if any; replaced by the next Subscribe. */
let current: { path: string; mode: Mode; stream: WatchIterator } | undefined;

/** Adds a line at the top of the log: newest first. */
function log(text: string, kind: "event" | "state" | "error" | "info" = "info"): void {
  const item = document.createElement("li");
  item.className = kind;
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date().toLocaleTimeString();
  item.append(time, text);
  ui.log.prepend(item);
  while (ui.log.children.length > MAX_LOG_ENTRIES) ui.log.lastElementChild?.remove();
}

function describe(error: unknown): string {
  if (isKeeperError(error)) return `${error.keeperName} (${error.code}): ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function showState(state: ConnectionState | "connecting" | "failed"): void {
  ui.state.textContent = state;
  ui.state.dataset.state = state;
  ui.session.textContent = zk?.sessionId !== undefined && state !== "failed" ? `session ${hex(zk.sessionId)}, timeout ${zk.sessionTimeoutMs} ms` : "";
}

/** Text if the bytes are UTF-8, else hex. */
function render(data: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return `0x${Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("")} (binary)`;
  }
}

function showNode(path: string, node: { data: Uint8Array; stat: Stat; children: string[] } | undefined): void {
  ui.watched.textContent = path;
  const body = ui.stat.tBodies[0]!;
  body.replaceChildren();
  if (!node) {
    ui.value.textContent = `no node at ${path}`;
    ui.value.classList.add("missing");
    ui.children.textContent = "";
    return;
  }
  ui.value.textContent = render(node.data);
  ui.value.classList.remove("missing");
  for (const [field, format] of STAT_ROWS) {
    const row = body.insertRow();
    row.insertCell().textContent = field;
    row.insertCell().textContent = format(node.stat[field]);
  }
  ui.children.textContent = node.children.length ? `children: ${node.children.join(", ")}` : "no children";
}

/** Reads the node again and shows it, unless another path was picked meanwhile. */
async function refresh(client: KeeperClient, path: string): Promise<void> {
  let node: { data: Uint8Array; stat: Stat; children: string[] } | undefined;
  try {
    // Issued in one tick, so they travel in one frame and see the same state.
    const [read, listed] = await Promise.all([client.getData(path), client.getChildren(path)]);
    node = { data: read.data, stat: read.stat, children: listed.children };
  } catch (error) {
    if (!isKeeperError(error, "NoNode")) {
      log(`reading ${path} failed: ${describe(error)}`, "error");
      return;
    }
  }
  if (current?.path === path) showNode(path, node);
}

function eventText(event: WatchEvent): string {
  const what = event.type === "NodeChildrenChanged" ? "NodeChildrenChanged (children)" : event.type;
  return `${what} ${event.path} at zxid ${hex(event.zxid)}`;
}

/**
 * Sets a watch on `path` (persistent: the node and its children; recursive: the whole
 * subtree), then shows the node and re-reads it after every event. The watch is set
 * before the first read, so no change between the two can be missed.
 */
async function subscribe(client: KeeperClient, path: string, mode: Mode): Promise<void> {
  void current?.stream.return(); // removes the previous watch
  const stream = client.watch(path, { mode });
  current = { path, mode, stream };
  ui.watched.textContent = path;
  try {
    await stream.ready;
  } catch (error) {
    log(`cannot watch ${path}: ${describe(error)}`, "error");
    if (current.stream === stream) current = undefined;
    return;
  }
  log(`watching ${path} (${mode})`);
  await refresh(client, path);
  try {
    for await (const event of stream) {
      log(eventText(event), "event");
      await refresh(client, path);
    }
  } catch (error) {
    // A lost session ends its watches; the next `connected` subscribes again.
    log(`watch on ${path} ended: ${describe(error)}`, "error");
  }
}

async function start(): Promise<void> {
  const options = new URLSearchParams(location.hash.slice(1));
  const server = new URL("../", location.href).href; // the API is the page's origin
  showState("connecting");
  for (;;) {
    try {
      zk = await connect({
        servers: [server],
        sessionTimeoutMs: 10_000,
        namespace: options.get("namespace") ?? undefined,
        token: options.get("token") ?? undefined,
      });
      break;
    } catch (error) {
      showState("failed");
      log(`cannot connect to ${server}: ${describe(error)}; retrying`, "error");
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
  const client = zk;
  showState("connected");
  log(`connected: session ${hex(client.sessionId!)}`, "state");
  let lost = false;
  client.on("state", (state) => {
    showState(state);
    log(`connection ${state}`, "state");
    if (state === "lost") lost = true;
    if (!current) return;
    // Resumed: watches are intact, but an event may have passed while the socket was down.
    if (state === "reconnected") void refresh(client, current.path);
    // A new session after `lost`: nothing of the old one exists, so watch again.
    if (state === "connected" && lost) {
      lost = false;
      void subscribe(client, current.path, current.mode);
    }
  });

  ui.subscribeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void subscribe(client, ui.path.value.trim(), ui.mode.value as Mode);
  });
  ui.setForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!current) return;
    const { path } = current;
    const value = ui.newValue.value;
    // Set if it exists, else create it (its parent must exist).
    const write = async () => {
      if (await client.exists(path)) await client.setData(path, value);
      else await client.create(path, value);
    };
    write().then(
      () => (ui.newValue.value = ""),
      (error: unknown) => log(`setting ${path} failed: ${describe(error)}`, "error"),
    );
  });
  ui.deleteButton.addEventListener("click", () => {
    if (!current) return;
    const { path } = current;
    client.delete(path).catch((error: unknown) => log(`deleting ${path} failed: ${describe(error)}`, "error"));
  });
  addEventListener("pagehide", () => void client.close());

  await subscribe(client, ui.path.value.trim(), ui.mode.value as Mode);
}

void start();
