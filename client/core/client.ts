/**
 * The client's API: ZooKeeper's calls as promises, over one Session. Values go out
 * as base64 and come back as Uint8Array; every failure is a KeeperError.
 */
import type { Acl } from "../../protocol/acl.ts";
import { WATCH_KINDS, type WatchKind } from "../../protocol/changes.ts";
import { type KeeperError, isKeeperError } from "../../protocol/errors.ts";
import type { CreateMode } from "../../protocol/modes.ts";
import { encodeBookmark } from "../../protocol/bookmark.ts";
import type { ReadModeText } from "../../protocol/read-modes.ts";
import type { SessionOp, SessionResult } from "../../protocol/session-protocol.ts";
import type { Stat } from "../../protocol/stat.ts";
import { Emitter } from "./emitter.ts";
import type { Session } from "./session.ts";
import type { ConnectionState } from "./states.ts";
import { Transaction, type TransactionOp, type TransactionResult, compact, toWireOp } from "./transaction.ts";
import { type WatchEvent, type WatchListener, WatchListeners, type WatchStream } from "./watches.ts";
import { type Data, decodeValue, encodeValue, errorFromBody } from "./wire.ts";

/** `true` sends the event to the client's `watch` listeners; a function gets it alone. */
export type WatchOption = boolean | WatchListener;

/** A read's options: its read mode (default: the client's `consistency`, else `sequential`; docs/consistency.md). */
export interface ReadOptions {
  consistency?: ReadModeText;
}

/** A read's options when it may leave a watch. */
export interface WatchReadOptions extends ReadOptions {
  watch?: WatchOption;
}

export interface CreateOptions {
  mode?: CreateMode;
  /** Default: world:anyone with every permission. */
  acl?: Acl[];
  /** For the _WITH_TTL modes. */
  ttlMs?: number;
}

/** What `on()` can listen to: each connection state, all of them (`state`), and default-watcher events (`watch`). */
export type ClientEvents = { state: [ConnectionState]; watch: [WatchEvent] } & { [K in ConnectionState]: [] };

/** Where the client is now. */
export type ClientState = "connecting" | "connected" | "suspended" | "closed";

/** A watch as an async iterator; `ready` settles once the server has set it. */
export type WatchIterator = WatchStream & { ready: Promise<void> };

const PHASE_STATE = { connecting: "connecting", open: "connected", suspended: "suspended", closed: "closed" } as const;

/**
 * A connected client. Get one from `connect()`.
 *
 * @example
 * const zk = await connect({ servers: ["http://127.0.0.1:8787"], sessionTimeoutMs: 10_000 });
 * await zk.create("/app", "hello");
 * const { data, stat } = await zk.getData("/app");
 * await zk.close();
 */
export class KeeperClient {
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly watches = new WatchListeners();
  /** The default watcher: one function, so `watch: true` twice on a node fires once. */
  private readonly defaultWatcher: WatchListener = (event) => this.emitter.emit("watch", event);

  private readonly session: Session;

  constructor(session: Session) {
    this.session = session;
    session.events.on("state", (state) => {
      if (state === "lost") this.watches.clear("expired");
      if (state === "closed") this.watches.clear("closed");
      this.emitter.emit("state", state);
      this.emitter.emit(state);
    });
    session.events.on("event", (m) =>
      this.watches.dispatch({ type: m.event, path: m.path, zxid: m.zxid, kind: m.kind, watchPath: m.watchPath }, m.shard),
    );
  }

  /** The session's id (as `ephemeralOwner` shows it); undefined between a `lost` and the next `connected`. */
  get sessionId(): number | undefined {
    return this.session.sessionId;
  }

  /** The negotiated session timeout. */
  get sessionTimeoutMs(): number {
    return this.session.timeoutMs;
  }

  get state(): ClientState {
    return PHASE_STATE[this.session.phase];
  }

