/**
 * ZooKeeper ACLs: the schemes world, auth, digest and ip, the five permissions,
 * and the rules ZooKeeper applies (fixupACL on write, checkACL on access).
 */
import { KeeperError } from "./errors.ts";
import { ipPatternMatches, isValidIpPattern } from "./ip-address.ts";

/** ZooDefs.Perms. */
export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

/** An identity a caller holds, or an ACL entry names. */
export interface Id {
  scheme: string;
  id: string;
}

/** One ACL entry: these permissions for this identity. */
export interface Acl {
  perms: number;
  scheme: string;
  id: string;
}

/** ZooDefs.Ids.OPEN_ACL_UNSAFE: everyone may do everything. */
export const OPEN_ACL_UNSAFE: readonly Acl[] = [{ perms: Perms.ALL, scheme: "world", id: "anyone" }];
/** ZooDefs.Ids.READ_ACL_UNSAFE. */
export const READ_ACL_UNSAFE: readonly Acl[] = [{ perms: Perms.READ, scheme: "world", id: "anyone" }];
/** ZooDefs.Ids.CREATOR_ALL_ACL: everything for the caller's authenticated identities. */
export const CREATOR_ALL_ACL: readonly Acl[] = [{ perms: Perms.ALL, scheme: "auth", id: "" }];

/** The identity a configured super digest grants. */
export const SUPER_ID: Id = { scheme: "super", id: "" };

const PERM_LETTERS: [string, number][] = [
  ["c", Perms.CREATE],
  ["d", Perms.DELETE],
  ["r", Perms.READ],
  ["w", Perms.WRITE],
  ["a", Perms.ADMIN],
];

/** zkCli's letters for a permission set, in ZKUtil.getPermString's "cdrwa" order. */
export function permsToString(perms: number): string {
  return PERM_LETTERS.filter(([, bit]) => perms & bit)
    .map(([letter]) => letter)
    .join("");
}

/** Parses "cdrwa"-style letters or a number into a permission set; InvalidACL otherwise. */
export function parsePerms(value: unknown): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= Perms.ALL) return value;
  if (typeof value === "string" && /^[cdrwa]*$/.test(value)) {
    return PERM_LETTERS.reduce((acc, [letter, bit]) => (value.includes(letter) ? acc | bit : acc), 0);
  }
  throw new KeeperError("InvalidACL", `invalid permissions ${JSON.stringify(value)}: use a number 0-31 or letters from cdrwa`);
}

/** Parses an ACL list from JSON: [{ perms, scheme, id }]. Shape errors are InvalidACL. */
export function parseAclList(value: unknown): Acl[] {
  if (!Array.isArray(value)) throw new KeeperError("InvalidACL", "acl must be a list of { perms, scheme, id }");
  return value.map((entry) => {
    if (typeof entry !== "object" || entry === null) throw new KeeperError("InvalidACL", "each ACL entry must be an object { perms, scheme, id }");
    const { perms, scheme, id } = entry as Record<string, unknown>;
    if (typeof scheme !== "string" || typeof id !== "string") throw new KeeperError("InvalidACL", "ACL scheme and id must be strings");
    return { perms: parsePerms(perms), scheme, id };
  });
}

/** Whether an ACL entry's id is well formed for its scheme (the provider's isValid). */
function isValidId(scheme: string, id: string): boolean {
  switch (scheme) {
    case "world":
      return id === "anyone";
    case "digest":
      return id.split(":").length === 2;
    case "ip":
      return isValidIpPattern(id);
    default:
      return false;
  }
}

/** Schemes whose identities count as authenticated for the "auth" scheme. */
const AUTHENTICATED_SCHEMES = new Set(["digest"]);

/**
 * ZooKeeper's fixupACL: refuses empty or malformed lists (InvalidACL), replaces
 * "auth" entries by the caller's authenticated identities, and drops duplicates.
 */
