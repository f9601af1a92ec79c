import { defineConfig } from "vitest/config";
import { TEST_REGIONS_VARIABLE } from "./test/harness/caller-region.ts";
import { testReporters } from "./test/harness/ci-report.ts";
import e2e from "./vitest.e2e.config.ts";

// The surfaces ZooKeeper's users meet, run again with simulated regions: every
// `npm start` of these files simulates the five regions (leaders in wnam) and the
// tests' callers stand in enam (test/harness/caller-region.ts), so their reads go
// through enam's replicas and their writes cross to wnam. The files: the
// conformance suite over the bridge, zkCli.sh, kazoo and node-zookeeper-client
// through the bridge, the TypeScript client end to end and its recipes (locks,
// leases, elections, discovery, caches, the HTTP ones). Left out to keep the run
// near 5 minutes, and passing in this mode when run by hand
// (`EDGEKEEPER_TEST_REGIONS=wnam,enam,weur,apac,oc npx vitest run -c
// vitest.e2e.config.ts <file>`): test/client/recipes-coordination.test.ts
// (queues, counters, barriers: about 4 minutes here, their contention paying a
// cross-region round trip per retry) and test/e2e/bridge-resume.test.ts (1 minute).
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
    ],
    env: { ...e2e.test?.env, [TEST_REGIONS_VARIABLE]: process.env[TEST_REGIONS_VARIABLE] || "wnam,enam,weur,apac,oc" },
    // Plus a JSON report for .ci/run when EDGEKEEPER_TEST_REPORT_DIR is set.
    reporters: testReporters("regions"),
  },
});
