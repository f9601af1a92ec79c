/**
 * A ZooKeeper connection spoken in raw jute frames over TCP, to a real ZooKeeper or
 * to the bridge: every reply is decoded and must re-encode to exactly the bytes
 * received, so a test sees the wire as it is.
 *
 * @example
 * const zk = await RawConnection.open(port);
 * const session = await zk.handshake();
 * const { body } = await zk.call("getData", { path: "/a", watch: false });
 */
import { once } from "node:events";
import { type Socket, connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import {
  type ConnectRequest,
  type ConnectResponse,
  FrameSplitter,
  type JuteRequest,
  type JuteOpName,
  type Reply,
  type WatcherEvent,
  XIDS,
  decodeConnectResponse,
  decodeNotification,
  decodeReply,
  decodeReplyHeader,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeNotification,
  encodeReply,
  encodeRequest,
} from "../../../protocol/jute/index.ts";
import { ZOOKEEPER_HOST } from "./launch.ts";

/** A new session's ConnectRequest, as 3.5+ clients send it (with the readOnly byte). */
export const NEW_SESSION: ConnectRequest = { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30_000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false };

export class RawConnection {
  private readonly splitter = new FrameSplitter();
  private readonly frames: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private xid = 0;
  /** Notifications received while waiting for replies, in order. */
  readonly events: WatcherEvent[] = [];
  readonly closed: Promise<void>;
  private readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk) => {
      this.frames.push(...this.splitter.push(new Uint8Array(chunk)));
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect({ host: ZOOKEEPER_HOST, port });
    await once(socket, "connect");
    return new RawConnection(socket);
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame's payload. */
  async next(limitMs = 5_000): Promise<Uint8Array> {
    const deadline = Date.now() + limitMs;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error("connection closed");
      if (Date.now() > deadline) throw new Error(`no frame in ${limitMs} ms`);
      await Promise.race([new Promise<void>((resolve) => (this.wake = resolve)), sleep(50)]);
    }
    return this.frames.shift()!;
  }

  /** Sends a ConnectRequest; returns the reply's payload as sent. */
  async connectRaw(request: ConnectRequest = NEW_SESSION): Promise<Uint8Array> {
    this.send(encodeConnectRequest(request));
    return this.next();
  }

  /** Connects (a new session by default); checks the response re-encodes to the bytes received. */
  async handshake(request: ConnectRequest = NEW_SESSION): Promise<ConnectResponse> {
    const payload = await this.connectRaw(request);
    const response = decodeConnectResponse(payload);
    expect(encodeConnectResponse(response).subarray(4)).toEqual(payload);
    return response;
  }

  /**
   * Sends a request and returns its decoded reply, collecting notifications that
   * arrive first. Every reply must re-encode to exactly the bytes received.
   */
  async call<K extends JuteOpName>(op: K, body: Extract<JuteRequest, { op: K }>["body"], xid?: number): Promise<Reply<K> & { payload: Uint8Array }> {
    const id = xid ?? ++this.xid;
    this.send(encodeRequest({ xid: id, op, body } as JuteRequest));
    for (;;) {
      const payload = await this.next();
      const header = decodeReplyHeader(payload);
      if (header.xid === XIDS.notification) {
        const { event } = decodeNotification(payload);
        expect(header.zxid).toBe(-1n); // 3.8 does not say which write fired the watch
        expect(encodeNotification(event, header.zxid).subarray(4)).toEqual(payload);
        this.events.push(event);
        continue;
      }
      expect(header.xid).toBe(id);
      const reply = decodeReply(payload, op);
      expect(encodeReply(reply.header, op, reply.body).subarray(4)).toEqual(payload);
      return { ...reply, payload };
    }
  }

  /** Waits for the next notification (or takes one already received). */
  async event(): Promise<WatcherEvent> {
    if (this.events.length > 0) return this.events.shift()!;
    const payload = await this.next();
    return decodeNotification(payload).event;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Whether a session can be opened and closed at `port` (ZooKeeper says imok before it can). */
export async function takesSessions(port: number): Promise<boolean> {
  let zk: RawConnection | undefined;
  try {
    zk = await RawConnection.open(port);
    await zk.handshake();
    await zk.call("closeSession", {});
    return true;
  } catch {
    return false;
  } finally {
    zk?.destroy();
  }
}
