/**
 * Structured logs: one JSON object a line (`time`, `level`, `msg`, then fields such
 * as op, shard, namespace, ms, error), which Workers Logs indexes when deployed and
 * `npm start` prints. `EDGEKEEPER_LOG_LEVEL` (debug, info, warn, error, off; default
 * info) decides which lines are written: requests are `info`, each shard call
 * `debug`, failures `warn` (a client's) or `error` (ours).
 */
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, type LogLevel, isLogLevel } from "../protocol/index.ts";
import type { EdgekeeperEnv } from "./env.ts";

/** The level set by EDGEKEEPER_LOG_LEVEL (case ignored), or the default for an unset or unknown one. */
export function logLevelOf(env: EdgekeeperEnv): LogLevel {
  const value = typeof env.EDGEKEEPER_LOG_LEVEL === "string" ? env.EDGEKEEPER_LOG_LEVEL.toLowerCase() : undefined;
  return isLogLevel(value) ? value : DEFAULT_LOG_LEVEL;
}

/** An error as a log field: its name, message and stack (a KeeperError's name is ZooKeeper's). */
export function errorField(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: "Error", message: String(err) };
}

/**
 * @example
 * const log = new Logger(logLevelOf(env));
 * log.info("request", { method: "GET", path: "/v1/znodes/a", status: 200, ms: 3 });
 */
export class Logger {
  private readonly threshold: number;

  constructor(level: LogLevel) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  enabled(level: Exclude<LogLevel, "off">): boolean {
    return LOG_LEVELS.indexOf(level) >= this.threshold;
  }

  debug(msg: string, fields: Record<string, unknown> = {}): void {
    this.write("debug", msg, fields);
  }

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.write("info", msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.write("warn", msg, fields);
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.write("error", msg, fields);
  }

  private write(level: Exclude<LogLevel, "off">, msg: string, fields: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  }
}
