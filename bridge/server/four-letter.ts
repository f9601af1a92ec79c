/**
 * The four-letter words on the ZooKeeper port, case-sensitive, in ZooKeeper 3.8's
 * output formats (compared with a real 3.8 in test/bridge): the answer, then close.
 *
 * stat, srvr, mntr and wchs report the namespace as the Worker's admin commands
 * give it (upstream/monitor.ts): nodes, ephemerals, data size, sessions, watches and
 * outstanding requests over every shard and session host, and each shard's last
 * zxid (by shard name, never by path: anyone who reaches the port may ask). When
 * the Worker does not give them, those words fall back to what the bridge knows (its
 * own sessions and watches; 0 for the tree). wchc, wchp and cons list the bridge's own. Connections, packets and latency are
 * the bridge's own, as a ZooKeeper server's are its own. `dump` lists no ephemerals.
 *
 * Which words are answered is an allowlist, as ZooKeeper's `4lw.commands.whitelist`:
 * a word not on it gets 3.8's refusal line. By default the words that reveal the
 * host's environment or other clients' sessions, or reset the server's counters
 * (envi, srst, cons, dump, wchc, wchp), are off.
 */
import { arch, freemem, hostname, release, totalmem, type as osType, userInfo } from "node:os";
import { SERVER_VERSION } from "../../protocol/index.ts";
import type { UpstreamMonitor } from "../upstream/monitor.ts";
import type { BridgeContext, ConnectionView } from "./context.ts";

export const BRIDGE_VERSION = SERVER_VERSION;
const BUILT = "built on 1970-01-01 00:00 UTC";

const WORDS = ["ruok", "isro", "stat", "srvr", "conf", "cons", "envi", "mntr", "wchs", "wchc", "wchp", "dump", "crst", "srst"] as const;

/** `hops` is one only on a bridge that traces hops (the benchmark's); elsewhere its bytes are read as ZooKeeper reads any. */
export function isFourLetterWord(word: string, context: Pick<BridgeContext, "hops">): boolean {
  return (WORDS as readonly string[]).includes(word) || (word === "hops" && context.hops !== undefined);
}

/** The words answered when no allowlist is given (EDGEKEEPER_4LW_COMMANDS, --4lw). */
export const DEFAULT_FOUR_LETTER_WORDS = "ruok,isro,stat,srvr,conf,mntr,wchs,crst";

/** Which words are answered: "*" for all. */
export type FourLetterWordAllowlist = ReadonlySet<string> | "*";

/**
 * A comma list of words (spaces around them ignored, as ZooKeeper does), or "*".
 * Words the bridge does not answer may be listed; they still just close.
 *
 * @example
 * parseFourLetterWords("ruok, srvr"); // Set { "ruok", "srvr" }
 */
export function parseFourLetterWords(list: string): FourLetterWordAllowlist {
  const words = list.split(",").map((word) => word.trim()).filter((word) => word !== "");
  return words.includes("*") ? "*" : new Set(words);
}

const allowed = (allowlist: FourLetterWordAllowlist, word: string) => allowlist === "*" || allowlist.has(word);

const hex = (n: number) => `0x${n.toString(16)}`;

function connectionLine(c: ConnectionView, self: ConnectionView, detailed: boolean): string {
  const base = ` /${c.remote}[${c === self ? 0 : 1}](queued=${c.queued},recved=${c.counters.received},sent=${c.counters.sent}`;
  if (!detailed || !c.session) return `${base})`;
  const k = c.counters;
  return (
    `${base},sid=${hex(c.session.id)},lop=${k.lastOp},est=${k.establishedAt},to=${c.session.timeoutMs},lcxid=${hex(k.lastCxid)},` +
    `lzxid=${hex(k.lastZxid)},lresp=${k.lastResponseAt},llat=${k.lastLatency},minlat=${k.latency.min},avglat=${Math.round(k.latency.count ? k.latency.total / k.latency.count : 0)},maxlat=${k.latency.max})`
  );
}

