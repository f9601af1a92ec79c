/**
 * What every part of edgekeeper shares: the data model's rules and types, the
 * KeeperError table, limits. Web-standard APIs only: runs in Node, browsers and workerd.
 */
export * from "./acl.ts";
export * from "./bookmark.ts";
export * from "./changes.ts";
export * from "./encoding.ts";
export * from "./errors.ts";
export * from "./hops.ts";
export * from "./ip-address.ts";
export * from "./limits.ts";
export * from "./log-levels.ts";
export * from "./metrics.ts";
export * from "./modes.ts";
export * from "./operations.ts";
export * from "./paths.ts";
export * from "./read-modes.ts";
export * from "./session-password.ts";
export * from "./snapshot.ts";
export * from "./scopes.ts";
export * from "./stat.ts";
export * from "./watch-matching.ts";
export * from "./zxid.ts";
