/**
 * A run's last fault: its leader recreated empty under its name, as a namespace reset
 * destroys and makes a shard again. It leads the epoch the old one had reached and
 * writes past the old one's last zxid, so its new log holds entries at the zxids the
 * replicas applied from the old log: only the log's identity tells them apart.
 */
import { zxidCounter, zxidEpoch } from "../../protocol/index.ts";
import { ShardNode, type SimEnv } from "./nodes.ts";

/** The session the recreated leader's writes come from (no simulated session has it). */
const RESET_SESSION = 1_000_000;

/** Most writes the recreated leader makes beyond the old one's last counter (fewer than its log keeps). */
const EXTRA_WRITES = 20;

/** Ends `old` for good and starts a new, empty leader under its name; answers the new one. */
export function recreateLeader(old: ShardNode, env: SimEnv): ShardNode {
  const last = old.meta().appliedZxid;
  // For good: a restart still pending from an earlier crash must not bring it back over the new one.
  old.destroyed = true;
  old.crash();
  const leader = new ShardNode(old.name, env);
  leader.start();
  leader.core!.activate(Math.max(1, zxidEpoch(last)));
  const writes = zxidCounter(last) + env.prng.int(1, EXTRA_WRITES);
  for (let i = 0; i < writes; i++) leader.core!.write(RESET_SESSION, i + 1, { op: "create", path: `/reset-${i}`, data: String(i) });
  return leader;
}
