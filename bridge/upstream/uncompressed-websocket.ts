/**
 * The WebSocket the bridge opens to its session hosts: Node's own, without the
 * permessage-deflate offer that Node's WebSocket (undici's) makes on every socket.
 *
 * workerd takes that offer, and then a host compresses every answer frame, in the one
 * thread that serves all its sessions, while the bridge inflates each on zlib's thread
 * pool: one more turn of the event loop per frame, which also splits the answers of
 * pipelined requests, and so the requests they release, into smaller frames. Measured
 * with 64 getData in flight through the bridge, the offer cost 14-25% of the host's
 * CPU per request and 40% of the bridge's, and cut the bridge's frames to the host
 * from about 17 requests to 7.
 * Between the bridge and its hosts CPU is dearer than bytes, so the link's sockets go
 * out through a dispatcher that drops the offer (undici's `dispatcher` option).
 */
import { type WebSocketConstructor, defaultWebSocket } from "../../client/core/socket.ts";

/** The part of an undici dispatcher the WebSocket's opening request uses. */
interface Dispatcher {
  dispatch(options: { headers?: unknown }, handler: unknown): boolean;
}

/** Where undici (Node's included) keeps its global dispatcher, shared across undici copies. */
const GLOBAL_DISPATCHER = Symbol.for("undici.globalDispatcher.1");
const EXTENSIONS_HEADER = "sec-websocket-extensions";

/** Request headers (undici passes an object, or a flat [name, value, ...] list) without the extensions offer. */
export function withoutExtensionsOffer(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    const kept: unknown[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() !== EXTENSIONS_HEADER) kept.push(headers[i], headers[i + 1]);
    }
    return kept;
  }
  if (typeof headers === "object" && headers !== null) {
    return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== EXTENSIONS_HEADER));
  }
  return headers;
}

/**
 * Node's WebSocket, opening without the compression offer, with the bearer token (if
 * any) in its Authorization header (Node's WebSocket takes headers; never in the URL).
 *
 * @example
 * const ws = new (uncompressedWebSocket("token"))("ws://127.0.0.1:8787/v1/sessions/socket");
 * // ws.extensions === ""
 */
export function uncompressedWebSocket(token: string | undefined): WebSocketConstructor {
  const Native = defaultWebSocket() as unknown as new (url: string, init: object) => object;
  const headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  return class UncompressedWebSocket extends Native {
    constructor(url: string) {
      super(url, { headers, dispatcher: withoutOffer });
    }
  } as unknown as WebSocketConstructor;
}

/**
 * undici's global dispatcher, looked up per request (a dispatcher set later, a proxy
 * agent say, is still used), given the opening request without the offer.
 */
const withoutOffer: Dispatcher = {
  dispatch: (options, handler) => {
    const global = (globalThis as Record<symbol, Dispatcher | undefined>)[GLOBAL_DISPATCHER];
    if (!global) throw new Error("no undici global dispatcher: the bridge needs Node 22 or later");
    return global.dispatch({ ...options, headers: withoutExtensionsOffer(options.headers) }, handler);
  },
};
