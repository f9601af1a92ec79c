/**
 * The small interface the conformance cases are written against: a target is a
 * server speaking ZooKeeper's protocol (a real ZooKeeper 3.8, or edgekeeper's bridge)
 * and a case connects sessions to it and runs ops through node-zookeeper-client.
 * Every op answers an {@link Outcome}, a value or a KeeperException name, so a case
 * records what a client observes without try/catch.
 *
 * @example
 * const a = await target.connect();
 * const created = await a.create("/x", "v"); // "/x" or { error: "NodeExists" }
 * await a.close();
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { WireStat } from "../../protocol/jute/index.ts";
import { type Any, zookeeper } from "../harness/zk-clients.ts";

export interface Target {
  name: string;
  /** host:port of the server's ZooKeeper protocol. */
  address: string;
}

/** KeeperException names by code, as ZooKeeper's Java client spells them. */
export const ERROR_NAMES: Record<number, string> = {
  [-1]: "SystemError",
  [-2]: "RuntimeInconsistency",
  [-3]: "DataInconsistency",
  [-4]: "ConnectionLoss",
  [-5]: "MarshallingError",
  [-6]: "Unimplemented",
  [-7]: "OperationTimeout",
  [-8]: "BadArguments",
  [-100]: "APIError",
  [-101]: "NoNode",
  [-102]: "NoAuth",
  [-103]: "BadVersion",
  [-108]: "NoChildrenForEphemerals",
  [-110]: "NodeExists",
  [-111]: "NotEmpty",
  [-112]: "SessionExpired",
  [-114]: "InvalidACL",
  [-115]: "AuthFailed",
};

export type Failure = { error: string };
export type Outcome<T> = T | Failure;

export function failed(outcome: unknown): outcome is Failure {
  return typeof outcome === "object" && outcome !== null && "error" in outcome;
}

/** The error name of an outcome, or "ok". */
export function codeOf(outcome: unknown): string {
  return failed(outcome) ? outcome.error : "ok";
}

/** A Stat with its longs as bigints (zxids, times, the owner session), as on the wire. */
export type Stat = WireStat;

function toStat(raw: Any): Stat {
  const long = (buffer: Buffer) => buffer.readBigInt64BE(0);
  return {
    czxid: long(raw.czxid),
    mzxid: long(raw.mzxid),
    pzxid: long(raw.pzxid),
    ctime: long(raw.ctime),
    mtime: long(raw.mtime),
    version: raw.version,
    cversion: raw.cversion,
    aversion: raw.aversion,
    ephemeralOwner: long(raw.ephemeralOwner),
    dataLength: raw.dataLength,
    numChildren: raw.numChildren,
  };
}

export interface Acl {
  perms: number;
  scheme: string;
  id: string;
}

export const OPEN_ACL: Acl[] = [{ perms: 31, scheme: "world", id: "anyone" }];

export interface WatchEvent {
  type: string;
  path: string;
}

export type ConformanceMultiItem =
  | { op: "create"; path: string; data?: string; mode?: number }
  | { op: "delete"; path: string; version?: number }
  | { op: "setData"; path: string; data: string; version?: number }
  | { op: "check"; path: string; version: number };

/** Create op codes the library has no call for, sent through {@link Session.createRaw}. */
export const OP = { create: 1, create2: 15, createContainer: 19, createTTL: 21 } as const;

export const MODE = { persistent: 0, ephemeral: 1, sequential: 2, ephemeralSequential: 3, container: 4, ttl: 5, ttlSequential: 6 } as const;

function outcome<T>(run: (callback: (error: Any, ...rest: Any[]) => void) => void, map: (...rest: Any[]) => T): Promise<Outcome<T>> {
  return new Promise((resolve) =>
    run((error, ...rest) => {
      if (error) resolve({ error: ERROR_NAMES[error.code] ?? `code ${error.code}` });
      else resolve(map(...rest));
    }),
  );
}

