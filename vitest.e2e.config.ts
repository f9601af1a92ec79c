import { defineConfig } from "vitest/config";
import { testReporters } from "./test/harness/ci-report.ts";

// Tests that run in plain Node: end-to-end tests start the local server as a user
// would (`npm start`) and talk to it over the network; the client's tests drive it
// against a protocol double on loopback and, end to end, against `npm start`; the
// jute codec's tests talk to a real ZooKeeper over TCP; the conformance suite runs
// the same ZooKeeper-semantics cases against a real ZooKeeper 3.8 and the bridge;
// test/ci checks .ci/run's reading of the test reports on samples.
// test/sim checks the replication simulator and its checkers.
// The main config runs tests in workerd.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts", "test/client/**/*.test.ts", "test/jute/**/*.test.ts", "test/shell/**/*.test.ts", "test/conformance/**/*.test.ts", "test/ci/**/*.test.ts", "test/sim/**/*.test.ts", "test/replication/**/*.test.ts"],
    // Starting workerd on 2 shared cores can take a while under load.
    testTimeout: 600_000,
    hookTimeout: 120_000,
    // Each test starts its own servers on free ports; one file at a time keeps load low.
    fileParallelism: false,
    // Every `npm start` a test runs puts its ZooKeeper port on a free port unless the
    // test picks one, so that none needs 2181 (a real ZooKeeper may hold it).
    env: { EDGEKEEPER_ZK_PORT: "0" },
    // Plus a JSON report for .ci/run when EDGEKEEPER_TEST_REPORT_DIR is set.
    reporters: testReporters("node"),
  },
});
