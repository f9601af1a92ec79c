import { defineConfig } from "vitest/config";
import { TEST_REGIONS_VARIABLE } from "./test/harness/caller-region.ts";
import { testReporters } from "./test/harness/ci-report.ts";
import e2e from "./vitest.e2e.config.ts";

// The surfaces ZooKeeper's users meet, run again with simulated regions: every
// `npm start` of these files simulates the five regions (leaders in wnam) and the
// tests' callers stand in enam (test/harness/caller-region.ts), so their reads go
// through enam's replicas and their writes cross to wnam. The files: the
// conformance suite over the bridge, zkCli.sh, kazoo and node-zookeeper-client
// through the bridge and their resumes after cuts, partitions and restarts, the
// TypeScript client end to end and its recipes (locks, leases, elections,
// discovery, caches, queues, counters, barriers, the HTTP ones). The queues,
// counters and barriers take about 3 minutes of this run: their contention pays a
// cross-region round trip per retry.
// EDGEKEEPER_TEST_REGIONS in the environment picks other regions.
export default defineConfig({
  test: {
    ...e2e.test,
    include: [
      "test/conformance/conformance.test.ts",
      "test/e2e/bridge.test.ts",
      "test/client/e2e.test.ts",
      "test/client/recipes.test.ts",
      "test/client/recipes-discovery.test.ts",
      "test/client/recipes-http.test.ts",
      "test/client/recipes-coordination.test.ts",
      "test/e2e/bridge-resume.test.ts",
    ],
    env: { ...e2e.test?.env, [TEST_REGIONS_VARIABLE]: process.env[TEST_REGIONS_VARIABLE] || "wnam,enam,weur,apac,oc" },
    // Plus a JSON report for .ci/run when EDGEKEEPER_TEST_REPORT_DIR is set.
    reporters: testReporters("regions"),
  },
});