export function fixupAcl(acl: readonly Acl[], callerIds: readonly Id[], maxEntries: number): Acl[] {
  if (acl.length === 0) throw new KeeperError("InvalidACL", "an ACL list must not be empty");
  if (acl.length > maxEntries) throw new KeeperError("InvalidACL", `an ACL list may hold at most ${maxEntries} entries`);
  const out: Acl[] = [];
  const seen = new Set<string>();
  const add = (entry: Acl) => {
    const key = `${entry.perms}|${entry.scheme}|${entry.id}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(entry);
    }
  };
  for (const entry of acl) {
    if (entry.scheme === "auth") {
      const authenticated = callerIds.filter((cid) => AUTHENTICATED_SCHEMES.has(cid.scheme));
      if (authenticated.length === 0) throw new KeeperError("InvalidACL", "the auth scheme needs an authenticated identity (add a digest first)");
      for (const cid of authenticated) add({ perms: entry.perms, scheme: cid.scheme, id: cid.id });
    } else if (isValidId(entry.scheme, entry.id)) {
      add(entry);
    } else {
      throw new KeeperError("InvalidACL", `invalid ACL entry ${entry.scheme}:${entry.id}`);
    }
  }
  return out;
}

/**
 * ZooKeeper's checkACL: does any of the caller's identities hold `perm` on a node
 * with this ACL? Super passes everything; an empty ACL allows everything.
 */
export function aclAllows(acl: readonly Acl[], perm: number, callerIds: readonly Id[]): boolean {
  if (acl.length === 0) return true;
  if (callerIds.some((cid) => cid.scheme === SUPER_ID.scheme)) return true;
  for (const entry of acl) {
    if ((entry.perms & perm) === 0) continue;
    if (entry.scheme === "world" && entry.id === "anyone") return true;
    for (const cid of callerIds) {
      if (cid.scheme !== entry.scheme) continue;
      if (entry.scheme === "ip" ? ipPatternMatches(cid.id, entry.id) : cid.id === entry.id) return true;
    }
  }
  return false;
}

/**
 * Whether a caller may learn of a change to a node whose ACL was `acl` at the change:
 * READ, as a getData of the node needs. An ACL not known (`undefined`) lets only
 * super through, so a change is never shown by default.
 *
 * @example
 * mayReadNode([{ perms: Perms.READ, scheme: "digest", id: "alice:..." }], [{ scheme: "ip", id: "127.0.0.1" }]); // false
 */
export function mayReadNode(acl: readonly Acl[] | undefined, callerIds: readonly Id[]): boolean {
  if (acl === undefined) return callerIds.some((cid) => cid.scheme === SUPER_ID.scheme);
  return aclAllows(acl, Perms.READ, callerIds);
}

/** getACL for a caller without ADMIN: digest hashes are hidden, as ZooKeeper hides them. */
export function redactDigests(acl: readonly Acl[]): Acl[] {
  return acl.map((e) => (e.scheme === "digest" ? { ...e, id: e.id.replace(/:.*/, ":x") } : e));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * The digest scheme's identity for "user:password": "user:" + base64(sha1("user:password")),
 * as DigestAuthenticationProvider.generateDigest computes it.
 *
 * @example
 * await digestId("alice:secret"); // "alice:..."
 */
export async function digestId(userPassword: string): Promise<string> {
  const colon = userPassword.indexOf(":");
  if (colon <= 0) throw new KeeperError("AuthFailed", "digest credentials must be user:password");
  const hash = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(userPassword));
  return `${userPassword.slice(0, colon)}:${toBase64(new Uint8Array(hash))}`;
}

/**
 * The identities an addauth with `scheme` and `credentials` grants. A digest that
 * matches the configured super digest ("super:BASE64") also grants super.
 */
export async function authenticate(scheme: string, credentials: string, superDigest?: string): Promise<Id[]> {
  if (scheme !== "digest") throw new KeeperError("AuthFailed", `unknown auth scheme ${JSON.stringify(scheme)}; only digest is supported`);
  const id = await digestId(credentials);
  const ids: Id[] = [{ scheme: "digest", id }];
  if (superDigest && id === superDigest) ids.unshift(SUPER_ID);
  return ids;
}
