/**
 * DirectoryDO: one per namespace. Holds the mount table (which shard serves which
 * subtree), mounts new subtrees and unmounts empty ones. By default the whole tree
 * is one shard, so every ZooKeeper guarantee holds across it. One fixed instance
 * also keeps the deployment's namespaces (namespace-registry.ts).
 */
import {
  type Acl,
  type Caller,
  KeeperError,
  type KeeperErrorBody,
  OPEN_ACL_UNSAFE,
  type Outcome,
  fixupAcl,
  isReserved,
  parentOf,
  validatePath,
} from "../../protocol/index.ts";
import { EdgekeeperObject } from "../base/edgekeeper-object.ts";
import { RegionLink } from "../base/region-link.ts";
import { type EdgekeeperEnv, shardObjectName } from "../env.ts";
import { copiesOf } from "../replication/replica-name.ts";
import { type Mount, type MountTable, ROOT_MOUNT, mountFor, mountsBelow } from "./mount-table.ts";
import { isHostNumber } from "../../protocol/session-ids.ts";
import { REGISTRY_SCHEMA, admitIn } from "./namespace-registry.ts";
import { LeaderMoves, checkRegion } from "./leader-moves.ts";
import { type LeaderSettings, type MoveInProgress, SHARD_LEADERS_SCHEMA, ShardLeaders } from "./shard-leaders.ts";
import type { FailoverOutcome, HandoverOutcome } from "../replication/core/index.ts";
import { type FailoverView, type GeoPlacement, GeoTier, type Tier } from "./geo-tier.ts";

export type MountOutcome = { ok: true; mount: Mount; table: MountTable } | { ok: false; error: KeeperErrorBody };

/** What a mount or unmount asks of the shards involved. */
interface MountShard {
  createMountStub(root: string, path: string, caller: Caller, acl: Acl[]): Promise<Outcome>;
  initMount(root: string, acl: Acl[]): Promise<void>;
  mayRemoveMountStub(root: string, path: string, caller: Caller): Promise<Outcome>;
  removeMountStub(root: string, path: string): Promise<Outcome>;
  sealForUnmount(root: string): Promise<Outcome>;
  destroy(): Promise<void>;
  restoreBegin(root: string, zxid: number): Promise<Outcome>;
  restoreMountStub(root: string, path: string, acl: Acl[]): Promise<void>;
  restoreFinish(root: string): Promise<Outcome>;
}

/** A saved shard to restore: its subtree, the zxid it was saved at, and (for a mount) the mount point's ACL. */
export interface RestoreShard {
  prefix: string;
  zxid: number;
  acl?: Acl[];
}

export type RestoreOutcome = { ok: true; table: MountTable } | { ok: false; error: KeeperErrorBody };

/** How a planned move of a shard's leader ended (moved, or abandoned with nothing lost), or why none was started. */
export type MoveOutcome = { ok: true; outcome: HandoverOutcome } | { ok: false; error: KeeperErrorBody };

export type PromoteOutcome = { ok: true; outcome: FailoverOutcome; failover: FailoverView | null } | { ok: false; error: KeeperErrorBody };

export type LeaderSettingsOutcome = { ok: true; settings: LeaderSettings; tier: Tier; syncReplicas: string[] } | { ok: false; error: KeeperErrorBody };

/** A mount as stored: `pending` (being set up), `active`, or `unmounting`; none but active is routed to. */
interface MountRow extends Mount {
  state: "pending" | "active" | "unmounting";
}

/** `fn`'s answer, or its KeeperError as a failed outcome. */
async function keeperOutcome<T>(fn: () => Promise<T>): Promise<T | { ok: false; error: KeeperErrorBody }> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KeeperError) return { ok: false, error: err.toBody() };
    throw err;
  }
}

/** When the alarm resumes a move, should this instance end before the move does. */
const MOVE_RESUME_MS = 5_000;
/** How often the directory asks the leaders it moves by itself where they should be. */
const AUTO_MOVE_CHECK_MS = 60_000;

/** The caller a mount recorded before callers were kept is finished as (it was checked then). */
const SYSTEM_CALLER: Caller = { sessionId: 0, ids: [{ scheme: "super", id: "" }] };