  /**
   * Listens to connection states (see docs/client.md) or default-watcher events.
   * Returns a function that removes the listener.
   *
   * @example
   * zk.on("suspended", () => pauseWork());
   * zk.on("lost", () => dropLeadership());
   * zk.on("watch", (ev) => console.log(ev.type, ev.path));
   */
  on<K extends keyof ClientEvents>(name: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /**
   * Creates a node; resolves with its path (with the sequence suffix, if sequential).
   *
   * @example
   * const path = await zk.create("/locks/lock-", "", { mode: "EPHEMERAL_SEQUENTIAL" });
   */
  async create(path: string, data?: Data, options: CreateOptions = {}): Promise<string> {
    const value = await this.call(compact({ op: "create", path, data: encodeValue(data), mode: options.mode, acl: options.acl, ttlMs: options.ttlMs }));
    return value.path;
  }

  /**
   * Reads a node's value and Stat; `watch` leaves a one-shot data watch.
   *
   * @example
   * const { data, stat } = await zk.getData("/config", { watch: (ev) => reload(ev) });
   * new TextDecoder().decode(data);
   */
  async getData(path: string, options: WatchReadOptions = {}): Promise<{ data: Uint8Array; stat: Stat }> {
    const value = await this.watched("data", path, options, { op: "getData", path, watch: !!options.watch });
    return { data: decodeValue(value.data), stat: value.stat };
  }

  /**
   * Replaces a node's value if `version` matches (-1 or none: any); resolves with the new Stat.
   *
   * @example
   * const stat = await zk.setData("/counter", "42", 7); // BadVersion if someone got there first
   */
  async setData(path: string, data: Data, version?: number): Promise<Stat> {
    const value = await this.call(compact({ op: "setData", path, data: encodeValue(data), version }));
    return value.stat;
  }

  /**
   * Deletes a node if `version` matches (-1 or none: any).
   *
   * @example
   * await zk.delete("/locks/lock-0000000003");
   */
  async delete(path: string, version?: number): Promise<void> {
    await this.call(compact({ op: "delete", path, version }));
  }

  /**
   * A node's Stat, or null if there is none; `watch` leaves a one-shot watch for its
   * creation, change or deletion (set on a missing node too, as in ZooKeeper).
   *
   * @example
   * if ((await zk.exists("/ready", { watch: true })) === null) await nextEvent;
   */
  async exists(path: string, options: WatchReadOptions = {}): Promise<Stat | null> {
    try {
      const value = await this.watched("data", path, options, { op: "exists", path, watch: !!options.watch });
      return value.stat ?? null;
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return null;
      throw error;
    }
  }

  /**
   * A node's children (names, sorted) and Stat; `watch` leaves a one-shot child watch.
   *
   * @example
   * const { children } = await zk.getChildren("/workers", { watch: true });
   */
  async getChildren(path: string, options: WatchReadOptions = {}): Promise<{ children: string[]; stat: Stat }> {
    const value = await this.watched("child", path, options, { op: "getChildren", path, watch: !!options.watch });
    return { children: value.children, stat: value.stat };
  }

  /**
   * Applies the ops all or none. A failure rejects with the first failing op's
   * KeeperError, whose `results` holds ZooKeeper's per-op outcome.
   *
   * @example
   * await zk.multi([
   *   { op: "check", path: "/leader", version: 3 },
   *   { op: "setData", path: "/config", data: "v2" },
   * ]);
   */
  async multi(ops: TransactionOp[]): Promise<TransactionResult[]> {
    const value = await this.call({ op: "multi", ops: ops.map(toWireOp) });
    return value.results;
  }

  /**
   * A builder for `multi`.
   *
   * @example
   * await zk.transaction().create("/a", "1").setData("/b", "2", 0).commit();
   */
  transaction(): Transaction {
    return new Transaction((ops) => this.multi(ops));
  }

  /**
   * Reads several nodes at once; each succeeds or fails alone.
   *
   * @example
   * const [a, b] = await zk.multiRead([{ op: "getData", path: "/a" }, { op: "getChildren", path: "/b" }]);
   */
  async multiRead(ops: { op: "getData" | "getChildren"; path: string }[], options: ReadOptions = {}): Promise<MultiReadResult[]> {
    const value = await this.call({ op: "multiRead", ops: ops.map(({ op, path }) => ({ op, path })) }, options.consistency);
    return value.results.map((r): MultiReadResult => {
      if (r.op === "getData") return { op: "getData", data: decodeValue(r.data), stat: r.stat };
      if (r.op === "getChildren") return { op: "getChildren", children: r.children, stat: r.stat };
      return { op: "error", error: errorFromBody(r.error) };
    });
  }

  /**
   * Makes this session's next read of `path` see every write committed before the sync.
   *
   * @example
   * await zk.sync("/config");
   * const fresh = await zk.getData("/config");
   */
  async sync(path: string): Promise<void> {
    await this.call({ op: "sync", path });
  }

  /**
   * A node's ACL and Stat.
   *
   * @example
   * const { acl } = await zk.getACL("/secure");
   */
  async getACL(path: string, options: ReadOptions = {}): Promise<{ acl: Acl[]; stat: Stat }> {
    return await this.call({ op: "getACL", path }, options.consistency);
  }

  /**
   * Replaces a node's ACL if `version` matches its aversion; resolves with the new Stat.
   *
   * @example
   * await zk.setACL("/secure", [{ perms: Perms.ALL, scheme: "digest", id: await digestId("u:p") }]);
   */
  async setACL(path: string, acl: Acl[], version?: number): Promise<Stat> {
    const value = await this.call(compact({ op: "setACL", path, acl, version }));
    return value.stat;
  }

  /**
   * How many nodes lie below `path` (all descendants).
   *
   * @example
   * await zk.getAllChildrenNumber("/jobs"); // 12
   */
  async getAllChildrenNumber(path: string, options: ReadOptions = {}): Promise<number> {
    const value = await this.call({ op: "getAllChildrenNumber", path }, options.consistency);
    return value.count;
  }

  /**
   * This session's ephemeral nodes whose paths start with `prefix`.
   *
   * @example
   * await zk.getEphemerals("/locks"); // ["/locks/lock-0000000004"]
   */
  async getEphemerals(prefix = "/"): Promise<string[]> {
    const value = await this.call({ op: "getEphemerals", prefix });
    return value.paths;
  }

  /**
   * Sets a watch that stays after firing: `persistent` (the node and its children
   * list) or `recursive` (the node and every descendant; no child events). Without a
   * listener, events go to `on("watch")`.
   *
   * @example
   * await zk.addWatch("/services", "recursive", (ev) => refresh(ev.path));
   */
  async addWatch(path: string, mode: "persistent" | "recursive", listener: WatchListener = this.defaultWatcher): Promise<void> {
    this.watches.add(mode, path, listener);
    try {
      await this.call({ op: "addWatch", path, mode });
    } catch (error) {
      this.watches.remove(mode, path, listener);
      throw error;
    }
  }

  /**
   * Removes this session's watches on a path: one kind, or all (`any`). The server
   * answers NoWatcher if there were none; the local listeners go either way.
   *
   * @example
   * await zk.removeWatches("/services", "recursive");
   */
  async removeWatches(path: string, kind: WatchKind | "any" = "any"): Promise<void> {
    this.watches.removeAll(kind === "any" ? WATCH_KINDS : [kind], path);
    await this.call({ op: "removeWatches", path, kind });
  }

  /**
   * A persistent (default) or recursive watch as an async iterator. Leaving the
   * loop removes the watch; a `lost` session ends it with SessionExpired, `close()` ends it.
   *
   * @example
   * for await (const ev of zk.watch("/config", { mode: "recursive" })) {
   *   console.log(ev.type, ev.path);
   * }
   */
  watch(path: string, options: { mode?: "persistent" | "recursive" } = {}): WatchIterator {
    const mode = options.mode ?? "persistent";
    const stream = this.watches.stream(() => {
      if (this.watches.remove(mode, path, stream.push) && this.session.phase !== "closed") {
        this.call({ op: "removeWatches", path, kind: mode }).catch(() => undefined);
      }
    }) as WatchIterator;
    this.watches.add(mode, path, stream.push);
    stream.ready = this.call({ op: "addWatch", path, mode }).then(
      () => undefined,
      (error: unknown) => {
        this.watches.remove(mode, path, stream.push);
        stream.fail(error);
        throw error;
      },
    );
    stream.ready.catch(() => undefined); // the iterator reports it too
    return stream;
  }

  /**
   * Adds an identity to the session (`digest`, `user:password`); re-added on every
   * resume and new session.
   *
   * @example
   * await zk.addAuth("digest", "alice:secret");
   */
  async addAuth(scheme: string, credentials: string): Promise<void> {
    await this.call({ op: "addAuth", scheme, credentials });
    this.session.replay.push({ op: "addAuth", scheme, credentials });
  }

  /**
   * Closes the session: its ephemeral nodes go, watches end, and the state becomes `closed`.
   *
   * @example
   * await zk.close();
   */
  async close(): Promise<void> {
    await this.session.close();
  }

  /**
   * What this client has seen, per shard, as the opaque bookmark the HTTP API takes
   * (`X-Edgekeeper-Bookmark`): a request sending it reads at least that far.
   *
   * @example
   * await fetch(`${server}/v1/znodes/config`, { headers: { "X-Edgekeeper-Bookmark": zk.bookmark } });
   */
  get bookmark(): string {
    return encodeBookmark(this.session.bookmark);
  }

  private call<O extends SessionOp>(op: O, consistency?: ReadModeText): Promise<SessionResult<O>> {
    return this.session.request(op, consistency);
  }

  /**
   * A read that may leave a one-shot watch: listen first; the watch is held from its
   * answer on (taken before any event after it), undone if the server set none.
   */
  private async watched<O extends SessionOp>(kind: "data" | "child", path: string, options: WatchReadOptions, op: O): Promise<SessionResult<O>> {
    const { watch, consistency } = options;
    const listener = typeof watch === "function" ? watch : watch ? this.defaultWatcher : undefined;
    if (!listener) return this.call(op, consistency);
    const alreadyListening = this.watches.has(kind, path, listener);
    this.watches.add(kind, path, listener);
    // exists on a missing node sets a watch; every other failure sets none.
    const watchSet = (error: unknown): boolean => error === undefined || (op.op === "exists" && isKeeperError(error, "NoNode"));
    try {
      return await this.session.request(op, consistency, (error) => {
        if (watchSet(error)) this.watches.set(kind, path);
      });
    } catch (error) {
      if (!watchSet(error) && !alreadyListening) this.watches.remove(kind, path, listener);
      throw error;
    }
  }
}

/** One read's outcome in `multiRead`. */
export type MultiReadResult =
  | { op: "getData"; data: Uint8Array; stat: Stat }
  | { op: "getChildren"; children: string[]; stat: Stat }
  | { op: "error"; error: KeeperError };
