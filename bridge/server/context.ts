/** What a bridge's connections share: links to hosts, sessions, counters, settings. */
import type { HostLinks } from "../upstream/host-link.ts";
import type { UpstreamMonitor } from "../upstream/monitor.ts";
import type { FourLetterWordAllowlist } from "./four-letter.ts";
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
  /** The namespace's numbers from the Worker, or undefined when it does not give them (logged). */
  monitor(): Promise<UpstreamMonitor | undefined>;
  log(line: string): void;
}
