/**
 * zkCli's ZooKeeperMain on our client: one session, the history, the commands the
 * shell answers itself (history, redo, connect, quit, printwatches, help), the
 * default watcher's printout, and exit codes (0, 1 for a failed command, 127 for
 * an unknown one).
 */
import { type ConnectionState, type KeeperClient, type WatchKind, connect } from "../../client/index.ts";
import { firesOnce } from "../../protocol/watch-matching.ts";
import { COMMANDS, type CommandContext, prepareCommand, runCommand } from "./shell-commands.ts";
import { CliError, cliErrorMessage, watcherLines } from "./shell-format.ts";
import { tokenize } from "./shell-parse.ts";

export interface ShellOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface ShellOptions {
  /** As given to -server: "host:port", a comma-separated list of them, or URLs. */
  server: string;
  sessionTimeoutMs: number;
  namespace?: string;
  token?: string;
  connectTimeoutMs?: number;
  io: ShellOutput;
  /** Called by quit with the exit code. */
  exit(code: number): void;
}

/** The commands the shell answers itself, with their usage, for the usage listing. */
const OWN_COMMANDS: Record<string, string> = {
  connect: "host:port",
  history: "",
  printwatches: "on|off",
  quit: "",
  redo: "cmdno",
};

/** Every command name, sorted as zkCli's TreeMap sorts them. */
export const COMMAND_NAMES: readonly string[] = [...Object.keys(COMMANDS), ...Object.keys(OWN_COMMANDS)].sort();

