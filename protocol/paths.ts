/**
 * ZooKeeper path rules (PathUtils.validatePath) plus our explicit limits.
 */
import { KeeperError } from "./errors.ts";
import type { Limits } from "./limits.ts";

/** The reserved subtree ZooKeeper keeps for itself. */
export const RESERVED_ROOT = "/zookeeper";
/** Nodes every namespace has, as ZooKeeper's own tree has them. */
export const SYSTEM_PATHS = ["/zookeeper", "/zookeeper/config", "/zookeeper/quota"] as const;

const utf8 = new TextEncoder();

/** Characters ZooKeeper refuses in a path: controls, and unassigned or private ranges. */
function isForbiddenChar(c: number): boolean {
  return (
    (c > 0x0000 && c <= 0x001f) ||
    (c >= 0x007f && c <= 0x009f) ||
    (c >= 0xd800 && c <= 0xf8ff) ||
    (c >= 0xfff0 && c <= 0xffff)
  );
}

/** Returns why a path is invalid, or undefined when it is valid. */
export function pathProblem(path: unknown, limits: Pick<Limits, "maxPathBytes" | "maxPathDepth">): string | undefined {
  if (typeof path !== "string") return "path must be a string";
  if (path.length === 0) return "path must not be empty";
  if (path[0] !== "/") return "path must start with /";
  if (utf8.encode(path).length > limits.maxPathBytes) return `path is longer than ${limits.maxPathBytes} bytes`;
  if (path.length === 1) return undefined;
  if (path.endsWith("/")) return "path must not end with /";
  let depth = 0;
  for (let start = 1; start <= path.length; ) {
    let end = path.indexOf("/", start);
    if (end === -1) end = path.length;
    const name = path.slice(start, end);
    if (name.length === 0) return `empty node name at index ${start}`;
    if (name === "." || name === "..") return `relative paths are not allowed (${name})`;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c === 0) return `null character at index ${start + i}`;
      if (isForbiddenChar(c)) return `invalid character \\u${c.toString(16).padStart(4, "0")} at index ${start + i}`;
    }
    if (++depth > limits.maxPathDepth) return `path is deeper than ${limits.maxPathDepth} levels`;
    start = end + 1;
  }
  return undefined;
}

/**
 * Throws BadArguments for a path that breaks ZooKeeper's rules or our limits.
 *
 * @example
 * validatePath("/config/db", limits); // ok
 * validatePath("/config/", limits);   // throws KeeperError BadArguments
 */
export function validatePath(path: unknown, limits: Pick<Limits, "maxPathBytes" | "maxPathDepth">): asserts path is string {
  const problem = pathProblem(path, limits);
  if (problem) throw new KeeperError("BadArguments", `invalid path ${JSON.stringify(path)}: ${problem}`, typeof path === "string" ? path : undefined);
}

/**
 * The parent of an absolute path, as ZooKeeper computes it before any other check
 * (so that a bad path under a missing parent answers NoNode, as ZooKeeper does).
 * Throws BadArguments when there is no parent to speak of.
 */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash === -1 || path.includes("\0")) throw new KeeperError("BadArguments", `invalid path ${JSON.stringify(path)}`, path);
  return slash === 0 ? "/" : path.slice(0, slash);
}

/** The last component of a path ("" for the root). */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Joins a parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/** The path and its ancestors, nearest first ("/a/b" -> "/a/b", "/a", "/"). */
export function selfAndAncestors(path: string): string[] {
  const out = [path];
  for (let p = path; p !== "/"; ) {
    p = p.lastIndexOf("/") === 0 ? "/" : p.slice(0, p.lastIndexOf("/"));
    out.push(p);
  }
  return out;
}

/** True when `path` is `ancestor` or lies below it. */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "/" || path === ancestor || path.startsWith(`${ancestor}/`);
}

/** True for paths under ZooKeeper's reserved subtree. */
export function isReserved(path: string): boolean {
  return isWithin(path, RESERVED_ROOT);
}

/** ZooKeeper's sequence suffix: the parent's cversion as ten digits (%010d). */
export function sequenceSuffix(parentCversion: number): string {
  return parentCversion < 0 ? `-${String(-parentCversion).padStart(9, "0")}` : String(parentCversion).padStart(10, "0");
}
