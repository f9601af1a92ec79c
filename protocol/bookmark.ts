/**
 * Bookmarks: what a caller has seen, as the highest zxid per shard of one namespace
 * (a zxid carries its epoch: zxid.ts), so that a later read can be served by a copy
 * that has applied at least that much (read-your-writes without a session, as D1's
 * Sessions API does). On the wire it is opaque: base64url of a small JSON record.
 * A bookmark is the caller's to send back, never trusted: `decodeBookmark` refuses
 * one that is malformed, too large or of another namespace, and `refusalByLeader`
 * one that names more than the shard's leader has committed.
 */
import { KeeperError } from "./errors.ts";
import { zxidEpoch } from "./zxid.ts";

export const BOOKMARK_HEADER = "X-Edgekeeper-Bookmark";

/** Most shards one bookmark names; past it the one named longest ago is dropped. */
export const MAX_BOOKMARK_SHARDS = 64;
/** Longest bookmark accepted, in characters (64 shards of long names fit). */
export const MAX_BOOKMARK_CHARS = 8192;

const FORMAT_VERSION = 1;
const SHARD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The highest zxid seen per shard of `namespace`, in the order they were last advanced. */
export interface Bookmark {
  namespace: string;
  shards: Map<string, number>;
}

/** An empty bookmark of a namespace. */
export function emptyBookmark(namespace: string): Bookmark {
  return { namespace, shards: new Map() };
}

/**
 * Raises the bookmark's zxid of `shard` to `zxid` (never lowers it). Past
 * MAX_BOOKMARK_SHARDS the shard it named longest ago is dropped (a read of it then
 * waits for nothing it saw).
 *
 * @example
 * advanceBookmark(bookmark, "root", 0x100000005);
 */
export function advanceBookmark(bookmark: Bookmark, shard: string, zxid: number): void {
  const seen = bookmark.shards.get(shard);
  if (seen !== undefined) {
    if (zxid > seen) bookmark.shards.set(shard, zxid);
    return;
  }
  bookmark.shards.set(shard, zxid);
  if (bookmark.shards.size > MAX_BOOKMARK_SHARDS) {
    const oldest = bookmark.shards.keys().next().value;
    if (oldest !== undefined) bookmark.shards.delete(oldest);
  }
}

/**
 * The bookmark as its opaque header value.
 *
 * @example
 * encodeBookmark({ namespace: "default", shards: new Map([["root", 4294967301]]) }); // "eyJ2IjoxLC..."
 */
export function encodeBookmark(bookmark: Bookmark): string {
  const json = JSON.stringify({ v: FORMAT_VERSION, n: bookmark.namespace, s: Object.fromEntries(bookmark.shards) });
  return btoa(String.fromCharCode(...new TextEncoder().encode(json)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * A bookmark from its header value, for a request of `namespace`. Malformed, too
 * large, or of another namespace: BadArguments.
 *
 * @example
 * decodeBookmark(encodeBookmark(bookmark), "default").shards.get("root");
 */
export function decodeBookmark(text: string, namespace: string): Bookmark {
  const trimmed = text.trim();
  if (trimmed.length > MAX_BOOKMARK_CHARS) throw new KeeperError("BadArguments", `${BOOKMARK_HEADER} is longer than ${MAX_BOOKMARK_CHARS} characters`);
  const record = parseRecord(trimmed);
  if (record.n !== namespace) throw new KeeperError("BadArguments", `${BOOKMARK_HEADER} is of another namespace, not ${JSON.stringify(namespace)}`);
  const entries = Object.entries(record.s);
  if (entries.length > MAX_BOOKMARK_SHARDS) throw new KeeperError("BadArguments", `${BOOKMARK_HEADER} names more than ${MAX_BOOKMARK_SHARDS} shards`);
  const shards = new Map<string, number>();
  for (const [shard, zxid] of entries) {
    if (!SHARD_NAME.test(shard) || !Number.isSafeInteger(zxid) || (zxid as number) < 0) throw malformed();
    shards.set(shard, zxid as number);
  }
  return { namespace, shards };
}

function malformed(): KeeperError {
  return new KeeperError("BadArguments", `${BOOKMARK_HEADER} is not a bookmark this service issued`);
}

function parseRecord(text: string): { n: unknown; s: Record<string, unknown> } {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw malformed();
  let record: unknown;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    record = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    throw malformed();
  }
  if (typeof record !== "object" || record === null) throw malformed();
  const { v, n, s } = record as Record<string, unknown>;
  if (v !== FORMAT_VERSION || typeof s !== "object" || s === null || Array.isArray(s)) throw malformed();
  return { n, s: s as Record<string, unknown> };
}

/**
 * Why a bookmark's zxid for `shard` is refused (BadArguments) by its leader, if it
 * is: of an epoch after the leader's, or beyond its commit point `leaderZxid` (the
 * last zxid the leader has committed).
 *
 * @example
 * refusalByLeader("root", seen, leaderZxid); // a KeeperError if seen > leaderZxid, else undefined
 */
export function refusalByLeader(shard: string, seenZxid: number, leaderZxid: number): KeeperError | undefined {
  if (zxidEpoch(seenZxid) > zxidEpoch(leaderZxid)) {
    return new KeeperError("BadArguments", `${BOOKMARK_HEADER} names epoch ${zxidEpoch(seenZxid)} of shard ${shard}, after its leader's epoch ${zxidEpoch(leaderZxid)}`);
  }
  if (seenZxid > leaderZxid) {
    return new KeeperError("BadArguments", `${BOOKMARK_HEADER} names zxid 0x${seenZxid.toString(16)} of shard ${shard}, beyond its leader's commit point 0x${leaderZxid.toString(16)}`);
  }
  return undefined;
}
