/**
 * `npx edgekeeper proxy --url <Worker URL>`: the wire bridge alone, in front of a
 * deployed Worker (or any edgekeeper URL), so that ZooKeeper clients connect to
 * 127.0.0.1:2181 unchanged.
 */
import { parseArgs } from "node:util";
import { type ProbeAnswer, probeSocketRoute } from "../../client/core/upgrade-probe.ts";
import { socketUrl } from "../../client/core/wire.ts";
import { type Region, refusesRegion, regionRefusal } from "../../protocol/regions.ts";
import { DEFAULT_FOUR_LETTER_WORDS } from "../server/four-letter.ts";
import { connectionBoundsFromEnv } from "../server/connection-limits.ts";
import { startBridge } from "../server/server.ts";
import { keepServingOnUncaughtErrors } from "./process-guard.ts";

export const PROXY_USAGE = `Usage: npx edgekeeper proxy --url <Worker URL> [options]

Runs the ZooKeeper wire-protocol bridge in front of an edgekeeper Worker. It checks
the URL and the token first, and refuses to run if the Worker does not take them.

Options:
  --url URL         the Worker's base URL (https://..., or http://127.0.0.1:8787)
  --token T         its bearer token (env EDGEKEEPER_TOKEN)
  --port N          ZooKeeper port to listen on (env EDGEKEEPER_ZK_PORT; default 2181)
  --host ADDR       address to listen on (default 127.0.0.1)
  --namespace NAME  the namespace sessions live in (default "default")
  --region R        the region the bridge stands in, on a Worker simulating regions
                    (npm start -- --regions): its sessions live there (default: the
                    Worker's first region)
  --max-buffer N    jute.maxbuffer in bytes (default 1048575)
  --4lw LIST        four-letter words answered, comma-separated, or "*" for all
                    (env EDGEKEEPER_4LW_COMMANDS; default ${DEFAULT_FOUR_LETTER_WORDS})
  -h, --help        print this help

It holds at most EDGEKEEPER_ZK_MAX_CONNECTIONS connections (default 10000) and
EDGEKEEPER_ZK_MAX_CONNECTIONS_PER_ADDRESS from one client address (default 2000).
Ctrl-C stops it.`;

function fail(message: string): never {
  console.error(`edgekeeper proxy: ${message}`);
  process.exit(1);
}

/**
 * Checks the URL and the token before serving: a proxy that starts and answers
 * `ruok` but fails every client's session later is worse than one that says why it
 * cannot run.
 */
async function checkUpstream(url: string, token: string | undefined, namespace: string | undefined, region: string | undefined): Promise<void> {
  let answer: ProbeAnswer;
  try {
    answer = await probeSocketRoute(socketUrl(url, { ...(namespace === undefined ? {} : { namespace }), ...(region === undefined ? {} : { region }) }), token);
  } catch (error) {
    fail(`--url ${url}: ${(error as Error).message}`);
  }
  switch (answer.kind) {
    case "accepted":
      return;
    case "refused":
      if (refusesRegion(answer.error.message)) fail(`--region ${region}: ${url} refuses it (${answer.error.message})`);
      fail(`${url} refuses ${token === undefined ? "requests without a token" : "this token"} (${answer.error.keeperName}: ${answer.error.message}); pass the Worker's token with --token or EDGEKEEPER_TOKEN`);
    case "unreachable":
      fail(`cannot reach ${url} (${answer.detail}); check --url`);
    case "foreign":
      fail(`${url} does not answer as an edgekeeper server (HTTP ${answer.status} from /v1/sessions/socket); check --url`);
  }
}

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        namespace: { type: "string" },
        region: { type: "string" },
        "max-buffer": { type: "string" },
        "4lw": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${PROXY_USAGE}`);
  }
  if (values.help) {
    console.log(PROXY_USAGE);
    return;
  }
  if (!values.url) fail(`--url is required\n\n${PROXY_USAGE}`);
  const portText = values.port ?? process.env.EDGEKEEPER_ZK_PORT ?? "2181";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) fail(`--port must be a port number, not "${portText}"`);
  const maxBuffer = values["max-buffer"] === undefined ? undefined : Number(values["max-buffer"]);
  if (maxBuffer !== undefined && !(Number.isSafeInteger(maxBuffer) && maxBuffer > 0)) fail("--max-buffer must be a positive integer");
  const token = values.token || process.env.EDGEKEEPER_TOKEN || undefined; // an empty one is none
  let bounds;
  try {
    bounds = connectionBoundsFromEnv(process.env);
  } catch (error) {
    fail((error as Error).message);
  }
  const refusal = values.region === undefined ? undefined : regionRefusal(values.region);
  if (refusal) fail(`--region: ${refusal}`);
  await checkUpstream(values.url, token, values.namespace, values.region);
  const bridge = await startBridge({
    url: values.url,
    port,
    bounds,
    ...(values.host ? { host: values.host } : {}),
    ...(token ? { token } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.region ? { region: values.region as Region } : {}),
    ...(maxBuffer ? { maxBufferBytes: maxBuffer } : {}),
    fourLetterWords: values["4lw"] ?? process.env.EDGEKEEPER_4LW_COMMANDS ?? DEFAULT_FOUR_LETTER_WORDS,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "EADDRINUSE") fail(`port ${port} is already in use (a ZooKeeper?); pick another with --port`);
    throw error;
  });
  console.log(`edgekeeper: ZooKeeper protocol on ${bridge.host}:${bridge.port} -> ${values.url}`);
  keepServingOnUncaughtErrors((line) => console.error(line));
  const stop = () => void bridge.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
