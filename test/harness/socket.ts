/**
 * A bare client of the WebSocket session protocol, as tests drive it through
 * `SELF.fetch` (one upgrade, `res.webSocket.accept()`): frames of JSON messages out,
 * every message in kept in arrival order, helpers to wait for one.
 *
 * @example
 * const socket = await SessionSocket.open(namespace, { host: "0" });
 * const s = await socket.connect(4_000);
 * const res = await socket.req(s.sessionId, { op: "create", path: "/e", mode: "EPHEMERAL" });
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import type { ServerMessage, SessionOp } from "../../protocol/session-protocol.ts";
import { ORIGIN } from "./http.ts";

export type Res = Extract<ServerMessage, { t: "res" }>;
export type EventMessage = Extract<ServerMessage, { t: "event" }>;
export type Connected = Extract<ServerMessage, { t: "connected" }>;

export const b64 = (text: string): string => btoa(text);
export const unb64 = (text: string): string => atob(text);

let refs = 0;

export class SessionSocket {
  readonly ws: WebSocket;
  /** Every message received, in order (pongs as the string "pong"). */
  readonly log: (ServerMessage | "pong")[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly taken = new Set<number>();
  private xid = 0;
  private pinger: ReturnType<typeof setInterval> | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (e) => {
      const text = typeof e.data === "string" ? e.data : "";
      if (text === "pong") this.log.push("pong");
      else for (const m of JSON.parse(text) as ServerMessage[]) this.log.push(m);
    });
    ws.addEventListener("close", (e) => {
      if (this.pinger) clearInterval(this.pinger);
      this.closed = { code: e.code, reason: e.reason };
    });
  }

  /**
   * Opens a socket through the Worker, sending `headers` with the upgrade; `fetch`
   * replaces SELF.fetch (e.g. the app with other settings: `(req) => app.fetch(req, bindings)`).
   */
  static async open(
    namespace: string,
    query: Record<string, string> = {},
    headers: Record<string, string> = {},
    fetch: (req: Request) => Promise<Response> = (req) => SELF.fetch(req),
  ): Promise<SessionSocket> {
    const url = `${ORIGIN}/v1/sessions/socket?${new URLSearchParams({ namespace, ...query })}`;
    const res = await fetch(new Request(url, { headers: { ...headers, Upgrade: "websocket" } }));
    if (!res.webSocket) throw new Error(`no WebSocket: ${res.status} ${await res.text()}`);
    res.webSocket.accept();
    return new SessionSocket(res.webSocket);
  }

  send(frame: unknown[] | string): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits for the first message not yet taken that `match`es, and takes it. */
  async next<T extends ServerMessage | "pong">(match: (m: ServerMessage | "pong") => boolean, withinMs = 5_000): Promise<T> {
    const until = Date.now() + withinMs;
    for (;;) {
      const index = this.log.findIndex((m, i) => !this.taken.has(i) && match(m));
      if (index >= 0) {
        this.taken.add(index);
        return this.log[index] as T;
      }
      if (Date.now() > until) expect.fail(`no matching message within ${withinMs} ms; got ${JSON.stringify(this.log)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async connect(timeoutMs = 4_000, resume?: { sessionId?: number; password?: string; clientAddress?: string; bookmark?: string; seenZxid?: unknown }): Promise<ServerMessage> {
    const ref = ++refs;
    this.send([{ t: "connect", ref, timeoutMs, ...resume }]);
    return this.next((m) => m !== "pong" && "ref" in m && m.ref === ref);
  }

  /** Opens a session and returns its grant. */
  async open(timeoutMs = 4_000, clientAddress?: string): Promise<Connected> {
    const m = await this.connect(timeoutMs, clientAddress === undefined ? undefined : { clientAddress });
    if (m.t !== "connected") expect.fail(`connect: ${JSON.stringify(m)}`);
    return m;
  }

  /** Sends requests of one session in one frame; returns their xids. */
  sendReqs(sid: number, ...ops: SessionOp[]): number[] {
    const xids = ops.map(() => ++this.xid);
    this.send(ops.map((op, i) => ({ t: "req", sid, xid: xids[i], op })));
    return xids;
  }

  /** Sends one request in a read mode other than sequential (`linearizable`: at the leader); returns its xid. */
  sendReqIn(consistency: string, sid: number, op: SessionOp): number {
    const xid = ++this.xid;
    this.send([{ t: "req", sid, xid, op, consistency }]);
    return xid;
  }

  response(sid: number, xid: number): Promise<Res> {
    return this.next<Res>((m) => m !== "pong" && m.t === "res" && m.sid === sid && m.xid === xid);
  }

  async req(sid: number, op: SessionOp): Promise<Res> {
    const [xid] = this.sendReqs(sid, op);
    return this.response(sid, xid!);
  }

  /** Runs an op and asserts it succeeded; returns its value. */
  async ok<T = any>(sid: number, op: SessionOp): Promise<T> {
    const res = await this.req(sid, op);
    if (!res.ok) expect.fail(`${op.op}: ${JSON.stringify(res.error)}`);
    return res.value as T;
  }

  /** The events of a session received so far, as [event, path, kind]. */
  events(sid: number): [string, string, string][] {
    return this.log.filter((m): m is EventMessage => m !== "pong" && m.t === "event" && m.sid === sid).map((e) => [e.event, e.path, e.kind]);
  }

  async waitClosed(withinMs = 5_000): Promise<{ code: number; reason: string }> {
    const until = Date.now() + withinMs;
    while (!this.closed) {
      if (Date.now() > until) expect.fail("socket not closed");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.closed;
  }

  /** Pings every `everyMs` (as a client must, every third of its timeout) until dropped. */
  keepAlive(everyMs = 100): this {
    this.pinger ??= setInterval(() => {
      try {
        this.ws.send("ping");
      } catch {
        // closed
      }
    }, everyMs);
    return this;
  }

  drop(): void {
    if (this.pinger) clearInterval(this.pinger);
    try {
      this.ws.close(1000, "test drops the socket");
    } catch {
      // already closed
    }
  }
}
