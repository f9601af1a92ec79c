/**
 * The deployment's namespaces, bounded by EDGEKEEPER_MAX_NAMESPACES. One fixed
 * DirectoryDO (named so that no namespace can take its name: namespaces hold no
 * "/") keeps the list; the Worker admits a namespace there before its first request
 * in each isolate, then remembers it, since a namespace once admitted stays. So the
 * registry costs one round trip per namespace per isolate, never one per request.
 */
import { KeeperError } from "../../protocol/index.ts";
import { RegionLink } from "../base/region-link.ts";
import { settingsFromEnv } from "../base/settings.ts";
import type { EdgekeeperEnv } from "../env.ts";

/** The name of the DirectoryDO that holds the registry. */
export const REGISTRY_OBJECT = "/namespaces";

export const REGISTRY_SCHEMA = "CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY) WITHOUT ROWID";

/**
 * Records `namespace` unless `max` are recorded already; true if it is (now) recorded.
 * Synchronous SQL, so two admissions cannot both take the last place.
 */
export function admitIn(sql: SqlStorage, namespace: string, max: number): boolean {
  if (sql.exec("SELECT 1 FROM namespaces WHERE name = ?", namespace).toArray().length > 0) return true;
  const count = sql.exec<{ n: number }>("SELECT count(*) AS n FROM namespaces").one().n;
  if (count >= max) return false;
  sql.exec("INSERT INTO namespaces (name) VALUES (?)", namespace);
  return true;
}

/** Namespaces this isolate has seen admitted (at most the limit's worth). */
const admitted = new Set<string>();

/**
 * Admits a namespace into the deployment, or refuses with QuotaExceeded when it
 * already holds EDGEKEEPER_MAX_NAMESPACES others.
 *
 * @example
 * await admitNamespace(env, "app1");
 */
export async function admitNamespace(env: EdgekeeperEnv, namespace: string): Promise<void> {
  if (admitted.has(namespace)) return;
  const max = settingsFromEnv(env).maxNamespaces;
  const registry = RegionLink.at(env).directory(REGISTRY_OBJECT);
  if (!(await registry.admitNamespace(namespace, max))) {
    throw new KeeperError("QuotaExceeded", `this deployment already holds its limit of ${max} namespaces (EDGEKEEPER_MAX_NAMESPACES)`);
  }
  admitted.add(namespace);
}
