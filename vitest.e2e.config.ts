import { defineConfig } from "vitest/config";

// End-to-end tests run in plain Node: they start the local server as a user would
// (`npm start`) and talk to it over the network. The main config runs tests in workerd.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    // Starting workerd on 2 shared cores can take a while under load.
    testTimeout: 600_000,
    hookTimeout: 120_000,
    // Each test starts its own servers on free ports; one file at a time keeps load low.
    fileParallelism: false,
  },
});
