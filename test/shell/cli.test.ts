/**
 * `npx edgekeeper shell` against `npm start`, beside Debian's zkCli.sh against a
 * real ZooKeeper 3.8: the same configuration session, command by command in
 * command-line mode and as one stdin script in interactive mode, must print the
 * same (times, zxids and session ids normalised) and exit with the same codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../harness/local-server.ts";
import { type Run, zkCli, zkCliUnavailable } from "../harness/zk-clients.ts";
import { zookeeperUnavailable } from "../harness/zookeeper/launch.ts";
import { type RunningZookeeper, startZookeeper } from "../harness/zookeeper/reference.ts";
import { CONNECTED_BLOCK, normalise, shell, withoutConnectedBlock } from "./zkcli.ts";

let server: LocalServer;
let ours: string;

beforeAll(async () => {
  server = await startLocalServer();
  ours = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.stop();
});

it("runs one command from the command line and exits with its code", async () => {
  const created = await shell(ours, ["create", "/cli", "hello"]);
  expect(created).toEqual({ stdout: ["Connecting to " + ours, ...CONNECTED_BLOCK, ""].join("\n"), stderr: "Created /cli\n", code: 0 });
  const read = await shell(`http://${ours}`, ["get", "/cli"]);
  expect(read.stdout.split("\n").slice(-2)).toEqual(["hello", ""]);
  expect(await shell(ours, ["get", "/nope"])).toMatchObject({ stderr: "Node does not exist: /nope\n", code: 1 });
  expect(await shell(ours, ["bogus"])).toMatchObject({ code: 127 });
  expect((await shell(ours, ["--help"])).stdout).toContain("Usage: npx edgekeeper shell");
});

/**
 * Output lines without the watcher's lines, and its event lines sorted. zkCli's watcher
 * prints "WATCHER::" and the event each as "\n" + text in a println of its own, so
 * each comes as a blank line and the text, and the main thread's lines may fall between.
 */
function splitEvents(lines: string[]): { stdout: string[]; events: string[] } {
  const events: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const next = lines[i + 1];
    if (lines[i] === "" && next !== undefined && (next === "WATCHER::" || next.startsWith("WatchedEvent "))) {
      if (next !== "WATCHER::") events.push(next);
      i += 1;
    } else {
      rest.push(lines[i]!);
    }
  }
  return { stdout: rest, events: events.sort() };
}

/** A configuration session: each entry is one command line. */
const SESSION: string[][] = [
  ["create", "/cfg"],
  ["create", "/cfg/db", "jdbc:postgresql://db:5432/app"],
  ["get", "/cfg"],
  ["get", "-s", "/cfg/db"],
  ["set", "/cfg/db", "jdbc:postgresql://db2:5432/app"],
  ["set", "-s", "-v", "1", "/cfg/db", "v3"],
  ["set", "-v", "1", "/cfg/db", "stale"],
  ["get", "/cfg/db"],
  ["create", "/cfg/db", "again"],
  ["create", "/cfg/feature", "on off"],
  ["create", "-s", "/cfg/job-", "x"],
  ["create", "-s", "/cfg/job-", "y"],
  ["create", "/cfg/missing/child"],
  ["ls", "/cfg"],
  ["ls", "-s", "/cfg"],
  ["ls", "-R", "/cfg"],
  ["stat", "/cfg/db"],
  ["stat", "/cfg/none"],
  ["get", "/cfg/none"],
  ["ls", "/cfg/none"],
  ["getAcl", "/cfg"],
  ["getAcl", "-s", "/cfg/db"],
  ["create", "/cfg/locked", "x", "world:anyone:r"],
  ["getAcl", "/cfg/locked"],
  ["set", "/cfg/locked", "y"],
  ["setAcl", "-s", "/cfg/locked", "world:anyone:cdrwa"],
  ["set", "-v", "0", "/cfg/locked", "y"],
  ["getAllChildrenNumber", "/cfg"],
  ["sync", "/cfg"],
  ["getEphemerals", "/cfg"],
  ["delete", "/cfg"],
  ["delete", "-v", "7", "/cfg/db"],
  ["delete", "/cfg/db"],
  ["get", "cfg"],
  ["get", "-x", "/cfg"],
  ["get"],
  ["bogus"],
  ["deleteall", "/cfg"],
  ["ls", "/cfg"],
];

/** What to compare of one run: the usage listing names commands we do not have (config, quotas, ...), so it is left out. */
function comparable(result: Run) {
  const noUsage = (lines: string[]) => lines.filter((l) => !l.startsWith("\t") && !l.startsWith("ZooKeeper -server"));
  return {
    stdout: withoutConnectedBlock(normalise(result.stdout)),
    stderr: noUsage(normalise(result.stderr)),
    code: result.code,
  };
}

const skipZk = (await zookeeperUnavailable()) ?? zkCliUnavailable();
if (skipZk) console.warn(`shell comparison with zkCli.sh skipped: ${skipZk}`);

describe.skipIf(skipZk !== undefined)("the same session through zkCli.sh against ZooKeeper 3.8", () => {
  let zk: RunningZookeeper;

  beforeAll(async () => {
    zk = await startZookeeper();
  });

  afterAll(async () => {
    await zk?.stop();
  });

  it("prints what zkCli.sh prints, command by command", async () => {
    const differences: string[] = [];
    for (const command of SESSION) {
      const theirs = comparable(await zkCli(zk.address, command));
      const mine = comparable(await shell(ours, command));
      try {
        expect(mine).toEqual(theirs);
      } catch {
        differences.push(`$ ${command.join(" ")}\nzkCli.sh: ${JSON.stringify(theirs)}\nshell:    ${JSON.stringify(mine)}`);
      }
    }
    expect(differences.join("\n\n")).toBe("");
  });

  it("runs a stdin script as zkCli.sh does without a terminal", async () => {
    const script = [
      "create /inter first",
      "get -w /inter",
      "set /inter second",
      "create /inter/a",
      "ls -w /inter",
      "create /inter/b",
      "create /inter/c",
      "stat -w /inter/none",
      "create /inter/none",
      "history",
      "redo 2",
      "redo 99",
      "addWatch /inter",
      "set /inter third",
      "create /inter/d",
      "removewatches /inter",
      "removewatches /inter",
      "get /inter",
      "ls -R /inter",
      "   ",
      "deleteall /inter",
      "close",
      "ls /",
      "connect SERVER",
      "ls /inter",
      "quit",
      "",
    ];
    const input = (server: string) => script.join("\n").replace("connect SERVER", `connect ${server}`);
    const theirs = await zkCli(zk.address, [], input(zk.address));
    const mine = await shell(ours, [], input(ours));
    // zkCli.sh prints watch events from another thread, so where they fall among the
    // commands' output varies from run to run: compare the events as a set, the rest in order.
    const strip = (r: Run) => ({ ...comparable(r), ...splitEvents(normalise(r.stdout)) });
    expect(strip(mine)).toEqual(strip(theirs));
    expect(mine.stdout).toContain("JLine support is disabled");
  });
});
