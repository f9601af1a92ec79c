/**
 * The objects' settings (durable/base/settings.ts): each read from the environment
 * in one place, with its default when unset or invalid and its bounds.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CONTAINER_REAP_MS,
  DEFAULT_MAX_MOUNTS,
  DEFAULT_REPLICATION_LONG_POLL_MS,
  DEFAULT_REPLICATION_PULLS_IN_FLIGHT,
  DEFAULT_REPLICATION_PUSH_ENTRIES,
  DEFAULT_REPLICATION_STREAM_MS,
  DEFAULT_SOCKET_LIMITS,
  DEFAULT_TICK_MS,
  MAX_REPLICATION_PAGE_BYTES,
  MAX_REPLICATION_PULLS_IN_FLIGHT,
  MAX_REPLICATION_PUSH_ENTRIES,
  settingsFromEnv,
} from "../../durable/base/settings.ts";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { DEFAULT_LIMITS } from "../../protocol/index.ts";

const envOf = (vars: Record<string, string>): EdgekeeperEnv => vars as unknown as EdgekeeperEnv;

describe("object settings", () => {
  it("are the defaults when nothing is set", () => {
    const settings = settingsFromEnv(envOf({}));
    expect(settings.tickMs).toBe(DEFAULT_TICK_MS);
    expect(settings.containerReapMs).toBe(DEFAULT_CONTAINER_REAP_MS);
    expect(settings.maxMounts).toBe(DEFAULT_MAX_MOUNTS);
    expect(settings.socketLimits).toEqual(DEFAULT_SOCKET_LIMITS);
    expect(settings.limits.maxValueBytes).toBe(DEFAULT_LIMITS.maxValueBytes);
    expect(settings.traceHops).toBe(false);
    expect(settings.superDigest).toBeUndefined();
    expect(settings.logLevel).toBe("info");
  });

  it("take what is set, within bounds", () => {
    const settings = settingsFromEnv(
      envOf({
        EDGEKEEPER_TICK_MS: "200",
        EDGEKEEPER_CONTAINER_REAP_MS: "0",
        EDGEKEEPER_MAX_MOUNTS: "3",
        EDGEKEEPER_MAX_SESSIONS_PER_HOST: "30",
        EDGEKEEPER_TRACE_HOPS: "1",
        EDGEKEEPER_LOG_LEVEL: "WARN",
      }),
    );
    expect(settings).toMatchObject({ tickMs: 200, containerReapMs: 0, maxMounts: 3, traceHops: true, logLevel: "warn" });
    expect(settings.socketLimits.maxSessionsPerHost).toBe(30);
  });

  it("keep their defaults for values that are not valid", () => {
    const settings = settingsFromEnv(
      envOf({ EDGEKEEPER_TICK_MS: "0", EDGEKEEPER_CONTAINER_REAP_MS: "-5", EDGEKEEPER_MAX_MOUNTS: "2.5", EDGEKEEPER_MAX_FRAME_BYTES: "lots", EDGEKEEPER_LOG_LEVEL: "loud" }),
    );
    expect(settings).toMatchObject({ tickMs: DEFAULT_TICK_MS, containerReapMs: DEFAULT_CONTAINER_REAP_MS, maxMounts: DEFAULT_MAX_MOUNTS, logLevel: "info" });
    expect(settings.socketLimits.maxFrameBytes).toBe(DEFAULT_SOCKET_LIMITS.maxFrameBytes);
  });

  it("bound a shard's replication log by the change log's window and bytes, and its pages by 1 MiB", () => {
    const defaults = settingsFromEnv(envOf({}));
    expect(defaults.replication).toMatchObject({
      logMaxEntries: DEFAULT_LIMITS.changeLogWindow,
      logMaxBytes: DEFAULT_LIMITS.maxChangeLogBytes,
      pageMaxBytes: MAX_REPLICATION_PAGE_BYTES,
      longPollMs: DEFAULT_REPLICATION_LONG_POLL_MS,
      pullsInFlight: DEFAULT_REPLICATION_PULLS_IN_FLIGHT,
      pushEntriesInFlight: DEFAULT_REPLICATION_PUSH_ENTRIES,
      streamMs: DEFAULT_REPLICATION_STREAM_MS,
    });
    const set = settingsFromEnv(
      envOf({ EDGEKEEPER_CHANGE_LOG_WINDOW: "50", EDGEKEEPER_REPLICATION_PAGE_BYTES: String(8 * 1024 * 1024), EDGEKEEPER_REPLICATION_LONG_POLL_MS: "250", EDGEKEEPER_REPLICA_LEASE_MS: "9000" }),
    );
    expect(set.replication).toMatchObject({ logMaxEntries: 50, pageMaxBytes: MAX_REPLICATION_PAGE_BYTES, longPollMs: 250, replicaLeaseMs: 9000 });
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_PAGE_BYTES: "4096" })).replication.pageMaxBytes).toBe(4096);
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_PULLS_IN_FLIGHT: "2" })).replication.pullsInFlight).toBe(2);
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_PULLS_IN_FLIGHT: "1000" })).replication.pullsInFlight).toBe(MAX_REPLICATION_PULLS_IN_FLIGHT);
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_PUSH_ENTRIES: "16" })).replication.pushEntriesInFlight).toBe(16);
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_PUSH_ENTRIES: "100000" })).replication.pushEntriesInFlight).toBe(MAX_REPLICATION_PUSH_ENTRIES);
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_PUSH_ENTRIES: "0" })).replication.pushEntriesInFlight).toBe(DEFAULT_REPLICATION_PUSH_ENTRIES);
    // 0 turns streaming off; beyond a minute is refused (the default stays).
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_STREAM_MS: "0" })).replication.streamMs).toBe(0);
    expect(settingsFromEnv(envOf({ EDGEKEEPER_REPLICATION_STREAM_MS: "60001" })).replication.streamMs).toBe(DEFAULT_REPLICATION_STREAM_MS);
  });
});