/** "host:port" becomes http://host:port; URLs stay as they are. */
export function serverUrls(server: string): string[] {
  return server
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`));
}

/** Java's ZooKeeper.States names, as zkCli's prompt shows them. */
const STATE_NAMES = { connecting: "CONNECTING", connected: "CONNECTED", suspended: "CONNECTING", closed: "CLOSED" } as const;

/** KeeperState names of the events zkCli's watcher prints for connection changes. */
const STATE_EVENTS: Partial<Record<ConnectionState, string>> = {
  connected: "SyncConnected",
  reconnected: "SyncConnected",
  suspended: "Disconnected",
  lost: "Expired",
  closed: "Closed",
};

const REMOVED_EVENT: Record<WatchKind, string> = {
  data: "DataWatchRemoved",
  child: "ChildWatchRemoved",
  persistent: "PersistentWatchRemoved",
  recursive: "PersistentWatchRemoved",
};

export class Shell {
  zk: KeeperClient | undefined;
  host: string;
  exitCode = 0;
  commandCount = 0;
  readonly history = new Map<number, string>();
  printWatches = true;
  /** Whether the last connect found no server. */
  connectFailed = false;
  private readonly options: ShellOptions;
  private readonly watches = new Set<string>();
  private lastEvent = "";
  private pending: Promise<boolean> = Promise.resolve(false);
  private connecting = false;

  constructor(options: ShellOptions) {
    this.options = options;
    this.host = options.server;
  }

  /** zkCli's prompt: "[zk: 127.0.0.1:8787(CONNECTED) 0] ". */
  prompt(): string {
    const state = this.zk?.state ?? (this.connecting ? "connecting" : "closed");
    return `[zk: ${this.host}(${STATE_NAMES[state]}) ${this.commandCount}] `;
  }

  /**
   * Closes any session and starts opening a new one, as zkCli does; the next
   * command that needs the session waits for it.
   */
  startConnect(host = this.host, announce = false): void {
    const previous = this.pending;
    this.connecting = true;
    // Only the first connection says so; zkCli's connect command does not.
    if (announce) this.options.io.out(`Connecting to ${host}`);
    this.pending = (async () => {
      await previous;
      if (this.zk && this.zk.state !== "closed") await this.zk.close();
      this.zk = undefined;
      this.host = host;
      this.watches.clear();
      const opened = await this.open(host);
      this.connecting = false;
      return opened;
    })();
  }

  /** Resolves once the connect under way has settled: true if a session is open. */
  connected(): Promise<boolean> {
    return this.pending;
  }

  private async open(host: string): Promise<boolean> {
    try {
      const zk = await connect({
        servers: serverUrls(host),
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        namespace: this.options.namespace,
        token: this.options.token,
        connectTimeoutMs: this.options.connectTimeoutMs,
      });
      this.zk = zk;
      this.printEvent("SyncConnected", "None", null);
      zk.on("state", (state) => {
        const name = STATE_EVENTS[state];
        if (name && this.zk === zk) this.printEvent(name, "None", null);
        if (state === "lost") this.watches.clear();
      });
      zk.on("watch", (ev) => {
        if (firesOnce(ev.kind)) this.watches.delete(`${ev.kind} ${ev.watchPath}`);
        // ZooKeeper calls a watcher once per event, even when it set several kinds of watch.
        const key = `${ev.type} ${ev.path} ${ev.zxid}`;
        if (key !== this.lastEvent) this.printEvent("SyncConnected", ev.type, ev.path);
        this.lastEvent = key;
      });
      return true;
    } catch (error) {
      this.options.io.err(`Unable to connect to ${host}: ${cliErrorMessage(error)}`);
      this.connectFailed = true;
      return false;
    }
  }

  /** Closes the session without printing its Closed event (command-line mode's exit). */
  async closeQuietly(): Promise<void> {
    this.printWatches = false;
    await this.pending;
    const zk = this.zk;
    this.zk = undefined;
    await zk?.close().catch(() => undefined);
  }

  /** One line of interactive input: numbered, kept in the history, run. */
  async executeLine(line: string): Promise<void> {
    if (line === "") return;
    this.history.set(this.commandCount, line);
    await this.processCmd(tokenize(line));
    this.commandCount++;
  }

  /** Runs one command's words; its failure goes to stderr and sets the exit code. */
  async processCmd(words: string[]): Promise<void> {
    try {
      await this.processZkCmd(words);
      this.exitCode = 0;
    } catch (error) {
      const cli = error instanceof CliError ? error : new CliError(cliErrorMessage(error));
      this.exitCode = cli.exitCode;
      this.options.io.err(cli.message);
    }
  }

  usage(): void {
    const { err } = this.options.io;
    err("ZooKeeper -server host:port cmd args");
    for (const name of COMMAND_NAMES) err(`\t${name} ${COMMANDS[name]?.usage ?? OWN_COMMANDS[name]}`);
  }

  private async processZkCmd(words: string[]): Promise<void> {
    const { out } = this.options.io;
    const [cmd, arg] = words;
    if (cmd === undefined) {
      this.usage();
      throw new CliError("No command entered");
    }
    if (cmd === "help") return this.usage();
    if (!COMMAND_NAMES.includes(cmd)) {
      this.usage();
      throw new CliError(`Command not found: Command not found ${cmd}`, 127);
    }
    if (cmd === "quit") {
      await this.pending;
      await this.zk?.close().catch(() => undefined);
      this.options.exit(this.exitCode);
      return;
    } else if (cmd === "redo" && arg !== undefined) {
      const index = /^\d+$/.test(arg) ? Number(arg) : -1;
      if (index < 0 || index >= this.commandCount) throw new CliError("Command index out of range");
      const line = this.history.get(index)!;
      const redone = tokenize(line);
      if (redone[0] === "redo") throw new CliError("No redoing redos");
      this.history.set(this.commandCount, line);
      await this.processCmd(redone);
    } else if (cmd === "history") {
      for (let i = Math.max(0, this.commandCount - 10); i <= this.commandCount; i++) out(`${i} - ${this.history.get(i)}`);
    } else if (cmd === "printwatches") {
      if (arg === undefined) out(`printwatches is ${this.printWatches ? "on" : "off"}`);
      else this.printWatches = arg === "on";
    } else if (cmd === "connect") {
      this.startConnect(arg ?? this.host);
      return;
    }
    // zkCli says "Not connected" before it parses; while connecting it parses first.
    if (!this.connecting && this.notConnected()) return out("Not connected");
    const parsed = COMMANDS[cmd] ? prepareCommand(cmd, words) : undefined;
    await this.pending;
    const zk = this.zk;
    if (!zk || this.notConnected()) return out("Not connected");
    if (parsed) await runCommand(this.context(zk), cmd, parsed);
  }

  private notConnected(): boolean {
    return !this.zk || this.zk.state === "closed";
  }

  private context(zk: KeeperClient): CommandContext {
    const { out, err } = this.options.io;
    return {
      zk,
      out,
      err,
      watchSet: (kind, path) => void this.watches.add(`${kind} ${path}`),
      watchesRemoved: (kinds, path) => {
        for (const kind of kinds) {
          if (this.watches.delete(`${kind} ${path}`)) this.printEvent("SyncConnected", REMOVED_EVENT[kind], path);
        }
      },
    };
  }

  private printEvent(state: string, type: string, path: string | null): void {
    if (this.printWatches) watcherLines(state, type, path).forEach((l) => this.options.io.out(l));
  }
}
