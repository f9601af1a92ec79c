/**
 * The Worker's entry point: the Hono app, and the Durable Object classes it binds.
 */
import { app } from "./app.ts";

export { DirectoryDO } from "../durable/directory/directory-do.ts";
export { SessionHost } from "../durable/session/session-host.ts";
export { ShardDO } from "../durable/shard/shard-do.ts";

export default app;
