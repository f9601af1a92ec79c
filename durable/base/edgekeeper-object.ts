/**
 * The base of every edgekeeper Durable Object class (ShardDO, SessionHost,
 * DirectoryDO): its settings, read from the environment once as it starts
 * (durable/base/settings.ts), so no class parses a setting of its own.
 */
import { DurableObject } from "cloudflare:workers";
import type { EdgekeeperEnv } from "../env.ts";
import { type ObjectSettings, settingsFromEnv } from "./settings.ts";

/**
 * @example
 * export class ShardDO extends EdgekeeperObject {
 *   // this.settings.limits, this.settings.containerReapMs, ...
 * }
 */
export abstract class EdgekeeperObject extends DurableObject<EdgekeeperEnv> {
  /** The deployment's settings, parsed with their defaults and bounds. */
  protected readonly settings: ObjectSettings;

  constructor(ctx: DurableObjectState, env: EdgekeeperEnv) {
    super(ctx, env);
    this.settings = settingsFromEnv(env);
  }
}
