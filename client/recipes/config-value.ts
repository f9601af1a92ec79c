/**
 * configValue: one line for the classic configuration case, a value that is always
 * current. `const url = await configValue(zk, "/config/database/url")`, then read
 * `url.value` wherever you need it: a NodeCache keeps it current by a persistent watch.
 *
 * Status: beta. Tested converging to the last written value, across writers, a
 * dropped connection and a session expiry (test/client/recipes-discovery.test.ts).
 * See docs/recipes/config-value.md.
 */
import type { KeeperClient, Stat } from "../index.ts";
import { Listeners } from "./listeners.ts";
import { NodeCache } from "./node-cache.ts";

export interface ConfigValueOptions<T> {
  /** Turns the node's bytes into the value (default: UTF-8 text). A parse error keeps the previous value and is reported as `error`. */
  parse?: (data: Uint8Array) => T;
  /** The value while the node does not exist (default: undefined). */
  defaultValue?: T;
}

type ConfigEvents<T> = { change: [T | undefined, T | undefined]; error: [unknown] };

/** A configuration value kept current; see {@link configValue}. */
export class ConfigValue<T = string> {
  private readonly cache: NodeCache;
  private readonly listeners = new Listeners<ConfigEvents<T>>();
  private readonly parse: (data: Uint8Array) => T;
  private readonly defaultValue: T | undefined;
  private parsed: T | undefined;

  constructor(zk: KeeperClient, path: string, options: ConfigValueOptions<T> = {}) {
    this.cache = new NodeCache(zk, path);
    this.parse = options.parse ?? ((data) => new TextDecoder().decode(data) as T);
    this.defaultValue = options.defaultValue;
    this.parsed = this.defaultValue;
    this.cache.on("change", (now) => this.update(now?.data));
    this.cache.on("error", (error) => this.listeners.emit("error", error));
  }

  /** The value now (always the newest this client has seen); `defaultValue` while the node does not exist. */
  get value(): T | undefined {
    return this.parsed;
  }

  /** The node's Stat now; undefined while it does not exist. */
  get stat(): Stat | undefined {
    return this.cache.current?.stat;
  }

  /** `change` with (now, before); `error` for a value that did not parse or a failed re-read. */
  on<K extends keyof ConfigEvents<T>>(name: K, listener: (...args: ConfigEvents<T>[K]) => void): () => void {
    return this.listeners.on(name, listener);
  }

  /** Resolves once the first value is read. */
  async start(): Promise<this> {
    await this.cache.start();
    return this;
  }

  /** Stops following the node; `value` keeps the last one. */
  close(): Promise<void> {
    return this.cache.close();
  }

  private update(data: Uint8Array | undefined): void {
    const before = this.parsed;
    try {
      this.parsed = data === undefined ? this.defaultValue : this.parse(data);
    } catch (error) {
      this.listeners.emit("error", error);
      return;
    }
    this.listeners.emit("change", this.parsed, before);
  }
}

/**
 * Reads a configuration node and keeps it current: resolves once the first value is
 * read, with an object whose `value` is always the newest this client has seen.
 *
 * @example
 * const url = await configValue(zk, "/config/database/url");
 * connectDatabase(url.value);
 * url.on("change", (next) => reconnectDatabase(next));
 *
 * const limits = await configValue(zk, "/config/limits", { parse: (b) => JSON.parse(new TextDecoder().decode(b)), defaultValue: { rps: 100 } });
 * limits.value?.rps;
 */
export function configValue<T = string>(zk: KeeperClient, path: string, options: ConfigValueOptions<T> = {}): Promise<ConfigValue<T>> {
  return new ConfigValue<T>(zk, path, options).start();
}
