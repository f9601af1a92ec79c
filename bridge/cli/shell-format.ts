/**
 * zkCli.sh's output shapes, as ZooKeeper 3.8 prints them: StatPrinter, Java's
 * Date.toString and List.toString, WatchedEvent.toString, the ACL printout and
 * parser (AclParser), CliWrapperException's messages, PathUtils.validatePath.
 */
import type { Acl } from "../../protocol/acl.ts";
import { Perms, permsToString } from "../../protocol/acl.ts";
import { type KeeperErrorName, isKeeperError } from "../../protocol/errors.ts";
import type { Stat } from "../../protocol/stat.ts";

/** A failed command: its message goes to stderr and sets the exit code (zkCli's CliException). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Long.toHexString: two's complement for negatives, as Java prints a long. */
export function javaHex(value: number): string {
  return BigInt.asUintN(64, BigInt(value)).toString(16);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (n: number) => String(n).padStart(2, "0");

function zoneName(date: Date): string {
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date).find((p) => p.type === "timeZoneName");
  return part?.value ?? "UTC";
}

/** java.util.Date.toString(): "Wed Nov 25 15:39:27 UTC 2026", in the local time zone. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad2(d.getDate())} ${time} ${zoneName(d)} ${d.getFullYear()}`;
}

/** zkCli's StatPrinter, one line each. */
export function statLines(stat: Stat): string[] {
  return [
    `cZxid = 0x${javaHex(stat.czxid)}`,
    `ctime = ${javaDate(stat.ctime)}`,
    `mZxid = 0x${javaHex(stat.mzxid)}`,
    `mtime = ${javaDate(stat.mtime)}`,
    `pZxid = 0x${javaHex(stat.pzxid)}`,
    `cversion = ${stat.cversion}`,
    `dataVersion = ${stat.version}`,
    `aclVersion = ${stat.aversion}`,
    `ephemeralOwner = 0x${javaHex(stat.ephemeralOwner)}`,
    `dataLength = ${stat.dataLength}`,
    `numChildren = ${stat.numChildren}`,
  ];
}

/** AbstractCollection.toString: "[a, b]". */
export function javaList(items: readonly string[]): string {
  return `[${items.join(", ")}]`;
}

/** The three lines zkCli's watcher prints for an event (WatchedEvent.toString in 3.8). */
export function watcherLines(state: string, type: string, path: string | null): string[] {
  return ["", "WATCHER::", "", `WatchedEvent state:${state} type:${type} path:${path}`];
}

const PERM_LETTERS: [string, number][] = [
  ["r", Perms.READ],
  ["w", Perms.WRITE],
  ["c", Perms.CREATE],
  ["d", Perms.DELETE],
  ["a", Perms.ADMIN],
];

/** getAcl's printout: "'world,'anyone" then ": cdrwa" per entry. */
export function aclLines(acl: readonly Acl[]): string[] {
  return acl.flatMap((a) => [`'${a.scheme},'${a.id}`, `: ${permsToString(a.perms)}`]);
}

/**
 * AclParser.parse: "scheme:id:perm" entries separated by commas; malformed entries
 * and unknown letters are reported on `warn` and skipped, as zkCli does.
 */
export function parseAcl(text: string, warn: (line: string) => void): Acl[] {
  const acl: Acl[] = [];
  for (const entry of text.split(",")) {
    const first = entry.indexOf(":");
    const last = entry.lastIndexOf(":");
    if (first === -1 || first === last) {
      warn(`${entry} does not have the form scheme:id:perm`);
      continue;
    }
    let perms = 0;
    for (const letter of entry.slice(last + 1)) {
      const bit = PERM_LETTERS.find(([l]) => l === letter)?.[1];
      if (bit === undefined) warn(`Unknown perm type: ${letter}`);
      else perms |= bit;
    }
    acl.push({ scheme: entry.slice(0, first), id: entry.slice(first + 1, last), perms });
  }
  return acl;
}

/** KeeperException.getCodeMessage. */
const CODE_MESSAGES: Partial<Record<KeeperErrorName, string>> = {
  Ok: "ok",
  NotEmpty: "Directory not empty",
  SessionExpired: "Session expired",
  InvalidCallback: "Invalid callback",
  SessionMoved: "Session moved",
  NotReadOnly: "Not a read-only call",
  EphemeralOnLocalSession: "Ephemeral node on local session",
  NoWatcher: "No such watcher",
  ReconfigDisabled: "Reconfig is disabled",
  SessionClosedRequireSaslAuth: "Session closed because client failed to authenticate",
  QuotaExceeded: "Quota has exceeded",
  Throttled: "Op throttled due to high load",
};
const UNKNOWN_TO_3_8: ReadonlySet<string> = new Set(["RequestTimeout", "UnknownSession"]);

/** KeeperException.getMessage: "KeeperErrorCode = No such watcher for /w". */
export function keeperExceptionMessage(name: KeeperErrorName, code: number, path: string | undefined): string {
  const text = UNKNOWN_TO_3_8.has(name) ? `Unknown error ${code}` : (CODE_MESSAGES[name] ?? name);
  return `KeeperErrorCode = ${text}${path !== undefined ? ` for ${path}` : ""}`;
}

/** CliWrapperException.getMessage: zkCli's words for the common failures. */
export function cliErrorMessage(error: unknown): string {
  if (!isKeeperError(error)) return error instanceof Error ? error.message : String(error);
  const path = error.path ?? "null";
  switch (error.keeperName) {
    case "NoNode":
      return `Node does not exist: ${path}`;
    case "NoChildrenForEphemerals":
      return `Ephemerals cannot have children: ${path}`;
    case "NodeExists":
      return `Node already exists: ${path}`;
    case "NotEmpty":
      return `Node not empty: ${path}`;
    case "NotReadOnly":
      return `Not a read-only call: ${path}`;
    case "InvalidACL":
      return `Acl is not valid : ${path}`;
    case "NoAuth":
      return `Insufficient permission : ${path}`;
    case "BadArguments":
      return `Arguments are not valid : ${path}`;
    case "BadVersion":
      return `version No is not valid : ${path}`;
    default:
      return keeperExceptionMessage(error.keeperName, error.code, error.path);
  }
}

/** PathUtils.validatePath's reason, or undefined for a valid path (sequential: a trailing / is allowed). */
export function pathError(path: string, sequential = false): string | undefined {
  const p = sequential ? `${path}1` : path;
  if (p.length === 0) return "Path length must be > 0";
  if (p[0] !== "/") return "Path must start with / character";
  if (p.length === 1) return undefined;
  if (p.endsWith("/")) return "Path must not end with / character";
  let reason: string | undefined;
  for (let i = 1; i < p.length && reason === undefined; i++) {
    const c = p.charCodeAt(i);
    const prev = p[i - 1];
    const endsName = i + 1 === p.length || p[i + 1] === "/";
    if (c === 0) reason = `null character not allowed @${i}`;
    else if (p[i] === "/" && prev === "/") reason = `empty node name specified @${i}`;
    else if (p[i] === "." && prev === "." && p[i - 2] === "/" && endsName) reason = `relative paths not allowed @${i}`;
    else if (p[i] === "." && prev === "/" && endsName) reason = `relative paths not allowed @${i}`;
    else if ((c > 0 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) reason = `invalid character @${i}`;
  }
  return reason && `Invalid path string "${p}" caused by ${reason}`;
}