function toLibraryAcl(acl: Acl[]): Any[] {
  return acl.map((entry) => new zookeeper.ACL(entry.perms, new zookeeper.Id(entry.scheme, entry.id)));
}

/** A jute writer for the request bodies node-zookeeper-client cannot build. */
class Writer {
  private chunks: Buffer[] = [];
  int(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    this.chunks.push(buffer);
    return this;
  }
  long(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64BE(value);
    this.chunks.push(buffer);
    return this;
  }
  bytes(value: Buffer): this {
    this.int(value.length);
    this.chunks.push(value);
    return this;
  }
  string(value: string): this {
    return this.bytes(Buffer.from(value, "utf8"));
  }
  acl(acl: Acl[]): this {
    this.int(acl.length);
    for (const entry of acl) this.int(entry.perms).string(entry.scheme).string(entry.id);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** One ZooKeeper session through node-zookeeper-client; every watch event it gets is kept in `events`. */
export class Session {
  readonly events: WatchEvent[] = [];

  private readonly client: Any;

  private constructor(client: Any) {
    this.client = client;
  }

  static async open(target: Target, options: { sessionTimeoutMs?: number } = {}): Promise<Session> {
    const client = zookeeper.createClient(target.address, { sessionTimeout: options.sessionTimeoutMs ?? 10_000, retries: 0 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no session from ${target.name} at ${target.address} in 20 s`)), 20_000);
      client.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    return new Session(client);
  }

  /** The session id of the ConnectResponse. */
  get id(): bigint {
    return Buffer.from(this.client.getSessionId()).readBigInt64BE(0);
  }

  /** The negotiated session timeout. */
  get timeoutMs(): number {
    return this.client.getSessionTimeout();
  }

  private watcher = (event: Any) => {
    this.events.push({ type: event.getName(), path: event.getPath() });
  };

  create(path: string, data: string | null = "", options: { mode?: number; acl?: Acl[] } = {}): Promise<Outcome<string>> {
    return outcome(
      (cb) => this.client.create(path, data === null ? null : Buffer.from(data), toLibraryAcl(options.acl ?? OPEN_ACL), options.mode ?? 0, cb),
      (created: string) => created,
    );
  }

  /**
   * A create the library cannot send (create2, createContainer, createTTL, an empty
   * ACL, a path it would refuse): the body is written here, the reply's path read
   * as a plain create's (its Stat, if any, is left unread: ask `exists`).
   */
  createRaw(op: number, path: string, data: string, acl: Acl[], flags: number, ttlMs?: bigint): Promise<Outcome<string>> {
    const writer = new Writer().string(path).bytes(Buffer.from(data)).acl(acl).int(flags);
    if (op === OP.createTTL) writer.long(ttlMs ?? -1n);
    const body = writer.done();
    const header = {
      xid: 0,
      type: OP.create, // how the library decodes the reply: a path
      byteLength: () => 8,
      serialize(buffer: Buffer, offset: number) {
        buffer.writeInt32BE(this.xid, offset);
        buffer.writeInt32BE(op, offset + 4);
        return 8;
      },
    };
    const payload = {
      byteLength: () => body.length,
      serialize(buffer: Buffer, offset: number) {
        body.copy(buffer, offset);
        return body.length;
      },
    };
    const request = {
      header,
      payload,
      toBuffer() {
        const frame = Buffer.alloc(12 + body.length);
        frame.writeInt32BE(8 + body.length, 0);
        header.serialize(frame, 4);
        body.copy(frame, 12);
        return frame;
      },
    };
    return outcome(
      (cb) => this.client.connectionManager.queue(request, cb),
      (response: Any) => response.payload.path as string,
    );
  }

  delete(path: string, version = -1): Promise<Outcome<"deleted">> {
    return outcome((cb) => this.client.remove(path, version, cb), () => "deleted" as const);
  }

  exists(path: string, watch = false): Promise<Outcome<Stat | null>> {
    return outcome(
      (cb) => (watch ? this.client.exists(path, this.watcher, cb) : this.client.exists(path, cb)),
      (stat: Any) => (stat ? toStat(stat) : null),
    );
  }

  getData(path: string, watch = false): Promise<Outcome<{ data: string | null; stat: Stat }>> {
    return outcome(
      (cb) => (watch ? this.client.getData(path, this.watcher, cb) : this.client.getData(path, cb)),
      (data: Buffer | undefined, stat: Any) => ({ data: data ? data.toString() : null, stat: toStat(stat) }),
    );
  }

  setData(path: string, data: string, version = -1): Promise<Outcome<Stat>> {
    return outcome((cb) => this.client.setData(path, Buffer.from(data), version, cb), (stat: Any) => toStat(stat));
  }

  /** getChildren2: the children and the parent's Stat. */
  getChildren(path: string, watch = false): Promise<Outcome<{ children: string[]; stat: Stat }>> {
    return outcome(
      (cb) => (watch ? this.client.getChildren(path, this.watcher, cb) : this.client.getChildren(path, cb)),
      (children: string[], stat: Any) => ({ children: [...children].sort(), stat: toStat(stat) }),
    );
  }

  getACL(path: string): Promise<Outcome<{ acl: Acl[]; stat: Stat }>> {
    return outcome(
      (cb) => this.client.getACL(path, cb),
      (acl: Any[], stat: Any) => ({ acl: acl.map((entry) => ({ perms: entry.permission, scheme: entry.id.scheme, id: entry.id.id })), stat: toStat(stat) }),
    );
  }

  setACL(path: string, acl: Acl[], version = -1): Promise<Outcome<Stat>> {
    return outcome((cb) => this.client.setACL(path, toLibraryAcl(acl), version, cb), (stat: Any) => toStat(stat));
  }

  /** A multi: the per-op results (each "ok", a path, or a Stat), or the first error and every op's code. */
  multi(ops: ConformanceMultiItem[]): Promise<{ error?: string; results: unknown[] }> {
    const transaction = this.client.transaction();
    for (const op of ops) {
      if (op.op === "create") transaction.create(op.path, Buffer.from(op.data ?? ""), zookeeper.ACL.OPEN_ACL_UNSAFE, op.mode ?? 0);
      else if (op.op === "delete") transaction.remove(op.path, op.version ?? -1);
      else if (op.op === "setData") transaction.setData(op.path, Buffer.from(op.data), op.version ?? -1);
      else transaction.check(op.path, op.version);
    }
    return new Promise((resolve) =>
      transaction.commit((error: Any, results: Any[] | undefined) => {
        const shown = (results ?? []).map((result: Any) => {
          if (result.err !== undefined) return result.err === 0 ? "ok" : (ERROR_NAMES[result.err] ?? `code ${result.err}`);
          if (result.path !== undefined) return result.path;
          if (result.stat !== undefined) return toStat(result.stat);
          return "ok";
        });
        resolve(error ? { error: ERROR_NAMES[error.code] ?? `code ${error.code}`, results: shown } : { results: shown });
      }),
    );
  }

  /** Adds an auth id; the library sends it and reports nothing back, so a read afterwards orders it. */
  async addAuth(scheme: string, auth: string): Promise<void> {
    this.client.addAuthInfo(scheme, Buffer.from(auth));
    await this.exists("/");
  }

  /**
   * Waits until `count` watch events arrived (or the limit passed), then lets any
   * extra event in flight arrive: a read's reply follows every event its session was
   * sent before it, so events beyond `count` would be here by then.
   */
  async eventsAfter(count: number, limitMs = 15_000): Promise<WatchEvent[]> {
    const deadline = Date.now() + limitMs;
    while (this.events.length < count && Date.now() < deadline) await sleep(20);
    await this.exists("/");
    return [...this.events];
  }

  private closed = false;

  /** closeSession, once; resolves when the library reports the connection gone (at most 5 s). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      this.client.once("disconnected", () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.close();
    });
  }
}
