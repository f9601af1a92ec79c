import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { testReporters } from "./test/harness/ci-report.ts";

// Tests of the Worker and its objects run inside workerd, with real SQLite and alarms.
// Local-only settings: no bearer token, a short container reap delay, a short session
// tick, small answer and change-log bounds so the limit tests stay fast.
const bindings = {
  EDGEKEEPER_LOCAL: "1",
  EDGEKEEPER_CONTAINER_REAP_MS: "50",
  // Session timeouts of 400 ms to 4 s, so expiry tests run in real time.
  EDGEKEEPER_TICK_MS: "200",
  // Small enough that a test can fill a host.
  EDGEKEEPER_MAX_SESSIONS_PER_HOST: "30",
  // Small enough that a test can reach it.
  EDGEKEEPER_MAX_MOUNTS: "3",
  // Small enough that a snapshot of a few nodes takes several pages.
  EDGEKEEPER_SNAPSHOT_PAGE_BYTES: "2000",
  EDGEKEEPER_SUPER_DIGEST: "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
  // Small enough that a test reaches them with a few values at the limit.
  EDGEKEEPER_MAX_ANSWER_BYTES: "2097152",
  EDGEKEEPER_MAX_CHANGE_LOG_BYTES: "4194304",
  // Small enough that a test trims the replication log by count, and a long poll ends soon.
  EDGEKEEPER_CHANGE_LOG_WINDOW: "64",
  EDGEKEEPER_REPLICATION_LONG_POLL_MS: "500",
  // Short enough that a test sees an unread replica stop (its watchdog alarm, which a test runs, checks it).
  EDGEKEEPER_REPLICA_IDLE_MS: "3000",
  // The test pool requires no_handle_cross_request_promise_resolution, under which
  // requests cannot share shard RPCs (test/e2e/shared-rpcs.test.ts tests that they do).
  EDGEKEEPER_SHARED_RPCS: "0",
  // No request log in test output; failures still print.
  EDGEKEEPER_LOG_LEVEL: "warn",
};

/** Tests of simulated regions, whose objects all run with EDGEKEEPER_REGIONS set (their own workerd). */
const REGION_TESTS = ["test/worker/socket-replica-watches.test.ts", "test/worker/write-origins.test.ts", "test/worker/leader-move.test.ts"];
/**
 * A geo-tier shard's failover: three regions (the tier needs three), a leader silent for
 * 2 s failed over. `npm test` runs it after the others, not beside them: its writers and
 * failovers load the machine enough to make the region tests' timing-sensitive waits fail.
 */
const GEO_TESTS = ["test/worker/geo-failover.test.ts"];
/** The replication chaos test: its objects see regions as `npm start -- --regions` sets them, and nothing else differs. */
const CHAOS_TESTS = ["test/worker/replication-chaos.test.ts", "test/worker/cross-shard-chaos.test.ts"];

/** One workerd run of `include`, its objects given `settings`. */
function workerd(name: string, include: string[], settings: Record<string, string>, exclude: string[] = []) {
  return {
    plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings: settings } })],
    test: { name, include, exclude },
  };
}

export default defineConfig({
  test: {
    projects: [
      workerd("workerd", ["test/durable/**/*.test.ts", "test/worker/**/*.test.ts"], bindings, [...REGION_TESTS, ...GEO_TESTS, ...CHAOS_TESTS]),
      // Leaders in enam, a replica in apac. A session host tries its replica again a
      // second after leaving it; pages of about one entry, so that a test can put a
      // stopped replica several round trips behind.
      workerd("workerd-regions", REGION_TESTS, { ...bindings, EDGEKEEPER_REGIONS: "enam,apac", EDGEKEEPER_HOME_RETRY_MS: "1000", EDGEKEEPER_REPLICATION_PAGE_BYTES: "2000" }),
      // Leaders in enam, replicas in weur and apac.
      workerd("workerd-geo", GEO_TESTS, { ...bindings, EDGEKEEPER_REGIONS: "enam,weur,apac", EDGEKEEPER_FAILOVER_DETECT_MS: "2000" }),
      workerd("workerd-chaos", CHAOS_TESTS, { ...bindings, EDGEKEEPER_REGIONS: "enam,weur,apac" }),
    ],
    reporters: testReporters("workerd"),
  },
});