/** The root shard's last zxid (ZooKeeper's one zxid, in a namespace of one shard), else the highest the bridge saw. */
function zxidOf(context: BridgeContext, monitor: UpstreamMonitor | undefined): number {
  return monitor?.shards.find((s) => s.prefix === "/")?.last_zxid ?? context.highestZxid();
}

function serverLines(context: BridgeContext, monitor: UpstreamMonitor | undefined): string {
  const c = context.counters;
  return [
    `Latency min/avg/max: ${c.latency.min}/${c.latency.avgText}/${c.latency.max}`,
    `Received: ${c.received}`,
    `Sent: ${c.sent}`,
    `Connections: ${context.connections.size + 1}`,
    `Outstanding: ${monitor?.outstanding_requests ?? 0}`,
    `Zxid: ${hex(zxidOf(context, monitor))}`,
    "Mode: standalone",
    `Node count: ${monitor?.znode_count ?? 0}`,
    "",
  ].join("\n");
}

/** Whether a word reports the namespace's numbers (and so asks the Worker). */
const NEEDS_MONITOR = new Set(["stat", "srvr", "mntr"]);

function watchesBySession(context: BridgeContext): { id: number; paths: string[]; count: number }[] {
  return [...context.sessions.values()].filter((s) => s.watches.count > 0).map((s) => ({ id: s.id, paths: s.watches.paths, count: s.watches.count }));
}

