/**
 * How many TCP connections the bridge holds: at most `maxConnections` in all and
 * `maxConnectionsPerAddress` from one client address (ZooKeeper's maxClientCnxns,
 * whose default of 60 would be too few here: locally every client is 127.0.0.1).
 * A connection past either bound is closed at once, as ZooKeeper closes it.
 */

export interface ConnectionBounds {
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export const DEFAULT_CONNECTION_BOUNDS: Readonly<ConnectionBounds> = {
  maxConnections: 10_000,
  maxConnectionsPerAddress: 2_000,
};

const SETTINGS: Record<keyof ConnectionBounds, string> = {
  maxConnections: "EDGEKEEPER_ZK_MAX_CONNECTIONS",
  maxConnectionsPerAddress: "EDGEKEEPER_ZK_MAX_CONNECTIONS_PER_ADDRESS",
};

/**
 * The bounds set in the environment (`npm start`, `edgekeeper proxy`); a setting
 * that is not a positive integer is an error, so a typo is not a silent default.
 *
 * @example
 * connectionBoundsFromEnv({ EDGEKEEPER_ZK_MAX_CONNECTIONS_PER_ADDRESS: "60" });
 */
export function connectionBoundsFromEnv(env: Record<string, string | undefined>): Partial<ConnectionBounds> {
  const bounds: Partial<ConnectionBounds> = {};
  for (const key of Object.keys(SETTINGS) as (keyof ConnectionBounds)[]) {
    const text = env[SETTINGS[key]];
    if (text === undefined || text === "") continue;
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value <= 0) throw new Error(`${SETTINGS[key]} must be a positive integer, not "${text}"`);
    bounds[key] = value;
  }
  return bounds;
}

/** Counts open connections, in all and per address. */
export class ConnectionCount {
  private readonly bounds: ConnectionBounds;
  private total = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(bounds: ConnectionBounds) {
    this.bounds = bounds;
  }

  /** Takes a place for a connection from `address`; false (nothing taken) if a bound is reached. */
  admit(address: string): boolean {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (this.total >= this.bounds.maxConnections || fromAddress >= this.bounds.maxConnectionsPerAddress) return false;
    this.total++;
    this.byAddress.set(address, fromAddress + 1);
    return true;
  }

  release(address: string): void {
    this.total--;
    const left = (this.byAddress.get(address) ?? 1) - 1;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }
}
