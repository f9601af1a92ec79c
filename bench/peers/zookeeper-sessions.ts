/**
 * Sessions through node-zookeeper-client 1.1.3, one client (one TCP connection, one
 * session) per session, for W1-W6: the same code drives ZooKeeper 3.8 and
 * edgekeeper's wire bridge (`npm start --zk-port`), only the host:port differs.
 */
import zookeeper from "node-zookeeper-client";
import { openBounded, SESSION_TIMEOUT_MS } from "./edgekeeper-client.ts";
import { type OpenOptions, type SessionDriver, type SessionTarget, within } from "../session-workloads.ts";

type Client = ReturnType<typeof zookeeper.createClient>;

function callAs<T>(name: string, what: string, run: (done: (error: Error | null, result?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, result) => (error ? reject(new Error(`${name}: ${what}: ${error.message}`)) : resolve(result as T))),
  );
}

/**
 * One node-zookeeper-client session to `connectionString` (ZooKeeper, or the bridge),
 * connected; `name` names the system in error messages.
 */
export async function openZookeeperSession(connectionString: string, name = "ZooKeeper", limitMs = 20_000): Promise<SessionTarget> {
  const client: Client = zookeeper.createClient(connectionString, { sessionTimeout: SESSION_TIMEOUT_MS, retries: 0 });
  const connected = new Promise<void>((resolve) => client.once("connected", resolve));
  client.connect();
  try {
    await within(connected, limitMs, `${name}: node-zookeeper-client connect to ${connectionString}`);
  } catch (error) {
    client.close();
    throw error;
  }
  const call = <T>(what: string, run: (done: (error: Error | null, result?: T) => void) => void) => callAs<T>(name, what, run);
  return {
    name,
    create: async (path, data) => {
      await call<string>(`create ${path}`, (done) => client.create(path, Buffer.from(data), done));
    },
    remove: (path) => call(`delete ${path}`, (done) => client.remove(path, -1, done)),
    setData: (path, data) => call(`setData ${path}`, (done) => client.setData(path, Buffer.from(data), -1, done)),
    getData: async (path) => (await call<Buffer | undefined>(`getData ${path}`, (done) => client.getData(path, done)))?.length ?? 0,
    watchData: async (path, onEvent) => {
      await call<Buffer | undefined>(`getData ${path}`, (done) => client.getData(path, () => onEvent(), done));
    },
    async close() {
      // close() sends closeSession and ends the socket; the server drops the session's watches.
      client.close();
    },
  };
}

/** node-zookeeper-client sessions to ZooKeeper (id "zk") or to edgekeeper's bridge (id "bridge"). */
export function zookeeperDriver(connectionString: string, id: "zk" | "bridge" = "zk", name = "ZooKeeper"): SessionDriver {
  return {
    id,
    label: () => `node-zookeeper-client, a TCP connection per session, to ${connectionString}`,
    open: (count: number, options: OpenOptions) =>
      openBounded(count, 50, performance.now() + options.timeLimitMs, () => openZookeeperSession(connectionString, name)),
  };
}
