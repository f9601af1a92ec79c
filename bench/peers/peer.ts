/** What every peer module returns once its server answers. */
import type { GroupRss } from "../procs.ts";
import type { SessionDriver } from "../session-workloads.ts";
import type { Target } from "../workloads.ts";

export interface Peer {
  /** Column name in the report. */
  name: string;
  /** Version and how it was reached, for the report's notes. */
  description: string;
  target: Target;
  /** The base URL of edgekeeper's HTTP API. */
  httpBase?: string;
  /** host:port where ZooKeeper clients connect: ZooKeeper's port, or edgekeeper's wire bridge. */
  zookeeperAddress?: string;
  /** Ways to open sessions (W1-W3 through a session client, W4, W6); none for a sessionless peer. */
  sessions?: SessionDriver[];
  /** The resident memory of all the server's processes, in bytes (W6). */
  rss?(): Promise<GroupRss>;
  /** CPU time (ms, user and system) the server's workerd has used so far (edgekeeper only). */
  workerdCpuMs?(): Promise<number>;
  /** Closes the client, stops the server's process group, removes its temp dir. */
  stop(): Promise<void>;
}

/** Why a peer was not measured (not installed, failed to start). */
export class PeerUnavailable extends Error {
  override name = "PeerUnavailable";
}
