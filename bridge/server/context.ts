/** What a bridge's connections share: links to hosts, sessions, counters, settings. */
import type { HostLinks } from "../upstream/host-link.ts";
import type { UpstreamCommands } from "../upstream/monitor.ts";
import type { FourLetterWordAllowlist } from "./four-letter.ts";
import type { HopLog } from "./hop-log.ts";
import type { BurstLog } from "./burst-log.ts";
import type { BridgeSession } from "./session.ts";
import type { ConnectionCounters, ServerCounters } from "./stats.ts";

/** One connection, as the four-letter words list it. */
export interface ConnectionView {
  readonly remote: string;
  readonly counters: ConnectionCounters;
  readonly session: BridgeSession | undefined;
  /** Requests received and not yet answered. */
  readonly queued: number;
}

export interface BridgeContext {
  readonly links: HostLinks;
  /** Live sessions by id (attached to a connection or waiting for a resume). */
  readonly sessions: Map<number, BridgeSession>;
  readonly connections: Set<ConnectionView>;
  readonly counters: ServerCounters;
  readonly port: number;
  readonly maxBufferBytes: number;
  readonly upstreamUrl: string;
  /** The four-letter words answered; the others get ZooKeeper's refusal line. */
  readonly fourLetterWords: FourLetterWordAllowlist;
  /** A host for a new session. */
  pickHost(): number;
  /** The highest zxid any session has been told. */
  highestZxid(): number;
  noteZxid(zxid: number): void;
  /** A Worker admin command's answer (the namespace's numbers), or undefined when it does not give it (logged). */
  adminCommand<K extends keyof UpstreamCommands>(command: K): Promise<UpstreamCommands[K] | undefined>;
  log(line: string): void;
  /** Connections closed for not finishing their handshake in time: one line per burst. */
  readonly handshakeTimeouts: BurstLog;
  /** Hop records of answered requests, only when tracing (--trace-hops). */
  readonly hops: HopLog | undefined;
}