/** The answer to one word (`self` is the asking connection, listed as ZooKeeper lists it). */
export async function runFourLetterWord(context: BridgeContext, word: string, self: ConnectionView): Promise<string> {
  // Not ZooKeeper's: the benchmark's hop records, whatever the allowlist (--trace-hops is the opt-in).
  if (word === "hops" && context.hops) return context.hops.take();
  if (!allowed(context.fourLetterWords, word)) return `${word} is not executed because it is not in the whitelist.\n`;
  const version = `Zookeeper version: ${BRIDGE_VERSION}, ${BUILT}`;
  const others = [...context.connections];
  const monitor = NEEDS_MONITOR.has(word) ? await context.adminCommand("monitor") : undefined;
  switch (word) {
    case "ruok":
      return "imok";
    case "isro":
      return "rw";
    case "srvr":
      return `${version}\n${serverLines(context, monitor)}`;
    case "stat":
      return `${version}\nClients:\n${[...others, self].map((c) => `${connectionLine(c, self, false)}\n`).join("")}\n${serverLines(context, monitor)}`;
    case "cons":
      return `${[self, ...others].map((c) => `${connectionLine(c, self, true)}\n`).join("")}\n`;
    case "conf":
      return [
        `clientPort=${context.port}`,
        "secureClientPort=-1",
        `upstream=${context.upstreamUrl}`,
        "tickTime=2000",
        "maxClientCnxns=0",
        "minSessionTimeout=4000",
        "maxSessionTimeout=40000",
        "clientPortListenBacklog=-1",
        `jute.maxbuffer=${context.maxBufferBytes}`,
        "serverId=0",
        "",
      ].join("\n");
    case "envi": {
      const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}MB`;
      const memory = process.memoryUsage();
      return [
        "Environment:",
        `zookeeper.version=${BRIDGE_VERSION}, ${BUILT}`,
        `host.name=${hostname()}`,
        `java.version=${process.version}`,
        "java.vendor=Node.js",
        `java.home=${process.execPath}`,
        "java.class.path=",
        "java.library.path=",
        "java.io.tmpdir=/tmp",
        "java.compiler=<NA>",
        `os.name=${osType()}`,
        `os.arch=${arch() === "x64" ? "amd64" : arch()}`,
        `os.version=${release()}`,
        `user.name=${userInfo().username}`,
        `user.home=${userInfo().homedir}`,
        `user.dir=${process.cwd()}`,
        `os.memory.free=${mb(freemem())}`,
        `os.memory.max=${mb(totalmem())}`,
        `os.memory.total=${mb(memory.rss)}`,
        "",
      ].join("\n");
    }
    case "mntr": {
      const c = context.counters;
      const watchCount = monitor?.watch_count ?? watchesBySession(context).reduce((n, s) => n + s.count, 0);
      const rows: [string, string | number][] = [
        ["zk_version", `${BRIDGE_VERSION}, ${BUILT}`],
        ["zk_server_state", "standalone"],
        ["zk_ephemerals_count", monitor?.ephemerals_count ?? 0],
        ["zk_num_alive_connections", context.connections.size + 1],
        ["zk_avg_latency", c.latency.avgText],
        ["zk_outstanding_requests", monitor?.outstanding_requests ?? 0],
        ["zk_znode_count", monitor?.znode_count ?? 0],
        ["zk_global_sessions", monitor?.global_sessions ?? context.sessions.size],
        ["zk_packets_sent", c.sent],
        ["zk_packets_received", c.received],
        ["zk_watch_count", watchCount],
        ["zk_auth_failed_count", c.authFailed],
        ["zk_min_latency", c.latency.min],
        ["zk_max_latency", c.latency.max],
        ["zk_approximate_data_size", monitor?.approximate_data_size ?? 0],
        ["zk_local_sessions", 0],
        ["zk_uptime", Date.now() - c.startedAt],
        ["zk_session_host_links", context.links.count],
        // zxids are per shard; shards by name (a mount's path may not be readable by whoever asks).
        ...(monitor?.shards ?? []).map((s): [string, number] => [`zk_shard_last_zxid_${s.shard}`, s.last_zxid]),
      ];
      return rows.map(([k, v]) => `${k}\t${v}\n`).join("");
    }
    case "wchs": {
      const summary = await context.adminCommand("watch_summary");
      if (summary) return `${summary.num_connections} connections watching ${summary.num_paths} paths\nTotal watches:${summary.num_total_watches}\n`;
      const sessions = watchesBySession(context);
      const paths = new Set(sessions.flatMap((s) => s.paths));
      const total = sessions.reduce((n, s) => n + s.paths.length, 0);
      return `${sessions.length} connections watching ${paths.size} paths\nTotal watches:${total}\n`;
    }
    case "wchc":
      return `${watchesBySession(context)
        .map((s) => `${hex(s.id)}\n${s.paths.map((p) => `\t${p}\n`).join("")}`)
        .join("")}\n`;
    case "wchp": {
      const byPath = new Map<string, number[]>();
      for (const s of watchesBySession(context)) for (const p of s.paths) byPath.set(p, [...(byPath.get(p) ?? []), s.id]);
      return [...byPath.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([p, ids]) => `${p}\n${ids.map((id) => `\t${hex(id)}\n`).join("")}`)
        .join("");
    }
    case "dump": {
      const sessions = [...context.sessions.values()];
      const lines = ["SessionTracker dump:", `Session Sets (${sessions.length > 0 ? 1 : 0})/(${sessions.length}):`];
      if (sessions.length > 0) {
        lines.push(`${sessions.length} expire at ${new Date(Date.now() + Math.max(...sessions.map((s) => s.timeoutMs))).toUTCString()}:`);
        for (const s of sessions) lines.push(`\t${hex(s.id)}`);
      }
      lines.push("ephemeral nodes dump:", "Sessions with Ephemerals (0):", "Connections dump:", `Connections Sets (1)/(${others.length}):`);
      lines.push(`${others.length} expire at ${new Date().toUTCString()}:`);
      for (const c of others) lines.push(`\tip: /${c.remote} sessionId: ${hex(c.session?.id ?? 0)}`);
      return `${lines.join("\n")}\n`;
    }
    case "crst":
      for (const c of others) c.counters.latency.reset();
      return "Connection stats reset.\n";
    case "srst":
      context.counters.reset();
      return "Server stats reset.\n";
    default:
      return "";
  }
}
