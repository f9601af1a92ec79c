/**
 * The shell's pieces without a server: zkCli's tokenizer and option rules, the
 * Stat and date printouts, path checks, and tab completion of commands and paths.
 */
import { expect, it } from "vitest";
import { completer } from "../../bridge/cli/shell-complete.ts";
import { parseShellArgs } from "../../bridge/cli/shell.ts";
import { aclLines, javaDate, parseAcl, pathError, statLines } from "../../bridge/cli/shell-format.ts";
import { parseArgs, tokenize } from "../../bridge/cli/shell-parse.ts";
import { COMMAND_NAMES, Shell, serverUrls } from "../../bridge/cli/shell-session.ts";

const tree: Record<string, string[]> = {
  "/": ["config", "consumers", "zookeeper"],
  "/config": ["db", "dns", "feature"],
};
const listChildren = async (path: string) => {
  const children = tree[path];
  if (!children) throw new Error(`NoNode ${path}`);
  return children;
};

it("completes a path from its parent's children, as zkCli's JLineZNodeCompleter does", async () => {
  const complete = completer(COMMAND_NAMES, listChildren);
  expect(await complete("get /con")).toEqual([["/config", "/consumers"], "/con"]);
  expect(await complete("get -s /config/d")).toEqual([["/config/db", "/config/dns"], "/config/d"]);
  expect(await complete("ls /config/")).toEqual([["/config/db", "/config/dns", "/config/feature"], "/config/"]);
  expect(await complete("ls /")).toEqual([["/config", "/consumers", "/zookeeper"], "/"]);
  expect(await complete("get /missing/x")).toEqual([[], "/missing/x"]);
  expect(await complete("set -v 3")).toEqual([[], "3"]);
});

it("completes command names in the first word", async () => {
  const complete = completer(COMMAND_NAMES, listChildren);
  expect(await complete("get")).toEqual([["get", "getAcl", "getAllChildrenNumber", "getEphemerals"], "get"]);
  expect(await complete("del")).toEqual([["delete", "deleteall"], "del"]);
  expect(await complete("xyz")).toEqual([[], "xyz"]);
});

it("splits a line as zkCli does: quotes group, and are dropped", () => {
  expect(tokenize(`create /a "hello world" world:anyone:r`)).toEqual(["create", "/a", "hello world", "world:anyone:r"]);
  expect(tokenize(`  set  /a 'x y'  `)).toEqual(["set", "/a", "x y"]);
  expect(tokenize("")).toEqual([]);
});

it("parses options as commons-cli does", () => {
  const spec = { s: false, e: false, v: true };
  expect(parseArgs(["create", "-s", "-e", "/a", "x"], spec)).toEqual({ args: ["create", "/a", "x"], options: new Map([["s", ""], ["e", ""]]) });
  expect(parseArgs(["set", "-se", "/a", "-v3"], spec).options).toEqual(new Map([["s", ""], ["e", ""], ["v", "3"]]));
  expect(parseArgs(["set", "/a", "-1"], spec).args).toEqual(["set", "/a", "-1"]);
  expect(() => parseArgs(["get", "-x", "/a"], spec)).toThrow("org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x");
  expect(() => parseArgs(["set", "/a", "-v"], spec)).toThrow("Missing argument for option: v");
});

