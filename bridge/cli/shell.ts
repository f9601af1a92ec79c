/**
 * `npx edgekeeper shell`: zkCli.sh on the TypeScript client. With a command after
 * the options it runs that one command and exits with its code; otherwise it reads
 * commands from stdin (a prompt, history and tab completion on a terminal).
 */
import { createInterface } from "node:readline";
import { completer } from "./shell-complete.ts";
import { COMMAND_NAMES, Shell } from "./shell-session.ts";

export const SHELL_USAGE = `Usage: npx edgekeeper shell [-server host:port|url] [-timeout ms] [-namespace name] [cmd args...]

A zkCli.sh-compatible shell on edgekeeper's HTTP/WebSocket API.

Options:
  -server S       host:port, a URL (http://, https://, ws://, wss://), or a comma-separated
                  list of them (env EDGEKEEPER_URL; default 127.0.0.1:8787, npm start's)
  -timeout MS     session timeout asked for (default 30000)
  -namespace N    the tenant (env EDGEKEEPER_NAMESPACE; default "default")
  -token T        bearer token of a deployed Worker (env EDGEKEEPER_TOKEN)
  -h, --help      this text

With "cmd args" it runs that one command and exits (0, 1 if it failed, 127 if the
command is unknown), as zkCli.sh does. Type "help" in the shell for the commands.
`;

interface ShellArgs {
  server: string;
  timeoutMs: number;
  namespace: string | undefined;
  token: string | undefined;
  command: string[];
}

/** zkCli's option rules: known options first; the first word not starting with "-" begins the command. */
export function parseShellArgs(argv: readonly string[]): ShellArgs | "help" | { error: string } {
  const parsed: ShellArgs = {
    server: process.env.EDGEKEEPER_URL || "127.0.0.1:8787",
    timeoutMs: 30_000,
    namespace: process.env.EDGEKEEPER_NAMESPACE || undefined,
    token: process.env.EDGEKEEPER_TOKEN || undefined,
    command: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i]!;
    if (opt === "-h" || opt === "--help" || opt === "-help") return "help";
    if (!opt.startsWith("-")) {
      parsed.command = argv.slice(i);
      break;
    }
    const takesValue = ["-server", "-timeout", "-namespace", "-token", "-client-configuration"].includes(opt);
    if (!takesValue) continue; // zkCli ignores options it does not know (-r, -waitforconnection)
    const value = argv[++i];
    if (value === undefined) return { error: `Error: no argument found for option ${opt}` };
    if (opt === "-server") parsed.server = value;
    else if (opt === "-timeout") parsed.timeoutMs = Number(value);
    else if (opt === "-namespace") parsed.namespace = value;
    else if (opt === "-token") parsed.token = value;
  }
  if (!Number.isInteger(parsed.timeoutMs) || parsed.timeoutMs <= 0) return { error: "Error: -timeout needs a positive number of milliseconds" };
  return parsed;
}

const write = (stream: NodeJS.WriteStream) => (line: string) => void stream.write(`${line}\n`);

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseShellArgs(argv);
  if (args === "help") {
    process.stdout.write(SHELL_USAGE);
    return;
  }
  if ("error" in args) {
    process.stderr.write(`${args.error}\n${SHELL_USAGE}`);
    process.exit(2);
  }
  const exit = (code: number) => process.exit(code);
  const shell = new Shell({
    server: args.server,
    sessionTimeoutMs: args.timeoutMs,
    namespace: args.namespace,
    token: args.token,
    io: { out: write(process.stdout), err: write(process.stderr) },
    exit,
  });
  shell.startConnect(args.server, true);

  if (args.command.length > 0) {
    await shell.processCmd(args.command);
    await shell.closeQuietly();
    exit(shell.exitCode || (shell.connectFailed ? 1 : 0));
  }

  const tty = process.stdin.isTTY === true;
  process.stdout.write("Welcome to ZooKeeper!\n");
  process.stdout.write(`JLine support is ${tty ? "enabled" : "disabled"}\n`);
  const complete = completer(COMMAND_NAMES, async (path) => (shell.zk ? (await shell.zk.getChildren(path)).children : []));
  const rl = createInterface({
    input: process.stdin,
    output: tty ? process.stdout : undefined,
    terminal: tty,
    historySize: 1000,
    completer: tty ? (line: string, done: (err: Error | null, result: [string[], string]) => void) => void complete(line).then((r) => done(null, r), () => done(null, [[], line])) : undefined,
  });
  const prompt = () => {
    if (!tty) return;
    rl.setPrompt(shell.prompt());
    rl.prompt();
  };
  rl.on("SIGINT", () => {
    void shell.closeQuietly().then(() => exit(shell.exitCode));
  });
  prompt();
  for await (const line of rl) {
    await shell.executeLine(line);
    prompt();
  }
  await shell.closeQuietly();
  exit(shell.exitCode);
}
