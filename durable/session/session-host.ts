/**
 * SessionHost: hosts many sessions of one namespace as SQLite rows, as a
 * ZooKeeper server does (an object per session measured 345 KB and 5 file
 * descriptors each locally). It negotiates timeouts, takes each session's requests,
 * from its socket or by RPC, through one pipeline (session-pipeline.ts), holds the
 * sessions' WebSockets with the Hibernation API (session-socket-handler.ts), fans
 * watch notifications out to the sessions (session-watches.ts), and expires
 * sessions with one alarm set to the earliest deadline. A session on a socket lives
 * while the socket shows life (session-liveness.ts).
 */
import { type ConnectionStats, type HostStats, type Id, KeeperError, type KeeperErrorBody, type Limits, type Outcome, type ShardRequest, type WatchKind, type WatchNotification, firesOnce } from "../../protocol/index.ts";
import { PING_FRAME, PONG_FRAME, type ServerMessage } from "../../protocol/session-protocol.ts";
import { EdgekeeperObject } from "../base/edgekeeper-object.ts";
import { RegionLink } from "../base/region-link.ts";
import type { SocketLimits } from "../base/settings.ts";
import type { Mount } from "../directory/mount-table.ts";
import { type HostCall, ShardRouter } from "../directory/shard-router.ts";
import type { EdgekeeperEnv } from "../env.ts";
import { homeRetryMsOf, readRoutingSettings } from "../directory/read-routing.ts";
import { hostNumberOfSession, hostObjectName, isHostNumber, makeSessionId, negotiateTimeout, sessionIdHex } from "../../protocol/session-ids.ts";
import { initializeHostCounters, readHostCounters } from "./host-stats.ts";
import { SessionBookmarks } from "./session-bookmarks.ts";
import { SessionViews } from "./session-views.ts";
import { HOME_TABLES, SessionHomes } from "./session-homes.ts";
import { SessionLiveness } from "./session-liveness.ts";
import { SessionPipeline } from "./session-pipeline.ts";
import { SessionRunner } from "./session-runner.ts";
import { SocketHandler } from "./session-socket-handler.ts";
import { WatchGate } from "./watch-gate.ts";
import { WatchesInFlight } from "./watches-in-flight.ts";
import { SocketOutbox, attachmentOf, connectionIds, echoCloseCode } from "./session-sockets.ts";
import { SessionStore, randomPassword } from "./session-store.ts";
import { type EventMessage, type NotificationVerdict, SessionWatches, createWatchTables } from "./session-watches.ts";

/** What a client learns when it opens or keeps alive a session. */
export interface SessionGrant {
  sessionId: number;
  password: string;
  timeoutMs: number;
}

export type SessionOutcome<T> = { ok: true; value: T } | { ok: false; error: KeeperErrorBody };

/** The host's RPC surface as callers use it (Outcome's `unknown` value defeats Rpc's inference). */
export interface SessionHostApi {
  open(namespace: string, hostNumber: number, requestedTimeoutMs: number): Promise<SessionOutcome<SessionGrant>>;
  keepAlive(sessionId: number, password: string): Promise<SessionOutcome<SessionGrant>>;
  close(sessionId: number, password: string): Promise<SessionOutcome<{ closed: true }>>;
  execute(sessionId: number, password: string, ids: Id[], requests: ShardRequest[]): Promise<SessionOutcome<Outcome[]>>;
  deliver(shardKey: string, notifications: WatchNotification[]): Promise<number>;
  stats(): Promise<Omit<HostStats, "host">>;
  connections(limit: number): Promise<ConnectionStats[]>;
  watchingSessions(): Promise<number>;
  /** The WebSocket upgrade, as forwarded by the Worker (GET /v1/sessions/socket). */
  fetch(request: Request): Promise<Response>;
}

/** A session left closing (its shards not all reached) is retried by the alarm this soon. */
const CLOSE_RETRY_MS = 1_000;

