/**
 * The web console at /ui/: browse a namespace's tree, read and change nodes, and
 * watch changes as they happen, with the public client (`edgekeeper/client`) over
 * one WebSocket session and the HTTP API for admin listings, on the page's own
 * origin. `#/config/db` in the URL opens that node.
 */
import { type ConnectionState, type KeeperClient, type WatchEvent, connect } from "edgekeeper/client";
import { ClusterView } from "./cluster-view.ts";
import { describe, element } from "./dom.ts";
import { EventLog } from "./event-log.ts";
import { hex } from "./format.ts";
import { NodeView } from "./node-view.ts";
import { parentOf, pathOfHash } from "./paths.ts";
import { type Settings, loadSettings, saveSettings } from "./settings.ts";
import { TreeView } from "./tree-view.ts";

/** Between attempts to connect, while the server is unreachable. */
const RETRY_MS = 3000;

const ui = {
  namespace: element<HTMLElement>("namespace"),
  state: element<HTMLSpanElement>("state"),
  session: element<HTMLSpanElement>("session"),
  connectError: element<HTMLParagraphElement>("connect-error"),
  settings: element<HTMLDetailsElement>("settings"),
  settingsForm: element<HTMLFormElement>("settings-form"),
  settingsNamespace: element<HTMLInputElement>("settings-namespace"),
  settingsToken: element<HTMLInputElement>("settings-token"),
};

const events = new EventLog(element<HTMLUListElement>("events"));

function showState(state: ConnectionState | "connecting" | "failed", client?: KeeperClient): void {
  ui.state.textContent = state;
  ui.state.dataset.state = state;
  const id = client?.sessionId;
  ui.session.textContent = id !== undefined && state !== "failed" ? `session ${hex(id)}, timeout ${client!.sessionTimeoutMs} ms` : "";
}

/** Settings are changed by reloading with the new ones: nothing of the old session lingers. */
function setUpSettingsForm(settings: Settings): void {
  ui.namespace.textContent = settings.namespace;
  ui.settingsNamespace.value = settings.namespace;
  ui.settingsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    saveSettings(ui.settingsNamespace.value, ui.settingsToken.value);
    location.reload();
  });
}

async function connectUntilUp(settings: Settings): Promise<KeeperClient> {
  for (;;) {
    try {
      const options = { servers: [settings.server], sessionTimeoutMs: 10_000, namespace: settings.namespace };
      const client = await connect(settings.token ? { ...options, token: settings.token } : options);
      ui.connectError.hidden = true;
      return client;
    } catch (error) {
      showState("failed");
      ui.connectError.textContent = `Cannot connect to ${settings.server} (namespace ${settings.namespace}): ${describe(error)}. Retrying; a deployed server needs its token (Connection settings).`;
      ui.connectError.hidden = false;
      ui.settings.open = true;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

async function start(): Promise<void> {
  const settings = loadSettings();
  setUpSettingsForm(settings);
  showState("connecting");
  const client = await connectUntilUp(settings);
  showState("connected", client);
  addEventListener("pagehide", () => void client.close());

  const tree = new TreeView(element("tree"), client, (text) => events.add(text, "error"));
  const node = new NodeView(client);
  const cluster = new ClusterView(client, settings, { sessions: element("sessions"), mounts: element("mounts"), onMounts: (mounts) => tree.markMounts(mounts) });

  const open = () => {
    const path = pathOfHash(location.hash);
    if (path !== node.path || !location.hash) void node.show(path);
    void tree.reveal(path);
  };
  addEventListener("hashchange", open);
  open();
  void cluster.refresh();

  const onEvent = (event: WatchEvent) => {
    if (event.type === "NodeCreated" || event.type === "NodeDeleted") void tree.childrenChanged(parentOf(event.path));
    node.changed(event.path, event.type, event.zxid);
  };
  let following = false;
  const follow = () => {
    if (following) return;
    following = true;
    void events.follow(client, onEvent).finally(() => (following = false));
  };
  follow();

  let lost = false;
  client.on("state", (state) => {
    showState(state, client);
    events.add(`connection ${state}`, "state");
    if (state === "lost") lost = true;
    // Connected again: the live log's watch may have ended meanwhile, with the session
    // (`lost`: its watches are gone) or because the drop cut the request that set it.
    if (state === "connected" || state === "reconnected") follow();
    if (state === "connected" && lost) {
      lost = false;
      void cluster.refresh();
    }
  });
}

void start();
