/**
 * The wire bridge: a TCP server speaking ZooKeeper's protocol (and its four-letter
 * words) in front of an edgekeeper Worker, each ZooKeeper session an edgekeeper
 * session, the sessions of one host sharing one WebSocket to it.
 */
import { once } from "node:events";
import { type Server, createServer } from "node:net";
import { DEFAULT_MAX_BUFFER } from "../../protocol/jute/index.ts";
import type { Region } from "../../protocol/regions.ts";
import { DEFAULT_HOSTS_PER_LOCATION, hostNumberOf } from "../../protocol/session-ids.ts";
import type { WebSocketConstructor } from "../../client/core/socket.ts";
import { HostLinks } from "../upstream/host-link.ts";
import { fetchAdminCommand } from "../upstream/monitor.ts";
import { BurstLog } from "./burst-log.ts";
import { type ConnectionBounds, ConnectionCount, DEFAULT_CONNECTION_BOUNDS } from "./connection-limits.ts";
import { ZkConnection, peerAddress } from "./connection.ts";
import type { BridgeContext, ConnectionView } from "./context.ts";
import { DEFAULT_FOUR_LETTER_WORDS, parseFourLetterWords } from "./four-letter.ts";
import { HopLog } from "./hop-log.ts";
import type { BridgeSession } from "./session.ts";
import { ServerCounters } from "./stats.ts";

export interface BridgeOptions {
  /** The Worker's base URL: `http://127.0.0.1:8787`, `https://keeper.example.workers.dev`. */
  url: string;
  /** The Worker's bearer token (deployed Workers need one). */
  token?: string;
  /** The namespace every session lives in (default "default"). */
  namespace?: string;
  /**
   * The region the bridge stands in, on a Worker simulating regions (`npm start -- --regions`):
   * new sessions go to that region's hosts. Default: the Worker's first region.
   */
  region?: Region;
  /** Where to listen (default 127.0.0.1:2181; port 0 picks a free one). */
  host?: string;
  port?: number;
  /** jute.maxbuffer: the largest frame accepted (default 1 MiB less one byte). */
  maxBufferBytes?: number;
  /**
   * The four-letter words answered, as ZooKeeper's 4lw.commands.whitelist: a comma
   * list, or "*" for all (default: DEFAULT_FOUR_LETTER_WORDS).
   */
  fourLetterWords?: string;
  /**
   * Hosts new sessions are spread over (round robin). Default: the first 4 of
   * `region`'s location, else of "local" (0-3), as the Worker's default
   * EDGEKEEPER_HOSTS_PER_LOCATION of 4.
   */
  newSessionHosts?: readonly number[];
  /** One line per event worth knowing (bad frames, failed connects). Default: stderr. */
  log?: (line: string) => void;
  WebSocket?: WebSocketConstructor;
  /** Most TCP connections held, in all and per client address (connection-limits.ts); more are closed. */
  bounds?: Partial<ConnectionBounds>;
  /** Record each request's hops for the benchmark (the four-letter word `hops`); the Worker must trace too. Default off. */
  traceHops?: boolean;
}

export interface Bridge {
  readonly host: string;
  readonly port: number;
  /** Stops listening and drops every connection and link (sessions live on at their hosts until they time out). */
  close(): Promise<void>;
}

/**
 * @example
 * const bridge = await startBridge({ url: "http://127.0.0.1:8787", port: 2181 });
 * // zkCli.sh -server 127.0.0.1:2181
 * await bridge.close();
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const host = options.host ?? "127.0.0.1";
  const hosts = options.newSessionHosts ?? Array.from({ length: DEFAULT_HOSTS_PER_LOCATION }, (_, bucket) => hostNumberOf(options.region ?? "local", bucket));
  let next = 0;
  let highest = 0;
  const upstream = { url: options.url, namespace: options.namespace ?? "default", ...(options.token ? { token: options.token } : {}), ...(options.region ? { region: options.region } : {}) };
  const links = new HostLinks({ ...upstream, ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}) });
  const sessions = new Map<number, BridgeSession>();
  const connections = new Set<ConnectionView>();
  const log = options.log ?? ((line: string) => console.error(line));
  const bounds: ConnectionBounds = { ...DEFAULT_CONNECTION_BOUNDS, ...options.bounds };
  const count = new ConnectionCount(bounds);
  const refusals = new BurstLog(log);
  let server: Server;
  let upstreamFailing = false;
  const context: BridgeContext = {
    links,
    sessions,
    connections,
    counters: new ServerCounters(),
    get port() {
      return (server.address() as { port: number } | null)?.port ?? options.port ?? 2181;
    },
    maxBufferBytes: options.maxBufferBytes ?? DEFAULT_MAX_BUFFER,
    upstreamUrl: options.url,
    fourLetterWords: parseFourLetterWords(options.fourLetterWords ?? DEFAULT_FOUR_LETTER_WORDS),
    pickHost: () => hosts[next++ % hosts.length]!,
    highestZxid: () => highest,
    noteZxid: (zxid) => {
      if (zxid > highest) highest = zxid;
    },
    handshakeTimeouts: new BurstLog(log),
    hops: options.traceHops ? new HopLog() : undefined,
    // Logged once until the Worker answers again: monitors poll these words often.
    adminCommand: (command) =>
      fetchAdminCommand(upstream, command).then(
        (answer) => {
          upstreamFailing = false;
          return answer;
        },
        (err: unknown) => {
          if (!upstreamFailing) log(`four-letter word: no numbers from the Worker (${err instanceof Error ? err.message : String(err)}); answering with the bridge's own`);
          upstreamFailing = true;
          return undefined;
        },
      ),
    log,
  };
  server = createServer((socket) => {
    const address = peerAddress(socket) ?? "?";
    if (!count.admit(address)) {
      refusals.note(`bridge: refused ${address}: at most ${bounds.maxConnections} connections, ${bounds.maxConnectionsPerAddress} per address`);
      socket.destroy();
      return;
    }
    socket.once("close", () => count.release(address));
    new ZkConnection(socket, context);
  });
  server.listen({ host, port: options.port ?? 2181, exclusive: true });
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return {
    host,
    port,
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      for (const connection of [...connections]) (connection as ZkConnection).close();
      links.closeAll();
      refusals.flush();
      context.handshakeTimeouts.flush();
      await closed;
    },
  };
}