it("prints a Stat as StatPrinter does, dates as java.util.Date.toString", () => {
  const tz = process.env.TZ;
  process.env.TZ = "UTC";
  try {
    expect(javaDate(0)).toBe("Thu Jan 01 00:00:00 UTC 1970");
    expect(javaDate(Date.UTC(2026, 10, 5, 9, 8, 7))).toBe("Thu Nov 05 09:08:07 UTC 2026");
    const stat = { czxid: 0x100000002, mzxid: 0x100000003, pzxid: 2, ctime: 0, mtime: 0, version: 1, cversion: 2, aversion: 3, ephemeralOwner: 0x300000001, dataLength: 5, numChildren: 4 };
    expect(statLines(stat)).toEqual([
      "cZxid = 0x100000002",
      "ctime = Thu Jan 01 00:00:00 UTC 1970",
      "mZxid = 0x100000003",
      "mtime = Thu Jan 01 00:00:00 UTC 1970",
      "pZxid = 0x2",
      "cversion = 2",
      "dataVersion = 1",
      "aclVersion = 3",
      "ephemeralOwner = 0x300000001",
      "dataLength = 5",
      "numChildren = 4",
    ]);
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

it("parses and prints ACLs as zkCli's AclParser and getAcl do", () => {
  const warnings: string[] = [];
  const acl = parseAcl("world:anyone:r,digest:u:hash=:cdrwa,foo,ip:10.0.0.1:rz", (w) => warnings.push(w));
  expect(acl).toEqual([
    { scheme: "world", id: "anyone", perms: 1 },
    { scheme: "digest", id: "u:hash=", perms: 31 },
    { scheme: "ip", id: "10.0.0.1", perms: 1 },
  ]);
  expect(warnings).toEqual(["foo does not have the form scheme:id:perm", "Unknown perm type: z"]);
  expect(aclLines(acl.slice(0, 2))).toEqual(["'world,'anyone", ": r", "'digest,'u:hash=", ": cdrwa"]);
});

it("checks paths with PathUtils.validatePath's words", () => {
  expect(pathError("/a/b")).toBeUndefined();
  expect(pathError("a")).toBe("Path must start with / character");
  expect(pathError("/a/")).toBe("Path must not end with / character");
  expect(pathError("/a/", true)).toBeUndefined();
  expect(pathError("/a//b")).toBe('Invalid path string "/a//b" caused by empty node name specified @3');
  expect(pathError("/a/../b")).toBe('Invalid path string "/a/../b" caused by relative paths not allowed @4');
});

it("shows zkCli's prompt and takes host:port or URLs for -server", async () => {
  const errors: string[] = [];
  const io = { out() {}, err: (line: string) => void errors.push(line) };
  const shell = new Shell({ server: "127.0.0.1:8787", sessionTimeoutMs: 30_000, connectTimeoutMs: 300, io, exit() {} });
  expect(shell.prompt()).toBe("[zk: 127.0.0.1:8787(CLOSED) 0] ");
  shell.startConnect("127.0.0.1:1");
  expect(shell.prompt()).toBe("[zk: 127.0.0.1:8787(CONNECTING) 0] ");
  expect(await shell.connected()).toBe(false); // nothing listens on port 1
  expect(errors).toEqual([expect.stringMatching(/^Unable to connect to 127\.0\.0\.1:1: /)]);
  expect(shell.prompt()).toBe("[zk: 127.0.0.1:1(CLOSED) 0] ");
  expect(serverUrls("127.0.0.1:8787")).toEqual(["http://127.0.0.1:8787"]);
  expect(serverUrls("a:1,b:2")).toEqual(["http://a:1", "http://b:2"]);
  expect(serverUrls("https://edgekeeper.example.workers.dev/prefix")).toEqual(["https://edgekeeper.example.workers.dev/prefix"]);
});

it("takes its server from -server, else EDGEKEEPER_URL (the setting the examples use), else npm start's", () => {
  const saved = process.env.EDGEKEEPER_URL;
  try {
    delete process.env.EDGEKEEPER_URL;
    expect(parseShellArgs(["ls", "/"])).toMatchObject({ server: "127.0.0.1:8787" });
    process.env.EDGEKEEPER_URL = "https://keeper.example.com";
    expect(parseShellArgs(["ls", "/"])).toMatchObject({ server: "https://keeper.example.com" });
    expect(parseShellArgs(["-server", "127.0.0.1:9999", "ls", "/"])).toMatchObject({ server: "127.0.0.1:9999" });
  } finally {
    if (saved === undefined) delete process.env.EDGEKEEPER_URL;
    else process.env.EDGEKEEPER_URL = saved;
  }
});
