import type { EdgekeeperEnv } from "../durable/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends EdgekeeperEnv {}
  }
}
