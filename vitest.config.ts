import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Tests of the Worker and its objects run inside workerd, with real SQLite and alarms.
// Local-only settings: no bearer token, a short container reap delay, a small value
// limit so the limit tests stay fast.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          EDGEKEEPER_LOCAL: "1",
          EDGEKEEPER_CONTAINER_REAP_MS: "50",
          EDGEKEEPER_SUPER_DIGEST: "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
        },
      },
    }),
  ],
  test: {
    include: ["test/durable/**/*.test.ts", "test/worker/**/*.test.ts"],
  },
});