export class DirectoryDO extends EdgekeeperObject {
  private readonly sql: SqlStorage;
  /** Mounts and unmounts talk to several shards between storage calls: one at a time. */
  private mounting: Promise<unknown> = Promise.resolve();
  /** Where each shard leads, and the moves of its leader (shard-leaders.ts). */
  private readonly leaders: ShardLeaders;
  private readonly moves: LeaderMoves;
  /** Geo-tier shards: their sync replicas, and failovers of their leaders (geo-tier.ts). */
  private readonly geo: GeoTier;

  constructor(ctx: DurableObjectState, env: EdgekeeperEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    const link = RegionLink.at(env);
    const firstObject = (shard: string) => shardObjectName(this.namespace(), shard);
    this.leaders = new ShardLeaders(ctx.storage, link.regions, firstObject);
    this.moves = new LeaderMoves(this.leaders, link, firstObject);
    this.geo = new GeoTier(this.leaders, link, firstObject, this.settings.failoverDetectMs);
    void ctx.blockConcurrencyWhile(async () => {
      for (const statement of SHARD_LEADERS_SCHEMA) this.sql.exec(statement);
      this.sql.exec("CREATE TABLE IF NOT EXISTS mounts (prefix TEXT PRIMARY KEY, shard TEXT NOT NULL, state TEXT NOT NULL) WITHOUT ROWID");
      // What a pending mount is set up with: the mount point's ACL, and the caller whose rights it needs.
      this.sql.exec("CREATE TABLE IF NOT EXISTS mount_requests (prefix TEXT PRIMARY KEY, acl TEXT NOT NULL, caller TEXT NOT NULL) WITHOUT ROWID");
      this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID");
      this.sql.exec(REGISTRY_SCHEMA);
      // The session hosts this namespace has used (each lists itself once): what monitoring asks.
      this.sql.exec("CREATE TABLE IF NOT EXISTS session_hosts (number INTEGER PRIMARY KEY)");
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 1)");
      this.sql.exec("INSERT OR IGNORE INTO mounts (prefix, shard, state) VALUES (?, ?, 'active')", ROOT_MOUNT.prefix, ROOT_MOUNT.shard);
    });
  }

  /** Registry instance only: admits a namespace unless `max` are admitted already. */
  async admitNamespace(namespace: string, max: number): Promise<boolean> {
    return admitIn(this.sql, namespace, max);
  }

  /** Records a session host of this namespace (idempotent). */
  async listSessionHost(hostNumber: number): Promise<void> {
    if (!isHostNumber(hostNumber)) throw new KeeperError("BadArguments", `no session host ${hostNumber}`);
    this.sql.exec("INSERT OR IGNORE INTO session_hosts (number) VALUES (?)", hostNumber);
  }

  /** The session hosts this namespace has used, by number. */
  async sessionHosts(): Promise<number[]> {
    return this.sql.exec<{ number: number }>("SELECT number FROM session_hosts ORDER BY number").toArray().map((r) => r.number);
  }

  /** The current mount table (finishing first any mount or unmount an earlier instance left half done). */
  async table(): Promise<MountTable> {
    if (this.sql.exec("SELECT 1 FROM mounts WHERE state != 'active' LIMIT 1").toArray().length > 0) {
      await this.serialized(() => this.finishPending());
    }
    return this.activeTable();
  }

  private activeTable(): MountTable {
    const version = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'version'").one().value;
    const mounts = this.sql.exec<{ prefix: string; shard: string }>("SELECT prefix, shard FROM mounts WHERE state = 'active' ORDER BY prefix").toArray();
    const moved = this.leaders.movedLeaders();
    return { version, mounts: mounts.map(({ prefix, shard }) => (moved.has(shard) ? { prefix, shard, leader: moved.get(shard)! } : { prefix, shard })) };
  }

  /**
   * Moves the leader of `shard` (a mounted shard of `namespace`) to its copy in
   * `region`, and answers once the move has ended (leader-moves.ts): moved, or
   * abandoned with nothing lost. Refused with nothing recorded: an unknown shard
   * (NoNode), no regions or an unknown one (BadArguments), a move of it under way
   * (ReconfigInProgress).
   */
  async moveLeader(namespace: string, shard: string, region: string): Promise<MoveOutcome> {
    return keeperOutcome(async () => {
      this.requireMounted(namespace, shard);
      const started = this.moves.move(shard, region);
      // Recorded (or refused) synchronously above: the alarm resumes it after a restart.
      await this.alarmBy(Date.now() + MOVE_RESUME_MS);
      return { ok: true, outcome: await started };
    });
  }

  /**
   * Sets how `shard`'s leader is placed (fields not given keep their value): moved by
   * the directory where its writes come from (`autoMove`), checked every
   * AUTO_MOVE_CHECK_MS, and the region it belongs in whatever the load
   * (`preferredRegion`, null for none), and its tier (geo-tier.ts). Refused, with
   * nothing changed: an unknown shard (NoNode), a server without regions or a region
   * not among them, geo with fewer than three regions (BadArguments), a tier changed
   * while the leader moves or fails over (ReconfigInProgress).
   */
  async configureLeader(namespace: string, shard: string, changes: { autoMove?: boolean; preferredRegion?: string | null; tier?: Tier }): Promise<LeaderSettingsOutcome> {
    return keeperOutcome(async () => {
      this.requireMounted(namespace, shard);
      const regions = RegionLink.at(this.env).regions;
      const { tier, ...placing } = changes;
      // Without regions, any setting is refused; a preferred region must be one of them.
      checkRegion(regions, placing.preferredRegion ?? regions?.[0]);
      const settings: LeaderSettings = { ...this.leaders.settings(shard), ...placing };
      if (tier !== undefined) await this.geo.setTier(shard, this.activeTable().mounts.find((m) => m.shard === shard)!.prefix, tier);
      this.leaders.configure(shard, settings);
      if (settings.autoMove) await this.alarmBy(Date.now() + AUTO_MOVE_CHECK_MS);
      if (tier === "geo") await this.alarmBy(Date.now() + this.geo.watchEveryMs);
      const { syncReplicas } = this.geo.placementOf(shard);
      return { ok: true, settings, tier: this.geo.tierOf(shard), syncReplicas };
    });
  }

  /**
   * Forces the shard's copy in `region` to lead (geo-tier.ts `forcePromote`), losing what
   * it had not applied of what its leader acknowledged, and answers once it leads or
   * why it does not yet (the alarm goes on with it).
   */
  async forcePromote(namespace: string, shard: string, region: string, acceptDataLoss: unknown): Promise<PromoteOutcome> {
    return keeperOutcome(async () => {
      this.requireMounted(namespace, shard);
      const running = this.geo.forcePromote(shard, region, acceptDataLoss);
      // Recorded (or refused) synchronously above: the alarm goes on with it after a restart.
      await this.alarmBy(Date.now() + this.geo.watchEveryMs);
      const outcome = await running;
      return { ok: true, outcome: outcome ?? { kind: "waiting", reason: "the failover ended meanwhile" }, failover: this.geo.placementOf(shard).failover };
    });
  }

  /** Refuses (NoNode) a shard not mounted in this namespace; stores the namespace's name first, as a mount does. */
  private requireMounted(namespace: string, shard: string): void {
    this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('namespace', ?)", namespace);
    if (!this.activeTable().mounts.some((m) => m.shard === shard)) throw new KeeperError("NoNode", `no shard ${JSON.stringify(shard)} is mounted in this namespace`);
  }

  /** The moves of leaders under way, and the settings of the shards' leaders that are not the default, by shard (`GET /v1/admin/shards`). */
  async leaderPlacements(): Promise<{ moves: Record<string, MoveInProgress>; settings: Record<string, LeaderSettings>; geo: Record<string, GeoPlacement> }> {
    return { moves: Object.fromEntries(this.leaders.movesUnderWay()), settings: Object.fromEntries(this.leaders.allSettings()), geo: this.geo.placements() };
  }

  /** The moves of leaders under way, by shard. */
  async movesUnderWay(): Promise<Record<string, MoveInProgress>> {
    return Object.fromEntries(this.leaders.movesUnderWay());
  }

  /**
   * Resumes the moves a restart cut short, running each to its end; watches the
   * geo-tier leaders, failing over one found silent (and comes back in the tier's
   * watch interval while any shard is geo-tier); then moves each leader set to move by
   * itself where its advice says, and comes back in AUTO_MOVE_CHECK_MS while any is.
   */
  override async alarm(): Promise<void> {
    await this.moves.resumeAll();
    if (await this.geo.watch()) await this.alarmBy(Date.now() + this.geo.watchEveryMs);
    const automatic = this.leaders.autoMoving();
    for (const shard of automatic) {
      try {
        await this.moves.followAdvice(shard);
      } catch (err) {
        // Its leader unreachable, or the move refused: the next check tries again.
        console.warn(`automatic move of shard ${shard}'s leader failed; trying again at the next check`, err);
      }
    }
    if (automatic.length > 0) await this.alarmBy(Date.now() + AUTO_MOVE_CHECK_MS);
  }

  /** Sets the alarm to `at` unless one is set sooner. */
  private async alarmBy(at: number): Promise<void> {
    const set = await this.ctx.storage.getAlarm();
    if (set === null || at < set) await this.ctx.storage.setAlarm(at);
  }

  /** The namespace this directory serves (stored at its first mount or move; else its object's name). */
  private namespace(): string {
    const stored = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'namespace'").toArray()[0];
    return String(stored?.value ?? this.ctx.id.name);
  }

  /**
   * Mounts a new, empty subtree at `prefix` on a shard of its own, as `caller`
   * creating the node would: the prefix must not exist yet, its parent must, and the
   * caller needs CREATE on the parent. The mount point gets `acl` (fixed up as a
   * create's; open to all by default, as a create's). The parent's shard keeps a
   * stub so that listing the parent shows the mounted child. At most
   * EDGEKEEPER_MAX_MOUNTS mounts per namespace.
   */
  async mount(namespace: string, prefix: string, caller: Caller, acl: Acl[] = [...OPEN_ACL_UNSAFE]): Promise<MountOutcome> {
    return this.outcomeOf(async () => {
      const { limits } = this.settings;
      validatePath(prefix, limits);
      if (prefix === "/" || isReserved(prefix)) throw new KeeperError("BadArguments", `cannot mount ${prefix}`, prefix);
      const fixedAcl = fixupAcl(acl, caller.ids, limits.maxAclEntries);
      await this.finishPending();
      const before = this.activeTable();
      if (before.mounts.some((m) => m.prefix === prefix)) throw new KeeperError("NodeExists", `${prefix} is already mounted`, prefix);
      const max = this.settings.maxMounts;
      if (before.mounts.length - 1 >= max) throw new KeeperError("QuotaExceeded", `this namespace already holds its limit of ${max} mounts (EDGEKEEPER_MAX_MOUNTS)`, prefix);
      const shard = `m${before.version}-${crypto.randomUUID().slice(0, 8)}`;
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('namespace', ?)", namespace);
        this.sql.exec("INSERT INTO mounts (prefix, shard, state) VALUES (?, ?, 'pending')", prefix, shard);
        this.sql.exec("INSERT INTO mount_requests (prefix, acl, caller) VALUES (?, ?, ?)", prefix, JSON.stringify(fixedAcl), JSON.stringify(caller));
      });
      await this.setUp({ prefix, shard });
      return { ok: true, mount: { prefix, shard }, table: this.activeTable() };
    });
  }

  /**
   * Unmounts the subtree at `prefix`: only an empty one (no children, no mount
   * below: NotEmpty otherwise), and only for a caller with DELETE on the parent, as
   * deleting the node needs. Removes the stub, frees the shard's storage, then the
   * row; each step is idempotent, so an unmount interrupted by a restart is
   * finished by the next call, as a mount is.
   */
  async unmount(prefix: string, caller: Caller): Promise<MountOutcome> {
    return this.outcomeOf(async () => {
      await this.finishPending();
      const table = this.activeTable();
      const mount = table.mounts.find((m) => m.prefix === prefix && m.prefix !== "/");
      if (!mount) throw new KeeperError("NoNode", `${prefix} is not a mount point`, prefix);
      if (mountsBelow(table, prefix).length > 0) throw new KeeperError("NotEmpty", `${prefix} has subtrees mounted below it: unmount them first`, prefix);
      const parentMount = mountFor(table, parentOf(prefix));
      const allowed = await this.shard(parentMount.shard).mayRemoveMountStub(parentMount.prefix, prefix, caller);
      if (!allowed.ok) throw KeeperError.fromBody(allowed.error);
      this.sql.exec("UPDATE mounts SET state = 'unmounting' WHERE prefix = ?", prefix);
      await this.tearDown(mount);
      return { ok: true, mount, table: this.activeTable() };
    });
  }

  /**
   * Restore, first step: refuses (NotEmpty) a namespace with mounts or nodes, then
   * marks it restoring, recreates the saved mounts (stub, shard, table row) and moves
   * each shard's zxid on to the saved one. A restore left unfinished (its client
   * gone) is undone first. From here, any failure empties the namespace again.
   */
  async beginRestore(namespace: string, shards: RestoreShard[]): Promise<RestoreOutcome> {
    return this.restoreOutcomeOf(async () => {
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('namespace', ?)", namespace);
      await this.finishPending();
      if (this.restoring()) await this.wipe();
      if (this.activeTable().mounts.length > 1) throw new KeeperError("NotEmpty", "the namespace has mounts: restore only into an empty namespace");
      const [root, ...mounts] = shards;
      if (root?.prefix !== "/") throw new KeeperError("BadArguments", "the first shard restored must be /");
      const max = this.settings.maxMounts;
      if (mounts.length > max) throw new KeeperError("QuotaExceeded", `the snapshot holds ${mounts.length} mounts; this namespace may hold ${max} (EDGEKEEPER_MAX_MOUNTS)`);
      const checked = await this.shard(ROOT_MOUNT.shard).restoreBegin("/", root.zxid);
      if (!checked.ok) throw KeeperError.fromBody(checked.error);
      this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('restoring', 1)");
      await this.undoingOnFailure(async () => {
        for (const mount of mounts) await this.restoreMount(mount);
      });
      return this.activeTable();
    });
  }

  private async restoreMount({ prefix, zxid, acl = [...OPEN_ACL_UNSAFE] }: RestoreShard): Promise<void> {
    const table = this.activeTable();
    const shard = `m${table.version}-${crypto.randomUUID().slice(0, 8)}`;
    const parentMount = mountFor(table, parentOf(prefix));
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("INSERT INTO mounts (prefix, shard, state) VALUES (?, ?, 'active')", prefix, shard);
      this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
    });
    await this.shard(parentMount.shard).restoreMountStub(parentMount.prefix, prefix, acl);
    await this.shard(shard).initMount(prefix, acl);
    const begun = await this.shard(shard).restoreBegin(prefix, zxid);
    if (!begun.ok) throw KeeperError.fromBody(begun.error);
  }

  /** Restore, last step: checks every shard's children counts, then the namespace is in use again. */
  async finishRestore(): Promise<RestoreOutcome> {
    return this.restoreOutcomeOf(async () => {
      if (!this.restoring()) throw new KeeperError("BadArguments", "no restore is in progress in this namespace");
      await this.undoingOnFailure(async () => {
        for (const mount of this.activeTable().mounts) {
          const finished = await this.shard(mount.shard).restoreFinish(mount.prefix);
          if (!finished.ok) throw KeeperError.fromBody(finished.error);
        }
      });
      this.sql.exec("DELETE FROM meta WHERE key = 'restoring'");
      return this.activeTable();
    });
  }

  /** Undoes a restore in progress: the namespace is left empty, as before it began. */
  async abortRestore(): Promise<RestoreOutcome> {
    return this.restoreOutcomeOf(async () => {
      if (!this.restoring()) throw new KeeperError("BadArguments", "no restore is in progress in this namespace");
      await this.wipe();
      return this.activeTable();
    });
  }

  /** Whether a restore is in progress (nodes may be written as given). */
  async isRestoring(): Promise<boolean> {
    return this.restoring();
  }

  private restoring(): boolean {
    return this.sql.exec("SELECT 1 FROM meta WHERE key = 'restoring'").toArray().length > 0;
  }

  private async undoingOnFailure(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      await this.wipe();
      throw err;
    }
  }

  /** Frees every shard of the namespace and forgets its mounts: an empty namespace, as new. */
  private async wipe(): Promise<void> {
    // Every copy, in every region: after a move, the first object of a shard is a replica, and would lead again with its rows.
    const link = RegionLink.at(this.env);
    for (const { shard } of this.sql.exec<{ shard: string }>("SELECT shard FROM mounts").toArray()) {
      for (const copy of copiesOf(shardObjectName(this.namespace(), shard), link.regions)) await (link.shard(copy) as unknown as MountShard).destroy();
    }
    this.ctx.storage.transactionSync(() => {
      this.leaders.forgetAll();
      this.sql.exec("DELETE FROM mounts WHERE prefix != '/'");
      this.sql.exec("DELETE FROM mount_requests");
      this.sql.exec("DELETE FROM meta WHERE key = 'restoring'");
      this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
    });
  }

  private restoreOutcomeOf(fn: () => Promise<MountTable>): Promise<RestoreOutcome> {
    return this.serialized(() => keeperOutcome(async () => ({ ok: true as const, table: await fn() })));
  }

  /** Runs a mount or unmount after the others, KeeperErrors as outcomes. */
  private outcomeOf(fn: () => Promise<MountOutcome>): Promise<MountOutcome> {
    return this.serialized(() => keeperOutcome(fn));
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mounting.then(fn);
    this.mounting = run.catch(() => undefined);
    return run;
  }

  /** The shard's leader (its first object unless a move put it elsewhere). */
  private shard(name: string): MountShard {
    return RegionLink.at(this.env).shard(this.leaders.leaderOf(name)) as unknown as MountShard;
  }

  /**
   * Sets up a pending mount: the stub in the parent's shard, as the caller creates
   * it (the step that can fail: no right, the prefix exists, or its parent does
   * not; then nothing else was made), then the new shard's root, then the table.
   * Every step is idempotent, so a mount interrupted by a restart is finished by
   * the next call; one that fails is forgotten.
   */
  private async setUp(mount: Mount): Promise<void> {
    const request = this.sql.exec<{ acl: string; caller: string }>("SELECT acl, caller FROM mount_requests WHERE prefix = ?", mount.prefix).toArray()[0];
    const acl = request ? (JSON.parse(request.acl) as Acl[]) : [...OPEN_ACL_UNSAFE];
    const caller = request ? (JSON.parse(request.caller) as Caller) : SYSTEM_CALLER;
    const parentMount = mountFor(this.activeTable(), parentOf(mount.prefix));
    const stub = await this.shard(parentMount.shard).createMountStub(parentMount.prefix, mount.prefix, caller, acl);
    if (!stub.ok) {
      this.forget(mount.prefix);
      throw KeeperError.fromBody(stub.error);
    }
    await this.shard(mount.shard).initMount(mount.prefix, acl);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE mounts SET state = 'active' WHERE prefix = ?", mount.prefix);
      this.sql.exec("DELETE FROM mount_requests WHERE prefix = ?", mount.prefix);
      this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
    });
  }

  /**
   * Tears down an unmounting mount: seals its shard if still empty (if not, a create
   * slipped in through a stale table: the mount is active again, NotEmpty), removes
   * the stub, frees the shard, forgets the row.
   */
  private async tearDown(mount: Mount): Promise<void> {
    const shard = this.shard(mount.shard);
    const sealed = await shard.sealForUnmount(mount.prefix);
    if (!sealed.ok) {
      this.sql.exec("UPDATE mounts SET state = 'active' WHERE prefix = ?", mount.prefix);
      throw KeeperError.fromBody(sealed.error);
    }
    const parentMount = mountFor(this.activeTable(), parentOf(mount.prefix));
    const removed = await this.shard(parentMount.shard).removeMountStub(parentMount.prefix, mount.prefix);
    if (!removed.ok) throw KeeperError.fromBody(removed.error);
    await shard.destroy();
    this.ctx.storage.transactionSync(() => {
      this.forget(mount.prefix);
      this.leaders.forget(mount.shard);
      this.sql.exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
    });
  }

  private forget(prefix: string): void {
    this.sql.exec("DELETE FROM mounts WHERE prefix = ?", prefix);
    this.sql.exec("DELETE FROM mount_requests WHERE prefix = ?", prefix);
  }

  private async finishPending(): Promise<void> {
    const unfinished = this.sql.exec<{ prefix: string; shard: string; state: MountRow["state"] }>("SELECT prefix, shard, state FROM mounts WHERE state != 'active'").toArray();
    for (const row of unfinished) {
      try {
        if (row.state === "pending") await this.setUp(row);
        else await this.tearDown(row);
      } catch (err) {
        if (!(err instanceof KeeperError)) throw err;
      }
    }
  }
}
