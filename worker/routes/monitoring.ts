/**
 * Monitoring: `GET /metrics` (Prometheus), the AdminServer-style commands under
 * /v1/admin/commands (the admin right is checked by middleware/authorize.ts before
 * either runs), and `GET /readyz`, which answers only once the objects do.
 */
import { Hono } from "hono";
import { namespaceConnections, namespaceStats, namespaceWatchSummary } from "../../durable/directory/namespace-stats.ts";
import { ROOT_MOUNT } from "../../durable/directory/mount-table.ts";
import { RegionLink } from "../../durable/base/region-link.ts";
import { type EdgekeeperEnv, shardObjectName } from "../../durable/env.ts";
import type { AppEnv } from "../app.ts";
import { adminCommand, adminCommandName, connectionsCommand, watchSummaryCommand } from "../monitoring/admin-commands.ts";
import { renderPrometheus } from "../monitoring/prometheus.ts";

export const metricsRoutes = new Hono<AppEnv>();

metricsRoutes.get("/", async (c) => {
  const text = renderPrometheus(await namespaceStats(c.env, c.get("namespace")));
  return c.body(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
});

export const adminCommandRoutes = new Hono<AppEnv>();

adminCommandRoutes.get("/:command", async (c) => {
  const asked = c.req.param("command");
  const command = adminCommandName(asked);
  // ZooKeeper's AdminServer answers an unknown command with this body (and 200; 404 here).
  if (!command) return c.json({ command: asked, error: `Unknown command: ${asked}` }, 404);
  const namespace = c.get("namespace");
  switch (command) {
    case "ruok":
      return c.json({ command, error: null });
    case "connections":
      return c.json(connectionsCommand(await namespaceConnections(c.env, namespace)));
    case "watch_summary":
      return c.json(watchSummaryCommand(await namespaceWatchSummary(c.env, namespace)));
    default:
      return c.json(adminCommand(command, await namespaceStats(c.env, namespace)));
  }
});

/** How long /readyz waits for the objects before answering 503. */
const READY_TIMEOUT_MS = 5_000;

/**
 * Ready when the default namespace's directory answers its mount table and its root
 * shard answers its counters: reads only, so a probe writes nothing. 503 otherwise.
 */
export async function readiness(env: EdgekeeperEnv): Promise<{ ok: true } | { ok: false; error: string }> {
  const probe = async () => {
    const link = RegionLink.at(env);
    await link.directory("default").table();
    await link.shard(shardObjectName("default", ROOT_MOUNT.shard)).stats(ROOT_MOUNT.prefix);
  };
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}
