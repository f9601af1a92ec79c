/** What every peer module returns once its server answers. */
import type { Target } from "../workloads.ts";

export interface Peer {
  /** Column name in the report. */
  name: string;
  /** Version and how it was reached, for the report's notes. */
  description: string;
  target: Target;
  /** Closes the client, stops the server's process group, removes its temp dir. */
  stop(): Promise<void>;
}

/** Why a peer was not measured (not installed, failed to start). */
export class PeerUnavailable extends Error {
  override name = "PeerUnavailable";
}
