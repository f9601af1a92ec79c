/**
 * One WebSocket to a server, with the protocol's liveness rule: a "ping" text frame
 * every third of the negotiated timeout, and a socket that has said nothing (no
 * "pong", no message) for two thirds of it counts as dead. Web-standard WebSocket
 * only (Node 22+, browsers, Workers); older Node passes a constructor (e.g. `ws`).
 */
import { KeeperError } from "../../protocol/errors.ts";
import { PING_FRAME, type ClientMessage, type ServerMessage } from "../../protocol/session-protocol.ts";
import { decodeFrame, encodeFrames } from "./wire.ts";

/** The part of the WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}

/** A WebSocket constructor: the global one, or one from a library such as `ws`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;
/** Close code the client uses for a socket it gave up on (no pong in time). */
export const CLOSE_QUIET = 4000;

export interface SocketHandlers {
  onOpen(): void;
  onMessages(messages: ServerMessage[]): void;
  /** The socket closed, failed, or went quiet. Called at most once, never after close(). */
  onGone(why: string): void;
  /** A frame went out (pings too: the host counts them as signs of life). */
  onSent(): void;
}

/**
 * Whether the bearer token can go in an Authorization header: only Node's own
 * WebSocket (undici's, Node 22+) takes headers. A browser's cannot, and neither can
 * a constructor we do not know: there the token goes in the URL as `?token=`, which
 * the Worker accepts on the socket route only.
 */
function takesHeaders(WebSocketCtor: WebSocketConstructor): boolean {
  const global = globalThis as { WebSocket?: unknown; navigator?: { userAgent?: string } };
  return WebSocketCtor === global.WebSocket && global.navigator?.userAgent?.startsWith("Node.js/") === true;
}

/** Node's WebSocket constructor, which takes headers as `new WebSocket(url, { headers })`. */
type WebSocketWithHeaders = new (url: string, init: { headers: Record<string, string> }) => WebSocketLike;

/**
 * Opens a WebSocket carrying the bearer token: in the Authorization header where the
 * platform allows one (never in a URL that logs keep), else as `?token=`.
 */
function openWebSocket(WebSocketCtor: WebSocketConstructor, url: string, token: string | undefined): WebSocketLike {
  if (token === undefined) return new WebSocketCtor(url);
  if (takesHeaders(WebSocketCtor)) {
    return new (WebSocketCtor as unknown as WebSocketWithHeaders)(url, { headers: { Authorization: `Bearer ${token}` } });
  }
  const withToken = new URL(url);
  withToken.searchParams.set("token", token);
  return new WebSocketCtor(withToken.toString());
}

/** The global WebSocket, or a clear error where there is none (Node < 22). */
export function defaultWebSocket(): WebSocketConstructor {
  const ctor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!ctor) throw new KeeperError("BadArguments", "no global WebSocket here (Node < 22?): pass one as connect({ WebSocket })");
  return ctor;
}

/**
 * @example
 * const socket = new SessionSocket(WebSocket, "ws://127.0.0.1:8787/v1/sessions/socket", handlers, token);
 * socket.send([{ t: "connect", ref: 1, timeoutMs: 10_000 }]);
 */
export class SessionSocket {
  private readonly ws: WebSocketLike;
  /** No more frames in or out. */
  private gone = false;
  /** The session has been told (or closed the socket itself): it hears nothing more. */
  private ended = false;
  private lastHeardAt = Date.now();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private quietTimer: ReturnType<typeof setTimeout> | undefined;

  private readonly handlers: SocketHandlers;

  /** `token`: the Worker's bearer token, if it needs one. */
  constructor(WebSocketCtor: WebSocketConstructor, url: string, handlers: SocketHandlers, token?: string) {
    this.handlers = handlers;
    this.ws = openWebSocket(WebSocketCtor, url, token);
    this.ws.addEventListener("open", () => {
      if (!this.gone) handlers.onOpen();
    });
    this.ws.addEventListener("message", (event) => this.receive(event.data));
    this.ws.addEventListener("error", () => this.fail("socket error"));
    this.ws.addEventListener("close", (event) => this.fail(`socket closed (${event.code ?? "?"}${event.reason ? ` ${event.reason}` : ""})`));
  }

  get isOpen(): boolean {
    return !this.gone && this.ws.readyState === OPEN;
  }

  /**
   * Sends messages in as few frames as the host takes (encodeFrames); false if the
   * socket cannot take them, and then none was sent (an open socket takes every frame).
   */
  send(messages: readonly ClientMessage[]): boolean {
    if (!this.isOpen) return false;
    for (const frame of encodeFrames(messages)) if (!this.sendText(frame)) return false;
    return true;
  }

  /** Starts pings and the quiet-socket check for a negotiated session timeout. */
  startLiveness(timeoutMs: number): void {
    this.stopLiveness();
    const quietLimitMs = (timeoutMs * 2) / 3;
    this.lastHeardAt = Date.now();
    this.pingTimer = setInterval(() => this.sendText(PING_FRAME), timeoutMs / 3);
    const check = () => {
      const quietMs = Date.now() - this.lastHeardAt;
      if (quietMs >= quietLimitMs) {
        this.drop(CLOSE_QUIET, "no pong", `no message for ${quietMs} ms`);
      } else {
        this.quietTimer = setTimeout(check, quietLimitMs - quietMs);
      }
    };
    this.quietTimer = setTimeout(check, quietLimitMs);
  }

  /** Closes the socket; the handlers hear nothing more from it. */
  close(code = 1000, reason = "client closed"): void {
    this.stopLiveness();
    this.gone = true;
    this.ended = true;
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  private sendText(text: string): boolean {
    if (!this.isOpen) return false;
    try {
      this.ws.send(text);
    } catch {
      this.drop(4002, "send failed", "send failed");
      return false;
    }
    this.handlers.onSent();
    return true;
  }

  private receive(data: unknown): void {
    if (this.gone) return;
    this.lastHeardAt = Date.now();
    const text = typeof data === "string" ? data : data instanceof ArrayBuffer ? new TextDecoder().decode(data) : undefined;
    if (text === undefined) return; // the protocol has no binary frames
    let incoming;
    try {
      incoming = decodeFrame(text);
    } catch {
      // A frame we cannot read means we may have missed an answer: start afresh.
      this.drop(4001, "bad frame", "unreadable frame");
      return;
    }
    if (!incoming.pong) this.handlers.onMessages(incoming.messages);
  }

  /** The socket ended on its own: tell the session, once. */
  private fail(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.gone = true;
    this.stopLiveness();
    this.handlers.onGone(why);
  }

  /** We give up on a socket that is still open (quiet, unreadable): close it and tell the session. */
  private drop(code: number, reason: string, why: string): void {
    if (this.ended) return;
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing
    }
    this.fail(why);
  }

  private stopLiveness(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    if (this.quietTimer !== undefined) clearTimeout(this.quietTimer);
    this.pingTimer = this.quietTimer = undefined;
  }
}
