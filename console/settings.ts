/**
 * What the console needs to reach the API: its origin (the page's own: the API and
 * the page are served together), the namespace, and the bearer token of a deployed
 * Worker. The token and namespace are kept in sessionStorage: they last as long as
 * the tab, are never written to disk by the page, and never travel in a URL that
 * history or logs keep (the session socket, which cannot carry a header from a
 * browser, is the one exception the API allows).
 */
import { KeeperError } from "edgekeeper/client";
import type { KeeperErrorBody } from "../protocol/errors.ts";

const TOKEN_KEY = "edgekeeper.console.token";
const NAMESPACE_KEY = "edgekeeper.console.namespace";
const NAMESPACE_HEADER = "X-Edgekeeper-Namespace";

export interface Settings {
  /** The API's base URL: the directory above /ui/. */
  server: string;
  namespace: string;
  token: string | undefined;
}

export function loadSettings(): Settings {
  return {
    server: new URL("../", location.href).href,
    namespace: sessionStorage.getItem(NAMESPACE_KEY) || "default",
    token: sessionStorage.getItem(TOKEN_KEY) || undefined,
  };
}

export function saveSettings(namespace: string, token: string): void {
  sessionStorage.setItem(NAMESPACE_KEY, namespace.trim() || "default");
  if (token.trim()) sessionStorage.setItem(TOKEN_KEY, token.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * GETs an API route as JSON, with the token and namespace; an error answer becomes
 * the KeeperError it names.
 *
 * @example
 * const table = await getJson<{ mounts: { prefix: string; shard: string }[] }>(settings, "v1/admin/mounts");
 */
export async function getJson<T>(settings: Settings, route: string): Promise<T> {
  const headers: Record<string, string> = { [NAMESPACE_HEADER]: settings.namespace };
  if (settings.token) headers.Authorization = `Bearer ${settings.token}`;
  const response = await fetch(new URL(route, settings.server), { headers });
  const body = (await response.json().catch(() => ({}))) as { error?: KeeperErrorBody | string };
  if (response.ok) return body as T;
  if (typeof body.error === "object" && body.error !== null) throw KeeperError.fromBody(body.error);
  throw new KeeperError("SystemError", `${response.status} ${response.statusText}${typeof body.error === "string" ? `: ${body.error}` : ""}`);
}
