import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Tests of the Worker and its objects run inside workerd, with real SQLite and alarms.
// Local-only settings: no bearer token, a short container reap delay, a short session
// tick, a small value limit so the limit tests stay fast.
export default defineConfig({
  plugins: [
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
        },
      },
    }),
  ],
  test: {
    include: ["test/durable/**/*.test.ts", "test/worker/**/*.test.ts"],
  },
});
