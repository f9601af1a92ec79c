import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { testReporters } from "./test/harness/ci-report.ts";

// Tests of the Worker and its objects run inside workerd, with real SQLite and alarms.
// Local-only settings: no bearer token, a short container reap delay, a short session
// tick, small answer and change-log bounds so the limit tests stay fast. `extra`: the
// settings of one project only.
const workerd = (extra: Record<string, string> = {}) =>
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
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
          ...extra,
        },
      },
    });

// Tests of the simulated world: every object, not only the Worker, sees the regions,
// as under `npm start -- --regions` (session hosts and shards then call each other
// across regions, with their delays).
const WITH_REGIONS = ["test/worker/replication-chaos.test.ts"];

export default defineConfig({
  test: {
    projects: [
      { plugins: [workerd()], test: { name: "workerd", include: ["test/durable/**/*.test.ts", "test/worker/**/*.test.ts"], exclude: WITH_REGIONS } },
      { plugins: [workerd({ EDGEKEEPER_REGIONS: "enam,weur,apac" })], test: { name: "workerd-regions", include: WITH_REGIONS } },
    ],
    // Plus a JSON report for .ci/run when EDGEKEEPER_TEST_REPORT_DIR is set.
    reporters: testReporters("workerd"),
  },
});
