#!/usr/bin/env node
/**
 * `npx edgekeeper <command>`: the package's one binary. Each subcommand lives in a
 * file of its own under bridge/cli/ and exports `main(argv)`; this only dispatches.
 * In a clone of the repository it runs from these sources with Node 24's type stripping;
 * installed from npm, compiled (see bin/edgekeeper.js).
 */
import { packageVersion } from "./version.ts";

interface Command {
  summary: string;
  run(argv: string[]): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  proxy: {
    summary: "the ZooKeeper wire-protocol bridge alone, in front of a deployed Worker",
    run: async (argv) => (await import("./proxy.ts")).main(argv),
  },
  snapshot: {
    summary: "save a namespace to a file, restore one into an empty namespace, or inspect a file",
    run: async (argv) => (await import("./snapshot.ts")).main(argv),
  },
  shell: {
    summary: "a zkCli.sh-compatible shell on the HTTP/WebSocket API (through the TypeScript client)",
    run: async (argv) => (await import("./shell.ts")).main(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `Usage: npx edgekeeper <command> [options]\n\nCommands:\n${lines.join("\n")}\n\n\`npx edgekeeper <command> --help\` describes each; \`npx edgekeeper --version\` prints the version.\nThe server itself runs from a clone of the repository: \`npm start\`.`;
}

const [name, ...argv] = process.argv.slice(2);
if (name === undefined || name === "-h" || name === "--help" || name === "help") {
  console.log(usage());
  process.exit(name === undefined ? 1 : 0);
}
// Every command answers --version the same way, before its own options are read.
if (name === "--version" || argv.includes("--version")) {
  console.log(packageVersion());
  process.exit(0);
}
const command = COMMANDS[name];
if (!command) {
  console.error(`edgekeeper: unknown command "${name}"\n\n${usage()}`);
  process.exit(1);
}
command.run(argv).catch((error: unknown) => {
  console.error(`edgekeeper ${name}:`, error);
  process.exit(1);
});