export class SessionHost extends EdgekeeperObject {
  private readonly store: SessionStore;
  private readonly watches: SessionWatches;
  private readonly socketLimits: SocketLimits;
  private readonly limits: Limits;
  private readonly runner: SessionRunner;
  private readonly liveness: SessionLiveness;
  private readonly pipeline: SessionPipeline;
  private readonly outbox: SocketOutbox;
  private readonly sockets: SocketHandler;
  /** A listInDirectory call is under way. */
  private listing = false;
  private shardRouter: ShardRouter | undefined;
  /** The host's region and the links to objects from there. */
  private readonly link: RegionLink;
  /** Each session's highest zxid seen per shard, for routing its reads. */
  private readonly bookmarks: SessionBookmarks;
  /** What relayed sessions' clients were shown, per shard, by their answers' highest zxid. */
  private readonly views = new SessionViews();
  /** Where the host's sessions read each shard and take its events from. */
  private readonly homes: SessionHomes;
  /**
   * Per session, the watches set by the request it is running (kind and path, with
   * the zxid of the answer that set them) and the events past that zxid they fired
   * meanwhile: sent once that request is answered, as ZooKeeper's server sends a
   * watch's events after the reply that set it. Each is kept in the session's event
   * queue meanwhile (`queued`: its number there), written with its notification's
   * seq, so a host restarted before the answer still has it: the session's resume
   * sends it.
   */
  private readonly held = new Map<number, { watches: Map<string, number>; events: { event: EventMessage; queued: number }[] }>();
  /** Watching requests on their way to each copy, which that copy's pushes wait for. */
  private readonly inFlight = new WatchesInFlight();

  constructor(ctx: DurableObjectState, env: EdgekeeperEnv) {
    super(ctx, env);
    this.store = new SessionStore(ctx.storage.sql);
    this.watches = new SessionWatches(ctx.storage.sql);
    this.limits = this.settings.limits;
    this.socketLimits = this.settings.socketLimits;
    this.outbox = new SocketOutbox(this.limits.maxAnswerBytes);
    this.liveness = new SessionLiveness(this.store, ctx, this.settings.tickMs);
    const link = (this.link = RegionLink.ofHost(env, ctx.id.name ?? ""));
    this.bookmarks = new SessionBookmarks(env, () => String(this.store.namespace()), link.region);
    const { sequentialWaitMs } = readRoutingSettings(env);
    // Outside the leaders' region, the replica there is home.
    const replicaRegion = link.region !== link.regions?.[0] ? link.region : undefined;
    this.homes = new SessionHomes({
      sql: ctx.storage.sql,
      watches: this.watches,
      router: () => this.router(),
      host: () => ({ name: ctx.id.name ?? "", push: true }),
      replicaRegion,
      waitMs: sequentialWaitMs,
      retryMs: homeRetryMsOf(env),
      ackSeq: (shardKey) => this.watches.ackSeq(shardKey),
      receive: (shardKey, notifications, shows) =>
        this.receiveAfterWatchesSet(shardKey, notifications, undefined, shows).then(
          () => undefined,
          (err: unknown) => console.error(`notifications of ${shardKey} were not processed`, err),
        ),
    });
    this.runner = new SessionRunner({
      store: this.store,
      watches: this.watches,
      socketLimits: this.socketLimits,
      gate: new WatchGate(),
      homes: this.homes,
      superDigest: this.settings.superDigest,
      router: () => this.router(),
      call: (sessionId, beforeSend, ownSend) => this.call(sessionId, beforeSend, ownSend),
      requireOpen: (sessionId) => void this.liveness.liveRow(sessionId),
      hostName: (sessionId) => this.hostName(sessionId),
      holdEvents: (sessionId, path, kind, zxid) => this.holdEvents(sessionId, path, kind, zxid),
      sendingWatch: (mount) => this.inFlight.begin(this.sourcesOf(mount, replicaRegion)),
    });
    this.pipeline = new SessionPipeline({
      store: this.store,
      liveness: this.liveness,
      runner: this.runner,
      limits: this.limits,
      socketLimits: this.socketLimits,
      traceHops: this.settings.traceHops,
      closeSession: (sessionId) => this.closeSession(sessionId),
      sendToSession: (sessionId, message, fallback) => this.sendToSession(sessionId, message, fallback),
      send: (ws, message) => this.outbox.send(ws, message),
      answered: (sessionId) => this.answered(sessionId),
      views: this.views,
    });
    this.sockets = new SocketHandler({
      state: ctx,
      store: this.store,
      liveness: this.liveness,
      outbox: this.outbox,
      socketLimits: this.socketLimits,
      pipeline: this.pipeline,
      createSession: (namespace, hostNumber, timeoutMs, socketId) => this.createSession(namespace, hostNumber, timeoutMs, socketId),
      scheduleExpiry: () => this.scheduleExpiry(),
      takeQueuedEvents: (sessionId) => this.watches.takeQueued(sessionId, this.heldQueued(sessionId)).filter((m) => m.t !== "event" || !this.shownBefore(sessionId, m)),
      mergeBookmark: (sessionId, bookmark) => this.bookmarks.merge(sessionId, bookmark),
      views: this.views,
      detach: (ws) => this.detach(ws),
    });
    void ctx.blockConcurrencyWhile(async () => {
      this.store.initialize();
      createWatchTables(ctx.storage.sql);
      for (const statement of HOME_TABLES) ctx.storage.sql.exec(statement);
      initializeHostCounters(ctx.storage.sql);
      // Pings are answered by the runtime, without waking the object.
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
      // Sessions whose socket did not survive a restart (hibernated ones do) wait for a
      // resume, for their timeout from now: a restart must not expire them.
      const now = Date.now();
      for (const socketId of this.store.attachedSockets()) {
        if (ctx.getWebSockets(socketId).length === 0) this.store.detachSocket(socketId, now);
      }
      // Not awaited: the host takes requests meanwhile.
      void this.homes.wake();
    });
  }

