/**
 * Admission of session connects at a session host: at most `perSocketPerSecond` from
 * one socket and `perHostPerSecond` in all, each a token bucket holding one second's
 * worth. Opening a session writes a row and sets the alarm; a storm of them (five
 * sockets sending a thousand connects each) held the object's thread, which every
 * object of a local server and every request of the host share, for many seconds.
 *
 * A connect over the rate waits its turn, in arrival order, up to `queuedPerSocket`
 * per socket (so a bridge resuming its sessions, or a client opening a batch, is
 * slowed, not refused); past that it is refused, and the caller answers Throttled.
 */

export interface ConnectLimits {
  perSocketPerSecond: number;
  perHostPerSecond: number;
  queuedPerSocket: number;
}

/** A bucket of `perSecond` tokens, refilled continuously. */
class TokenBucket {
  private readonly perSecond: number;
  private tokens: number;
  private at: number;

  constructor(perSecond: number, now: number) {
    this.perSecond = perSecond;
    this.tokens = perSecond;
    this.at = now;
  }

  /** How long until a token is there (0: now). */
  msUntilToken(now: number): number {
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }

  take(): void {
    this.tokens -= 1;
  }
}

interface SocketQueue {
  bucket: TokenBucket;
  waiting: (() => void)[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * @example
 * const admission = new ConnectAdmission({ perSocketPerSecond: 100, perHostPerSecond: 500, queuedPerSocket: 250 });
 * if (!admission.offer(socketId, () => openSession())) refuse(new KeeperError("Throttled", "..."));
 */
export class ConnectAdmission {
  private readonly limits: ConnectLimits;
  private readonly host: TokenBucket;
  private readonly sockets = new Map<string, SocketQueue>();

  constructor(limits: ConnectLimits) {
    this.limits = limits;
    this.host = new TokenBucket(limits.perHostPerSecond, Date.now());
  }

  /** Runs `admit` now, or later in its turn; false (and never runs it) if the socket's queue is full. */
  offer(socketId: string, admit: () => void): boolean {
    const now = Date.now();
    let socket = this.sockets.get(socketId);
    if (!socket) {
      socket = { bucket: new TokenBucket(this.limits.perSocketPerSecond, now), waiting: [], timer: undefined };
      this.sockets.set(socketId, socket);
    }
    if (socket.waiting.length === 0 && this.waitMs(socket, now) === 0) {
      this.take(socket);
      admit();
      return true;
    }
    if (socket.waiting.length >= this.limits.queuedPerSocket) return false;
    socket.waiting.push(admit);
    this.schedule(socketId, socket, now);
    return true;
  }

  /** The socket is gone: its waiting connects are dropped (no one is there to answer). */
  forget(socketId: string): void {
    const socket = this.sockets.get(socketId);
    if (socket?.timer !== undefined) clearTimeout(socket.timer);
    this.sockets.delete(socketId);
  }

  private waitMs(socket: SocketQueue, now: number): number {
    return Math.max(socket.bucket.msUntilToken(now), this.host.msUntilToken(now));
  }

  private take(socket: SocketQueue): void {
    socket.bucket.take();
    this.host.take();
  }

  private schedule(socketId: string, socket: SocketQueue, now: number): void {
    if (socket.timer !== undefined) return;
    socket.timer = setTimeout(() => {
      socket.timer = undefined;
      if (this.sockets.get(socketId) === socket) this.drain(socketId, socket);
    }, Math.max(1, this.waitMs(socket, now)));
  }

  private drain(socketId: string, socket: SocketQueue): void {
    const now = Date.now();
    while (socket.waiting.length > 0 && this.waitMs(socket, now) === 0) {
      this.take(socket);
      socket.waiting.shift()!();
    }
    if (socket.waiting.length > 0) this.schedule(socketId, socket, now);
  }
}
