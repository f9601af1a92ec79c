import { defineConfig } from "vitest/config";
import { TEST_REGIONS_VARIABLE } from "./test/harness/caller-region.ts";
import { testReporters } from "./test/harness/ci-report.ts";
import e2e from "./vitest.e2e.config.ts";

// The surfaces users meet, run again with simulated regions: every `npm start` of
// these files simulates the five regions (leaders in wnam) and the tests' callers
// stand in enam (test/harness/caller-region.ts), so their reads go through enam's
// replicas and their writes cross to wnam. The files: the conformance suite over
// the bridge, zkCli.sh, kazoo and node-zookeeper-client through the bridge, with
// their resumes, ACLs on watches and fuzzed frames; the TypeScript client end to end,
// its sessions and all its recipes; HTTP and the socket with tokens, identities,
// shared RPCs, browsers' attacks, snapshots, monitoring and the console. The queues,
// counters and barriers take about 3 minutes of this run: their contention pays a
// cross-region round trip per retry.
// Left out: the HTTP refusals and the API fuzzer send methods HTTP does not define,
// which the Node front that stands callers in a region refuses before the server sees
// them (the server's own answer is tested without regions); the hop tracer, npm
// start's own checks, the package, the README and the example Workers test the
// tools and their start, not requests through regions; caller-region and regions
// tests choose regions themselves.
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
      "test/client/session.test.ts",
      "test/e2e/bridge-resume.test.ts",
      "test/e2e/bridge-acl-watches.test.ts",
      "test/e2e/bridge-fuzz.test.ts",
      "test/e2e/identity.test.ts",
      "test/e2e/token-mode.test.ts",
      "test/e2e/scoped-token-mode.test.ts",
      "test/e2e/shared-rpcs.test.ts",
      "test/e2e/browser-attacks.test.ts",
      "test/e2e/connect-storm.test.ts",
      "test/e2e/snapshot.test.ts",
      "test/e2e/metrics.test.ts",
      "test/e2e/console.test.ts",
    ],
    env: { ...e2e.test?.env, [TEST_REGIONS_VARIABLE]: process.env[TEST_REGIONS_VARIABLE] || "wnam,enam,weur,apac,oc" },
    // Plus a JSON report for .ci/run when EDGEKEEPER_TEST_REPORT_DIR is set.
    reporters: testReporters("regions"),
  },
});