  /** The router to the shards of the host's namespace (made once: the namespace never changes). */
  private router(): ShardRouter {
    if (this.shardRouter) return this.shardRouter;
    const namespace = this.store.namespace();
    if (namespace === undefined) throw new KeeperError("SystemError", "session host has no namespace");
    // The mount table is refreshed in the background once old, not in a request's way. This
    // turns on no shared RPCs: those are ShardRouter.execute's, which a host never calls.
    this.shardRouter = new ShardRouter(this.env, namespace, this.link, undefined, (work) => this.ctx.waitUntil(work));
    return this.shardRouter;
  }

  /** This object's name, as shards know it (a session id names its host). */
  private hostName(sessionId: number): string {
    const namespace = String(this.store.namespace());
    return hostObjectName(namespace, hostNumberOfSession(sessionId) ?? 0);
  }

  /** `ownSend`: the request's watching send under way (its end function), which its own answer's notifications do not wait for. */
  private call(sessionId: number, beforeSend?: (mount: Mount) => void, ownSend?: () => (() => void) | undefined): HostCall {
    return {
      host: { name: this.hostName(sessionId), push: true },
      ackSeqFor: (shardKey) => this.watches.ackSeq(shardKey),
      receive: async (shardKey, notifications) => void (await this.receiveAfterWatchesSet(shardKey, notifications, ownSend?.())),
      beforeSend,
      reads: this.bookmarks.readsOf(sessionId),
      ...(this.homes.active ? { homes: this.homes } : {}),
    };
  }

  /** A new session's row (on `socketId`, if given); the caller schedules the alarm. */
  private createSession(namespace: string, hostNumber: number, requestedTimeoutMs: number, socketId: string | null): SessionGrant {
    if (!isHostNumber(hostNumber)) throw new KeeperError("BadArguments", `no session host ${hostNumber}`);
    const { tickMs } = this.settings;
    const timeoutMs = negotiateTimeout(requestedTimeoutMs, 2 * tickMs, 20 * tickMs);
    const password = randomPassword();
    const sql = this.ctx.storage.sql;
    const held = sql.exec<{ n: number }>("SELECT count(*) AS n FROM sessions").one().n;
    if (held >= this.socketLimits.maxSessionsPerHost) {
      throw new KeeperError("Throttled", `this session host holds its maximum of ${this.socketLimits.maxSessionsPerHost} sessions`);
    }
    const sessionId = this.ctx.storage.transactionSync(() => {
      this.store.claimNamespace(namespace);
      sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('counter', 0)");
      const counter = sql.exec<{ value: number }>("UPDATE meta SET value = value + 1 WHERE key = 'counter' RETURNING value").one().value;
      const id = makeSessionId(hostNumber, counter);
      sql.exec("INSERT INTO sessions (id, password, timeout_ms, deadline, socket_id) VALUES (?, ?, ?, ?, ?)", id, password, timeoutMs, Date.now() + timeoutMs, socketId);
      return id;
    });
    if (this.store.meta("listed") === undefined) void this.listInDirectory(namespace, hostNumber);
    this.bookmarks.opened(sessionId);
    return { sessionId, password, timeoutMs };
  }

