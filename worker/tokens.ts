/**
 * Bearer tokens and what each grants. `EDGEKEEPER_TOKENS` (a secret) holds a JSON list
 * of scoped tokens:
 *
 *   [{"token": "...", "namespaces": ["app1", "app2"], "scope": "read"},
 *    {"token": "...", "namespaces": "*", "scope": "admin"}]
 *
 * `EDGEKEEPER_TOKEN`, the older single secret, stays one admin token for every
 * namespace. Given tokens are compared by their SHA-256 digests against every
 * configured one, so the time taken says nothing of how close a guess came.
 */
import type { EdgekeeperEnv } from "../durable/env.ts";
import { KeeperError, SCOPES, type Scope, isScope } from "../protocol/index.ts";

/** What a request may do: its scope, in the namespaces listed (or all: "*"). */
export interface Grant {
  scope: Scope;
  namespaces: "*" | readonly string[];
}

/** Local mode without tokens: loopback only, so the developer holds every right. */
const LOCAL_GRANT: Grant = { scope: "admin", namespaces: "*" };

interface TokenEntry {
  digest: Uint8Array;
  grant: Grant;
}

/** Whether a grant covers a namespace. */
export function grantCovers(grant: Grant, namespace: string): boolean {
  return grant.namespaces === "*" || grant.namespaces.includes(namespace);
}

function malformed(detail: string): KeeperError {
  return new KeeperError("SystemError", `the EDGEKEEPER_TOKENS setting is malformed: ${detail}`);
}

/**
 * Reads and checks EDGEKEEPER_TOKENS (a JSON list of {token, namespaces, scope}).
 *
 * @example
 * parseTokenList('[{"token":"s3cret-s3cret","namespaces":["app1"],"scope":"read"}]');
 */
function parseTokenList(text: string): { token: string; grant: Grant }[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw malformed("not JSON");
  }
  if (!Array.isArray(list)) throw malformed("expected a JSON list");
  return list.map((item: unknown, i) => {
    const entry = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
    if (typeof entry.token !== "string" || entry.token.length === 0) throw malformed(`entry ${i}: token must be a non-empty string`);
    if (!isScope(entry.scope)) throw malformed(`entry ${i}: scope must be one of ${SCOPES.join(", ")}`);
    const ns = entry.namespaces;
    const all = ns === "*" || (Array.isArray(ns) && ns.length === 1 && ns[0] === "*");
    if (!all && !(Array.isArray(ns) && ns.length > 0 && ns.every((n) => typeof n === "string" && n.length > 0))) {
      throw malformed(`entry ${i}: namespaces must be "*" or a non-empty list of namespace names`);
    }
    return { token: entry.token, grant: { scope: entry.scope, namespaces: all ? "*" : (ns as string[]) } };
  });
}

async function digestOf(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The configured tokens, digested once per configuration (settings change only with a deploy). */
let cached: { key: string; entries: Promise<TokenEntry[]> } | undefined;

function configuredTokens(env: EdgekeeperEnv): Promise<TokenEntry[]> {
  const single = typeof env.EDGEKEEPER_TOKEN === "string" ? env.EDGEKEEPER_TOKEN : "";
  const list = typeof env.EDGEKEEPER_TOKENS === "string" ? env.EDGEKEEPER_TOKENS : "";
  const key = JSON.stringify([single, list]);
  if (cached?.key !== key) {
    const specs = [...(single ? [{ token: single, grant: { scope: "admin" as const, namespaces: "*" as const } }] : []), ...(list ? parseTokenList(list) : [])];
    const entries = Promise.all(specs.map(async (s) => ({ digest: await digestOf(s.token), grant: s.grant })));
    cached = { key, entries };
  }
  return cached.entries;
}

/** The grant of the configured token equal to `given`, looked at every entry so timing tells nothing. */
async function matchToken(entries: TokenEntry[], given: string): Promise<Grant | undefined> {
  const digest = await digestOf(given);
  let found: Grant | undefined;
  for (const entry of entries) {
    let diff = 0;
    for (let i = 0; i < digest.length; i++) diff |= digest[i]! ^ entry.digest[i]!;
    if (diff === 0) found = entry.grant;
  }
  return found;
}

/**
 * What a request carrying `given` (its bearer token, or undefined) may do. Without
 * any configured token a local server grants everything and a deployed one nothing.
 */
export async function grantOf(env: EdgekeeperEnv, given: string | undefined): Promise<Grant> {
  const entries = await configuredTokens(env);
  if (entries.length === 0) {
    if (env.EDGEKEEPER_LOCAL === "1") return LOCAL_GRANT;
    throw new KeeperError("AuthFailed", "this deployment has no EDGEKEEPER_TOKEN or EDGEKEEPER_TOKENS secret: set one with `npx wrangler secret put EDGEKEEPER_TOKEN`");
  }
  const grant = given ? await matchToken(entries, given) : undefined;
  if (!grant) throw new KeeperError("AuthFailed", "missing or unknown bearer token (Authorization: Bearer <token>)");
  return grant;
}
