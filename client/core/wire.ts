/**
 * What crosses the socket: values to and from base64, frames to and from JSON,
 * error bodies back into KeeperErrors. Pure functions, tested on their own.
 */
import { bytesToBase64, base64ToBytes } from "../../protocol/encoding.ts";
import { KeeperError, type KeeperErrorBody, type KeeperErrorName, KEEPER_ERRORS, keeperErrorByCode } from "../../protocol/errors.ts";
import { CLIENT_FRAME_BYTES, PONG_FRAME, type ClientMessage, type ServerMessage, framesOf } from "../../protocol/session-protocol.ts";

/** A znode value as callers give it: bytes, or a string (sent UTF-8 encoded). */
export type Data = Uint8Array | string;

const utf8 = new TextEncoder();

/**
 * The bytes of a value.
 *
 * @example
 * toBytes("hi"); // Uint8Array [104, 105]
 */
export function toBytes(data: Data | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === "string" ? utf8.encode(data) : data;
}

/**
 * A value as the session protocol carries it: base64.
 *
 * @example
 * encodeValue("hi"); // "aGk="
 */
export function encodeValue(data: Data | undefined): string {
  return bytesToBase64(toBytes(data));
}

/**
 * A value from the wire; missing is empty, as a null value is in ZooKeeper.
 *
 * @example
 * decodeValue("aGk="); // Uint8Array [104, 105]
 */
export function decodeValue(data: unknown): Uint8Array {
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data !== "string") throw new KeeperError("MarshallingError", "the server sent a value that is not a base64 string");
  return base64ToBytes(data);
}

/**
 * Client messages as the frames they are sent in: JSON arrays, in order, split so
 * that none passes what a host takes (CLIENT_FRAME_BYTES).
 *
 * @example
 * encodeFrames([{ t: "connect", ref: 1, timeoutMs: 10000 }]); // ['[{"t":"connect","ref":1,"timeoutMs":10000}]']
 */
export function encodeFrames(messages: readonly ClientMessage[]): string[] {
  return framesOf(messages, CLIENT_FRAME_BYTES);
}

/** What a received text frame holds: a pong, or server messages. */
export type Incoming = { pong: true } | { pong: false; messages: ServerMessage[] };

/**
 * Parses a received frame. A frame is an array of messages; a lone message object
 * is accepted too. Anything else is MarshallingError.
 *
 * @example
 * decodeFrame("pong"); // { pong: true }
 * decodeFrame('[{"t":"expired","ref":1}]'); // { pong: false, messages: [{ t: "expired", ref: 1 }] }
 */
export function decodeFrame(text: string): Incoming {
  if (text === PONG_FRAME) return { pong: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeeperError("MarshallingError", "the server sent a frame that is not JSON");
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const message of list) {
    if (typeof message !== "object" || message === null || typeof (message as { t?: unknown }).t !== "string") {
      throw new KeeperError("MarshallingError", "the server sent a message without a type");
    }
  }
  return { pong: false, messages: list as ServerMessage[] };
}

/**
 * Rebuilds a KeeperError from an error body as the server sends it; a body with an
 * unknown name falls back to its code, then to SystemError.
 *
 * @example
 * errorFromBody({ name: "NoNode", code: -101, message: "no node: /a", path: "/a" }).keeperName; // "NoNode"
 */
export function errorFromBody(body: Partial<KeeperErrorBody> | undefined): KeeperError {
  const name: KeeperErrorName =
    body?.name && body.name in KEEPER_ERRORS
      ? body.name
      : (keeperErrorByCode(typeof body?.code === "number" ? body.code : -1).name as KeeperErrorName);
  return new KeeperError(name, typeof body?.message === "string" ? body.message : undefined, typeof body?.path === "string" ? body.path : undefined);
}

/**
 * The URL of the session socket on a server given by its base URL (http, https, ws
 * or wss; a path prefix is kept).
 *
 * @example
 * socketUrl("http://127.0.0.1:8787", { namespace: "app" });
 * // "ws://127.0.0.1:8787/v1/sessions/socket?namespace=app"
 */
export function socketUrl(base: string, query: { namespace?: string; session?: number; region?: string }): string {
  const url = new URL(base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new KeeperError("BadArguments", `server ${base} must be an http(s) or ws(s) URL`);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/sessions/socket`;
  url.search = "";
  url.hash = "";
  if (query.namespace !== undefined) url.searchParams.set("namespace", query.namespace);
  if (query.session !== undefined) url.searchParams.set("session", String(query.session));
  if (query.region !== undefined) url.searchParams.set("region", query.region);
  return url.toString();
}