  /**
   * Tells the namespace's directory that this host exists, once in the host's life,
   * so that monitoring asks exactly the hosts in use (never every possible one).
   * A failure is logged and tried again at the next session opened here.
   */
  private async listInDirectory(namespace: string, hostNumber: number): Promise<void> {
    if (this.listing) return;
    this.listing = true;
    try {
      await this.link.directory(namespace).listSessionHost(hostNumber);
      this.ctx.storage.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('listed', 1)");
    } catch (err) {
      console.error(`session host ${hostNumber} could not list itself in the directory of ${namespace}; will retry`, err);
    } finally {
      this.listing = false;
    }
  }

  /**
   * Opens a session with a timeout negotiated into [2, 20] x tick, as ZooKeeper does.
   *
   * @example
   * const grant = await host.open("default", 0, 10_000); // { sessionId, password, timeoutMs }
   */
  async open(namespace: string, hostNumber: number, requestedTimeoutMs: number): Promise<SessionOutcome<SessionGrant>> {
    return answer(async () => {
      const grant = this.createSession(namespace, hostNumber, requestedTimeoutMs, null);
      await this.scheduleExpiry();
      return grant;
    });
  }

  /**
   * The host's numbers for monitoring: sessions and watches from counters its writes
   * keep, requests in flight and their latency since the object started.
   */
  async stats(): Promise<Omit<HostStats, "host">> {
    // The counters follow rows: watches fired lately go from them first.
    this.watches.flush();
    return { ...readHostCounters(this.ctx.storage.sql), outstanding: this.runner.requests.outstanding, latency: this.runner.requests.latency };
  }

  /** How many sessions hold a watch (ZooKeeper's wchs num_connections). */
  async watchingSessions(): Promise<number> {
    this.watches.flush();
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(DISTINCT session_id) AS n FROM session_watches").one().n;
  }

  /** Up to `limit` sessions carried by a socket now, by id (ZooKeeper's `cons`). */
  async connections(limit: number): Promise<ConnectionStats[]> {
    return this.store.openOnSockets(limit).map((row) => {
      const ws = this.liveness.socketOf(row);
      return { remote: (ws && attachmentOf(ws)?.ip) ?? "", sessionId: row.id, timeoutMs: row.timeout_ms, lastCxid: row.cxid };
    });
  }

  /** Extends the session's life by its timeout from now. Not queued behind the session's requests. */
  async keepAlive(sessionId: number, password: string): Promise<SessionOutcome<SessionGrant>> {
    return answer(async () => {
      const { timeout_ms: timeoutMs } = this.liveness.keepLiveAs(sessionId, password);
      return { sessionId, password, timeoutMs };
    });
  }

  /**
   * Closes the session after its requests still running: its ephemeral nodes go, on
   * every shard, exactly once. A socket carrying it is told (`closed`).
   */
  async close(sessionId: number, password: string): Promise<SessionOutcome<{ closed: true }>> {
    return answer(async () => {
      const [outcome] = await this.pipeline.fromRpc(sessionId, password, [], [{ op: "close" }]);
      if (!outcome?.ok) throw outcome ? KeeperError.fromBody(outcome.error) : new KeeperError("SystemError", "close had no outcome");
      return { closed: true as const };
    });
  }

  /**
   * Closes an open session (in its pipeline): marked closing first, with the alarm set
   * to retry, so a close interrupted midway is finished by the alarm. Returns the
   * socket that carried it.
   */
  private async closeSession(sessionId: number): Promise<WebSocket | undefined> {
    this.store.markClosing(sessionId, Date.now() + CLOSE_RETRY_MS);
    await this.scheduleExpiry();
    return this.finish(sessionId);
  }

  /**
   * Runs a session's requests in order, after any requests of the same session
   * still running, and answers each (session-pipeline.ts). `ids` are the caller's ACL
   * identities. A request may carry its own cxid (a client retrying a write whose
   * answer it lost sends the same cxid, and the shard answers with the stored reply);
   * others get the session's next cxid.
   */
  async execute(sessionId: number, password: string, ids: Id[], requests: ShardRequest[]): Promise<SessionOutcome<Outcome[]>> {
    return answer(() => this.pipeline.fromRpc(sessionId, password, ids, requests.map((request) => ({ op: "shard" as const, request }))));
  }

  /**
   * A shard's push of watch notifications (ShardDO.push): fanned out to the sessions
   * watching, at most once each. Answers the last seq processed of that shard.
   */
  async deliver(shardKey: string, notifications: WatchNotification[]): Promise<number> {
    return this.receiveAfterWatchesSet(shardKey, notifications);
  }

