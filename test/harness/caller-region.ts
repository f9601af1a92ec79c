/**
 * Tests with simulated regions: with EDGEKEEPER_TEST_REGIONS set (say
 * `wnam,enam,weur,apac,oc`; vitest.regions.config.ts sets it), `startLocalServer`
 * runs `npm start -- --regions LIST` and stands the test's callers in the second
 * region, not the leader's (the first), so that every read a test makes can go
 * through that region's replicas and every write crosses to the leader:
 * - HTTP, socket upgrades included, through a front that adds `X-Edgekeeper-Region`
 *   to each request that names no region (as the edge location would);
 * - ZooKeeper clients through `edgekeeper proxy --region`, the bridge a user in that
 *   region runs;
 * - the TypeScript client with `connect({ region })` where the harness opens it
 *   (`callerRegionOption`).
 *
 * @example
 * EDGEKEEPER_TEST_REGIONS=wnam,enam npx vitest run -c vitest.e2e.config.ts test/e2e/bridge.test.ts
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { type IncomingMessage, type Server, createServer, request as httpRequest } from "node:http";
import { type Socket, connect as tcpConnect } from "node:net";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { localTokens } from "../../bridge/cli/local-tokens.ts";
import { REGION_HEADER, type Region, parseRegions, roundTripMs } from "../../protocol/regions.ts";

export const TEST_REGIONS_VARIABLE = "EDGEKEEPER_TEST_REGIONS";

export interface CallerRegions {
  /** The simulated regions, the leader's first. */
  regions: Region[];
  /** Where the test's callers stand: never the leader's region. */
  caller: Region;
}

/** The regions EDGEKEEPER_TEST_REGIONS names and the callers' region (the second), or undefined when unset. */
export function testRegions(env: NodeJS.ProcessEnv = process.env): CallerRegions | undefined {
  const text = env[TEST_REGIONS_VARIABLE];
  if (!text) return undefined;
  const regions = parseRegions(text);
  if (regions.length < 2) throw new Error(`${TEST_REGIONS_VARIABLE} names ${text}: at least two regions, the leader's first, then the callers'`);
  return { regions, caller: regions[1]! };
}

/** `connect()`'s region option for the test's callers: empty unless tests run with simulated regions. */
export function callerRegionOption(): { region?: Region } {
  const regions = testRegions();
  return regions ? { region: regions.caller } : {};
}

/**
 * The simulated round trip from the callers' region to the leaders' (0 without
 * simulated regions). A fault a test repeats on a cadence (cutting every connection,
 * say) must leave a request time to finish between two, so cadences add a few of these.
 */
export function callersRoundTripMs(): number {
  const regions = testRegions();
  return regions ? roundTripMs(regions.caller, regions.regions[0]!) : 0;
}

/**
 * Who may serve a read of the test's callers that must see what they wrote (a
 * bookmark's read), as `X-Edgekeeper-Served-By` names it: the leader, or with
 * simulated regions the callers' replica once it has caught up, else the leader.
 */
export function bookmarkedReadServers(): string[] {
  const regions = testRegions();
  return regions ? [`${regions.caller}/replica`, `${regions.regions[0]}/leader`] : ["local/leader"];
}

const repoRoot = resolve(import.meta.dirname, "../..");
const regionHeader = REGION_HEADER.toLowerCase();

export interface RegionFront {
  base: string;
  port: number;
  close(): Promise<void>;
}

/**
 * An HTTP front on a free loopback port to 127.0.0.1:`upstreamPort` that adds
 * `X-Edgekeeper-Region: region` to every request that names none, upgrades to
 * WebSocket included. A connection the upstream refuses is closed, as a stopped server's would be.
 */
export async function startRegionFront(upstreamPort: number, region: Region): Promise<RegionFront> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const headers = { [regionHeader]: region, ...req.headers };
    const upstream = httpRequest({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers });
    let answered = false;
    upstream.on("response", (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode!, answer.statusMessage, answer.rawHeaders);
      answer.pipe(res);
      answer.on("end", () => (answered = true));
    });
    upstream.on("error", () => res.destroy());
    // A caller that goes away (a long poll it gave up, say) takes its upstream request with it.
    res.on("close", () => answered || upstream.destroy());
    req.pipe(upstream);
  });
  server.on("upgrade", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const upstream = tcpConnect(upstreamPort, "127.0.0.1");
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    if (req.headers[regionHeader] === undefined) lines.push(`${REGION_HEADER}: ${region}`);
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    upstream.write(head);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
    };
    sockets.add(client);
    upstream.on("error", end).on("close", end);
    client.on("error", end).on("close", end);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

export interface RegionBridge {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** EDGEKEEPER_TOKEN as npm start's bridge takes it from the server's token settings (none without them). */
function bridgeTokenFor(env: Record<string, string>): Record<string, string> {
  const { bridgeToken } = localTokens(env, undefined);
  return bridgeToken ? { EDGEKEEPER_TOKEN: bridgeToken } : {};
}

/** The line `edgekeeper proxy` prints once it listens. */
const PROXY_LISTENING = /edgekeeper: ZooKeeper protocol on 127\.0\.0\.1:(\d+) ->/;
const PROXY_START_LIMIT_MS = 60_000; // a limit for a stuck start, not a speed assertion

/**
 * `edgekeeper proxy --url url [--region region]` on a free port, with `env` as settings
 * (a token, connection bounds); resolves once it listens (it checks the URL first).
 * Given the server's token settings, it sends the token npm start's own bridge would
 * (EDGEKEEPER_TOKEN, else the admin token for every namespace in EDGEKEEPER_TOKENS).
 */
export async function startRegionBridge(url: string, region: Region | undefined, env: Record<string, string> = {}): Promise<RegionBridge> {
  const child: ChildProcess = spawn(process.execPath, ["bin/edgekeeper.js", "proxy", "--url", url, ...(region ? ["--region", region] : []), "--port", "0"], {
    cwd: repoRoot,
    env: { ...process.env, ...env, ...bridgeTokenFor(env) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const exited = once(child, "exit");
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!alive()) return;
    child.kill("SIGINT");
    if (await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])) return;
    child.kill("SIGKILL");
    await exited;
  };
  const deadline = Date.now() + PROXY_START_LIMIT_MS;
  while (!PROXY_LISTENING.test(text)) {
    if (!alive() || Date.now() > deadline) {
      await stop();
      throw new Error(`edgekeeper proxy${region ? ` --region ${region}` : ""} did not start:\n${text}`);
    }
    await sleep(50);
  }
  return { port: Number(PROXY_LISTENING.exec(text)![1]), output: () => text, stop };
}
