/**
 * The jute codec for ZooKeeper's wire protocol, as 3.5-3.9 clients speak it.
 * Web-standard APIs only (Uint8Array, DataView, TextEncoder/TextDecoder).
 *
 * - primitives.ts: JuteReader/JuteWriter (int, long as bigint, boolean, buffer, ustring, vector)
 * - records.ts: the records of zookeeper.jute (Stat, ACL, ConnectRequest, headers, bodies)
 * - messages.ts: the op table, multi, and encode/decode of whole requests and replies
 * - frames.ts: the length-prefixed framing and jute.maxbuffer
 * - errors.ts: JuteFatalError (close), JuteMarshallingError (reply -5), JuteUnimplementedError (reply -6, close)
 */
export * from "./errors.ts";
export * from "./frames.ts";
export * from "./messages.ts";
export * from "./opcodes.ts";
export * from "./primitives.ts";
export * from "./records.ts";