  /**
   * `receive`, once the watches being set at that copy have their answers recorded: one
   * may be for these notifications (watches-in-flight.ts). Judged as they are taken, by
   * home as it is then (session-homes.ts): home counts what it delivered handed over only
   * once taken, so a move while they waited hands over from before them, and they, no
   * longer home's, are dropped (were they fired, they would come after the new home's).
   * `shows`: the zxid of the answer they ride on, if any.
   */
  private async receiveAfterWatchesSet(shardKey: string, notifications: WatchNotification[], ownSend?: () => void, shows = 0): Promise<number> {
    if (notifications.length > 0) await this.inFlight.before(shardKey, notifications.reduce((most, n) => Math.max(most, n.zxid), 0), ownSend);
    return this.receive(shardKey, notifications, this.homes.judge(shardKey, notifications, shows));
  }

  /** The delivery keys of the copies of a shard that may hold the host's watches: its leader, and its replica where that is home. */
  private sourcesOf(mount: Mount, replicaRegion: string | undefined): string[] {
    const router = this.router();
    const leader = router.shardKey(mount);
    return replicaRegion === undefined ? [leader] : [leader, router.copyKey(mount, { at: "replica", region: replicaRegion })];
  }

  private receive(shardKey: string, notifications: WatchNotification[], judge: (n: WatchNotification) => NotificationVerdict): number {
    // Only the shard's home fires watches (session-homes.ts); the other copy's are acknowledged.
    return this.watches.process(shardKey, notifications, (sessionId) => this.identitiesOf(sessionId), (sessionId, event) => {
      if (!this.store.row(sessionId) || this.shownBefore(sessionId, event)) return;
      // A session shown a change reads no copy that has not applied it (watch before data).
      if (event.shard !== undefined) this.bookmarks.advance(sessionId, event.shard, event.zxid);
      // An earlier watch's event at or below the answer's zxid goes now: the answer shows that change already.
      const held = this.held.get(sessionId);
      const setAt = held?.watches.get(`${event.kind} ${event.watchPath}`);
      if (setAt !== undefined && event.zxid > setAt) held!.events.push({ event, queued: this.watches.queue(sessionId, event) });
      else this.sendEvent(sessionId, event);
    }, judge);
  }

  /**
   * Whether a lasting watch's event had reached the session before its client last
   * connected, by the bookmark it handed back: a host restarted just after sending it
   * may process its notification again (session-watches.ts). A one-shot event sent
   * again is the client's to drop (docs/consistency.md).
   */
  private shownBefore(sessionId: number, event: EventMessage): boolean {
    return !firesOnce(event.kind) && event.shard !== undefined && event.zxid <= this.bookmarks.shownBeforeConnect(sessionId, event.shard);
  }

  /** Sends a watch event to the session's socket, or keeps it for its resume. */
  private sendEvent(sessionId: number, event: EventMessage): void {
    const row = this.store.row(sessionId);
    if (!row) return;
    const ws = this.liveness.socketOf(row);
    if (ws) this.outbox.send(ws, event);
    else this.watches.queue(sessionId, event);
  }

  /** The session's request just recorded this watch, answered at `zxid`: its events past that wait for the answer. */
  private holdEvents(sessionId: number, path: string, kind: WatchKind, zxid: number): void {
    let held = this.held.get(sessionId);
    if (!held) this.held.set(sessionId, (held = { watches: new Map(), events: [] }));
    held.watches.set(`${kind} ${path}`, zxid);
  }

  /** The session's request was answered: the events its watches fired meanwhile follow, in order. */
  private answered(sessionId: number): void {
    const held = this.held.get(sessionId);
    if (!held) return;
    this.held.delete(sessionId);
    const row = this.store.row(sessionId);
    const ws = row && this.liveness.socketOf(row);
    // Without a socket they stay queued, in order, for the session's resume.
    if (!ws) return;
    for (const { event, queued } of held.events) {
      this.outbox.send(ws, event);
      this.watches.unqueue(queued);
    }
  }

  /** The numbers in the event queue of a session's events held for an answer not sent yet. */
  private heldQueued(sessionId: number): Set<number> {
    return new Set(this.held.get(sessionId)?.events.map((e) => e.queued));
  }

