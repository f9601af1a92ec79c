/**
 * The log levels every part of edgekeeper takes (EDGEKEEPER_LOG_LEVEL, `npm start
 * --log-level`), lowest first: a level writes its own lines and those above it.
 */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "off"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/**
 * @example
 * isLogLevel("warn"); // true
 */
export function isLogLevel(value: unknown): value is LogLevel {
  return (LOG_LEVELS as readonly unknown[]).includes(value);
}
