/**
 * The server side of RFC 6455, as little as a test needs: the opening handshake,
 * text frames both ways (fragmented or not, any length), ping/pong, close. Node has
 * a WebSocket client but no server, and the `ws` package is not a dependency.
 * Tests use it to play the network: drop a socket, go silent, answer slowly.
 */
import { createHash } from "node:crypto";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One accepted WebSocket. */
export class WsConnection {
  readonly url: URL;
  /** Each text message received. */
  onText: (text: string) => void = () => {};
  /** The socket ended (either side). */
  onClose: () => void = () => {};
  closed = false;
  private readonly socket: Duplex;
  private buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];

  constructor(socket: Duplex, url: URL) {
    this.socket = socket;
    this.url = url;
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("close", () => this.ended());
    socket.on("error", () => this.ended());
  }

  sendText(text: string): void {
    this.sendFrame(0x1, Buffer.from(text, "utf8"));
  }

  /** A clean close: a close frame, then the TCP connection ends. */
  close(code = 1000): void {
    if (this.closed) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.sendFrame(0x8, payload);
    this.socket.end();
  }

  /** The network fails: the TCP connection goes without a close frame. */
  destroy(): void {
    this.socket.destroy();
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    let header: Buffer;
    if (payload.length < 126) {
      header = Buffer.from([0x80 | opcode, payload.length]);
    } else if (payload.length < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 126;
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    this.socket.write(Buffer.concat([header, payload]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) return;
      const b0 = this.buffer[0]!;
      const b1 = this.buffer[1]!;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const mask = masked ? this.buffer.subarray(offset, offset + 4) : undefined;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      this.buffer = this.buffer.subarray(offset + length);
      if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      this.frame((b0 & 0x80) !== 0, b0 & 0x0f, payload);
    }
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: // continuation
      case 0x1: // text
      case 0x2: // binary (the protocol has none; kept as text)
        this.fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(this.fragments).toString("utf8");
          this.fragments = [];
          this.onText(text);
        }
        return;
      case 0x8: // close: echo it, then end
        this.close(payload.length >= 2 ? payload.readUInt16BE(0) : 1000);
        return;
      case 0x9: // ping
        this.sendFrame(0xa, payload);
        return;
      default: // pong and reserved opcodes
        return;
    }
  }
}

export interface WsServer {
  /** `http://127.0.0.1:<port>`, as a client's `servers` entry. */
  base: string;
  port: number;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** Listens on a free loopback port; every upgrade request becomes a WsConnection. */
export async function startWsServer(onConnection: (conn: WsConnection, request: IncomingMessage) => void): Promise<WsServer> {
  const sockets = new Set<Duplex>();
  const server: Server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex) => {
    const key = request.headers["sec-websocket-key"];
    if (typeof key !== "string" || request.headers.upgrade?.toLowerCase() !== "websocket") {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onConnection(new WsConnection(socket, new URL(request.url ?? "/", "http://localhost")), request);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