  /**
   * The identities a session holds now: its socket's address (none while it has no
   * socket) and those it added. Its requests act with the same (SessionPipeline.accept).
   */
  private identitiesOf(sessionId: number): Id[] {
    const row = this.store.row(sessionId);
    const ws = row && this.liveness.socketOf(row);
    const attachment = ws ? attachmentOf(ws) : undefined;
    return this.runner.idsOf(sessionId, attachment ? connectionIds(attachment, row?.client_ip) : []);
  }

  /** Sends a message to the socket carrying a session, if any; otherwise to `fallback`. */
  private sendToSession(sessionId: number, message: ServerMessage, fallback?: WebSocket): void {
    const row = this.store.row(sessionId);
    // Mostly the session is still on the socket it asked on: no need to look that socket up.
    const carried = fallback !== undefined && row?.socket_id === attachmentOf(fallback)?.socketId;
    const ws = carried ? fallback : ((row && this.liveness.socketOf(row)) ?? fallback);
    if (ws) this.outbox.send(ws, message);
  }

  override async fetch(request: Request): Promise<Response> {
    return this.sockets.upgrade(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.sockets.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.detach(ws);
    try {
      ws.close(echoCloseCode(code), "closed");
    } catch {
      // already closed
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.detach(ws);
  }

  /** A socket went (or is being closed): its sessions live on for their timeout, waiting for a resume. */
  private detach(ws: WebSocket): void {
    const attachment = attachmentOf(ws);
    if (!attachment) return;
    this.sockets.forget(attachment.socketId);
    this.liveness.gone(attachment.socketId);
    this.store.detachSocket(attachment.socketId, Date.now());
  }

  /**
   * Expires every session whose deadline has passed and whose socket has not shown
   * life since, and finishes closes left midway; then sets the alarm for the next deadline.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    const due = sql.exec<{ id: number }>("SELECT id FROM sessions WHERE deadline <= ? ORDER BY deadline", now).toArray();
    for (const { id } of due) {
      const row = this.store.row(id);
      if (!row) continue;
      if (row.state === "open") {
        const deadline = this.liveness.deadlineOf(row);
        // Alive (renewed since its row was written, or on its socket): the row catches
        // up, so the alarm, set from rows, moves on to it.
        if (deadline > now) {
          this.store.extend(id, deadline, true);
          continue;
        }
      }
      // Marked before any shard is asked, with a retry time: an interrupted expiry is finished by a later alarm.
      const reason = row.state === "open" ? "expired" : undefined;
      this.store.markClosing(id, now + CLOSE_RETRY_MS);
      try {
        const socket = await this.finish(id);
        if (socket && reason) this.outbox.send(socket, { t: "closed", sid: id, reason });
      } catch (err) {
        console.error(`session ${sessionIdHex(id)}: expiry will be retried`, err);
      }
    }
    await this.scheduleExpiry(true);
  }

  /**
   * Deletes a closing session's ephemerals on every shard that may hold one, then
   * its watches and the session. Each step is idempotent (a shard's closeSession
   * finds nothing the second time), so an object restart midway repeats the rest
   * safely. Returns the socket that carried the session, if still open.
   */
  private async finish(sessionId: number): Promise<WebSocket | undefined> {
    const socket = this.liveness.socketOf(this.store.row(sessionId) ?? { socket_id: null });
    const shards = this.store.shardsOf(sessionId);
    if (shards.length > 0) {
      const router = this.router();
      for (const mount of shards) {
        await router.closeSession(mount, sessionId);
        this.store.dropShard(sessionId, mount.shard);
      }
    }
    const orphans = this.watches.dropSession(sessionId);
    this.store.delete(sessionId);
    this.bookmarks.forget(sessionId);
    this.views.forget(sessionId);
    await this.runner.removeOrphans(sessionId, orphans);
    return socket;
  }

  /**
   * Sets the one alarm to the earliest deadline, if sooner than the alarm set.
   * `replace`: set it whatever is set (from the alarm handler, whose own alarm is spent).
   */
  private async scheduleExpiry(replace = false): Promise<void> {
    const next = this.ctx.storage.sql.exec<{ t: number | null }>("SELECT min(deadline) AS t FROM sessions").one().t;
    if (next === null) {
      if (replace) await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.max(next, Date.now());
    const current = replace ? null : await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }
}

async function answer<T>(fn: () => Promise<T>): Promise<SessionOutcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof KeeperError) return { ok: false, error: err.toBody() };
    throw err;
  }
}
