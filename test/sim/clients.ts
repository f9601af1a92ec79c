/**
 * Simulated sessions: each issues creates, sets, deletes, multis, linearizable reads
 * at the leader and sequential reads (with one-shot data watches) at its home, and
 * records every call in the history format the checkers read (history.ts).
 *
 * A session's home is its region's replica, or the leader when there is none or the
 * replica cannot catch up in time. The leader is where the directory says (a handover
 * moves it): a session asks there when a copy answers that it no longer leads without
 * naming its successor, or stops answering, and retries its write with the same cxid.
 * Everything the session sees about the shard comes in zxid order through its home:
 * an answer from the leader (a write, a linearizable read) is released only once home
 * has applied its zxid, after home's watch events.
 * A session reads at a replica only once that replica has applied its bookmark.
 */
import type { Fenced, ReadResult, Reply, WriteOp } from "../../durable/replication/core/index.ts";
import type { Call, HistoryEntry, RegisterOp, RegisterResult } from "./history.ts";
import type { Links } from "./links.ts";
import type { SimNetwork } from "./network.ts";
import { DIRECTORY, type WhereRequest } from "./directory.ts";
import type { ClientRequest, SimNode, SimWatch } from "./nodes.ts";
import type { Prng } from "./prng.ts";
import type { Owner, Scheduler } from "./scheduler.ts";

export const SHARD = "s0";
const KEYS = ["/k0", "/k1", "/k2", "/k3"];
/** A session's home when it is whichever copy leads. */
const LEADER = "leader";
/** How long a session waits for its home replica before going to the leader. */
const HOME_WAIT_MS = 400;
/** Attempts of one call to the leader before the session gives up on its answer. */
const LEADER_ATTEMPTS = 8;

/** What the run shares with its sessions. */
export interface SessionWorld {
  scheduler: Scheduler;
  network: SimNetwork;
  links: Links;
  prng: Prng;
  history: HistoryEntry[];
  node(name: string): SimNode | undefined;
  /** The live replica of a region, if any. */
  replicaOf(region: number): string | undefined;
  /** Takes one operation from the run's budget; false when it is spent. */
  takeOp(): boolean;
  nextCallId(): number;
  /** Acknowledged writes, for the state checks: zxid, session and cxid. */
  acknowledged: Acknowledged[];
  /** Where the directory said the leader was when the run began. */
  firstLeader: string;
}

export interface Acknowledged {
  zxid: number;
  session: number;
  cxid: number;
  path: string;
}

export class SimSession {
  readonly id: number;
  readonly name: string;
  readonly region: number;
  home = LEADER;
  /** The copy this session believes leads. */
  leader: string;
  /** The highest zxid this session has seen on the shard. */
  bookmark = 0;
  /** Watches must be (re)sent to home before its next answer counts: after a move or home's crash. */
  needsAttach = false;
  /** Counts moves and crashes of home: an attach answered after one no longer holds. */
  private homeChanges = 0;
  private cxid = 0;
  private ephemerals = 0;
  private readonly watches = new Map<number, SimWatch>();
  private readonly owner: Owner = { alive: true };
  private readonly world: SessionWorld;

  constructor(id: number, region: number, world: SessionWorld) {
    this.id = id;
    this.name = `c${id}`;
    this.region = region;
    this.world = world;
    this.leader = world.firstLeader;
  }

  /** Home is gone or lost its watches: send them again (to the leader when home is gone for good). */
  homeLost(destroyed: boolean): void {
    if (destroyed) this.home = LEADER;
    this.needsAttach = true;
    this.homeChanges += 1;
  }

  /**
   * A watch event through the link from `node`. A watch moved to a new home may still be
   * set at the old one too: the first event wins (each reports the first change after the
   * watch's read), the later one is dropped, so it fires once.
   */
  onEvent(watch: SimWatch, zxid: number, guessed: boolean): void {
    if (!this.watches.has(watch.setBy)) return;
    this.watches.delete(watch.setBy);
    this.bookmark = Math.max(this.bookmark, zxid);
    this.world.history.push({ kind: "watch-fired", session: this.id, shard: SHARD, path: watch.path, setBy: watch.setBy, zxid, at: this.world.scheduler.now, ...(guessed ? { guessed } : {}) });
  }

  /**
   * A copy armed a watch again by its rows alone (history.ts, WatchRearmed): the session
   * holds the new one instead, if that copy is its home. A copy it has left (its old
   * home, re-snapshotted after a failover) is not where the watch lives now: home holds
   * it as it was sent there, and its events would be dropped for the new one's.
   */
  onRearmed(node: string, old: SimWatch, renewed: SimWatch): void {
    if (node !== this.homeName || !this.watches.delete(old.setBy)) return;
    this.watches.set(renewed.setBy, renewed);
    const at = this.world.scheduler.now;
    this.world.history.push({ kind: "watch-rearmed", session: this.id, shard: SHARD, path: old.path, setBy: old.setBy, zxid: renewed.zxid, at });
    this.world.history.push({ kind: "watch-set", session: this.id, shard: SHARD, path: old.path, setBy: renewed.setBy, zxid: renewed.zxid, at });
  }

  async run(): Promise<void> {
    const { prng, scheduler } = this.world;
    while (this.world.takeOp()) {
      await scheduler.sleep(prng.int(0, 20), this.owner);
      const replica = this.world.replicaOf(this.region);
      if (this.home === LEADER && replica && prng.chance(0.2)) this.moveHome(replica);
      await this.oneOp();
    }
    await this.leaderCall({ type: "write", session: this.id, cxid: ++this.cxid, op: { op: "closeSession" } });
  }

  private async oneOp(): Promise<void> {
    const { prng } = this.world;
    const path = prng.pick(KEYS);
    const value = `${this.name}.${this.cxid + 1}`;
    const version = prng.chance(0.5) ? -1 : prng.int(0, 3);
    const roll = prng.next();
    if (roll < 0.18) return this.write({ type: "create", path, value }, { op: "create", path, data: value });
    if (roll < 0.36) return this.write({ type: "set", path, value, expectedVersion: version }, { op: "setData", path, data: value, version });
    if (roll < 0.44) return this.write({ type: "delete", path, expectedVersion: version }, { op: "delete", path, version });
    if (roll < 0.52) {
      // A conditional set: as a register, a set with an expected version.
      const multi: WriteOp = { op: "multi", ops: [{ op: "check", path, version }, { op: "setData", path, data: value, version: -1 }] };
      return this.write({ type: "set", path, value, expectedVersion: version }, multi);
    }
    if (roll < 0.56) return this.unrecorded({ op: "multi", ops: [{ op: "check", path, version: -1 }] });
    if (roll < 0.6) return this.unrecorded({ op: "create", path: `/e${this.id}.${++this.ephemerals}`, data: "", ephemeral: true });
    if (roll < 0.75) return this.linearizableRead(path);
    return this.sequentialRead(path, prng.chance(0.5));
  }

  private moveHome(home: string): void {
    this.home = home;
    this.needsAttach = true;
    this.homeChanges += 1;
  }

  private record(op: RegisterOp, mode: Call["mode"], servedBy: Call["servedBy"]): Call {
    const call: Call = { kind: "call", id: this.world.nextCallId(), session: this.id, shard: SHARD, op, mode, servedBy, invokedAt: this.world.scheduler.now, returnedAt: undefined, result: undefined };
    this.world.history.push(call);
    return call;
  }

  private answered(call: Call, result: RegisterResult): void {
    call.result = result;
    call.returnedAt = this.world.scheduler.now;
    this.bookmark = Math.max(this.bookmark, result.zxid);
  }

  /** A write (not in the history: check-only multis and ephemerals, which the state checks cover). */
  private async unrecorded(op: WriteOp): Promise<void> {
    const reply = await this.leaderCall({ type: "write", session: this.id, cxid: ++this.cxid, op });
    if (reply) await this.settle(reply.zxid);
  }

  private async write(op: RegisterOp, writeOp: WriteOp): Promise<void> {
    const call = this.record(op, "linearizable", "leader");
    const cxid = ++this.cxid;
    const reply = (await this.leaderCall({ type: "write", session: this.id, cxid, op: writeOp })) as Reply | undefined;
    if (!reply) return;
    await this.settle(reply.zxid);
    const result = writeResult(op, reply);
    if (result.ok) this.world.acknowledged.push({ zxid: reply.zxid, session: this.id, cxid, path: op.path });
    this.answered(call, result);
  }

  private async linearizableRead(path: string): Promise<void> {
    const call = this.record({ type: "read", path }, "linearizable", "leader");
    const answer = (await this.leaderCall({ type: "read", path })) as ReadResult | undefined;
    if (!answer) return;
    await this.settle(answer.zxid);
    this.answered(call, readResult(answer));
  }

  private async sequentialRead(path: string, watch: boolean): Promise<void> {
    for (;;) {
      if (this.needsAttach) await this.settle(this.bookmark);
      const home = this.homeNode();
      const call = this.record({ type: "read", path }, "sequential", this.home === LEADER ? "leader" : "replica");
      const setBy = call.id;
      const changesBefore = this.homeChanges;
      const answer = home ? await this.world.links.call(this.name, this.owner, home, (n) => n.readAndWatch(path, this.bookmark, watch ? { session: this.id, path, setBy } : null, HOME_WAIT_MS)) : "timeout";
      // Home crashed or moved while the read was out: its watches must be sent again before an answer counts.
      if (typeof answer !== "string" && changesBefore !== this.homeChanges) continue;
      if (typeof answer === "string") {
        // Nobody saw an answer: the call stays unanswered in the history, and the session goes elsewhere.
        if (this.home !== LEADER) this.moveHome(LEADER);
        else await this.leaderUnanswered();
        continue;
      }
      this.answered(call, readResult(answer));
      if (watch) {
        this.watches.set(setBy, { session: this.id, path, setBy, zxid: answer.zxid, seenMzxid: answer.row?.stat.mzxid ?? null });
        this.world.history.push({ kind: "watch-set", session: this.id, shard: SHARD, path, setBy, zxid: answer.zxid, at: this.world.scheduler.now });
      }
      return;
    }
  }

  /** Waits until home has applied `zxid` (its events for it delivered first), moving home to the leader if it cannot. */
  private async settle(zxid: number): Promise<void> {
    for (;;) {
      const home = this.homeNode();
      const watches = this.needsAttach ? [...this.watches.values()] : [];
      const attached = this.needsAttach;
      const changesBefore = this.homeChanges;
      const ok = home ? await this.world.links.call(this.name, this.owner, home, (n) => n.attach(zxid, watches, HOME_WAIT_MS)) : "timeout";
      if (ok === true && changesBefore === this.homeChanges) {
        if (attached) this.needsAttach = false;
        return;
      }
      if (ok === true) continue;
      if (this.home !== LEADER) this.moveHome(LEADER);
      else await this.leaderUnanswered();
    }
  }

  /** The copy that is home now. */
  get homeName(): string {
    return this.home === LEADER ? this.leader : this.home;
  }

  private homeNode(): SimNode | undefined {
    return this.world.node(this.homeName);
  }

  /** The leader did not answer as one: ask the directory where it is, then pause. */
  private async leaderUnanswered(): Promise<void> {
    await this.findLeader(undefined);
    await this.world.scheduler.sleep(100, this.owner);
  }

  /**
   * Learns where the leader is: from a fenced answer that names it, else from the
   * directory. A session at home with the leader sends its watches to the new one.
   */
  private async findLeader(named: string | undefined): Promise<void> {
    let leader = named;
    if (!leader) {
      const where: WhereRequest = { type: "where" };
      leader = await this.world.network.request<{ leader: string }>(this.name, this.owner, DIRECTORY, where).then((placement) => placement.leader, () => undefined);
    }
    if (!leader || leader === this.leader) return;
    this.leader = leader;
    if (this.home === LEADER) {
      this.needsAttach = true;
      this.homeChanges += 1;
    }
  }

  /**
   * A call to the leader, retried with the same cxid through lost messages, fencing and
   * moves of the leader; undefined if no answer came.
   */
  private async leaderCall(request: ClientRequest): Promise<Reply | ReadResult | undefined> {
    const { network, scheduler, prng } = this.world;
    for (let attempt = 0; attempt < LEADER_ATTEMPTS; attempt++) {
      const answer = await network.request<Reply | ReadResult | Fenced>(this.name, this.owner, this.leader, request).catch(() => undefined);
      if (answer && !("kind" in answer)) return answer;
      // Fenced: it names its successor, or the directory knows. Unanswered twice: the directory may know better.
      if (answer || attempt % 2 === 1) await this.findLeader(answer?.leader);
      await scheduler.sleep(prng.int(20, 100) * (attempt + 1), this.owner);
    }
    return undefined;
  }
}

function readResult(answer: ReadResult): RegisterResult {
  const row = answer.row;
  return { ok: true, zxid: answer.zxid, state: row ? { exists: true, value: row.data, version: row.stat.version, mzxid: row.stat.mzxid } : { exists: false } };
}

function writeResult(op: RegisterOp, reply: Reply): RegisterResult {
  if (reply.error) {
    if (reply.error === "NoNode" || reply.error === "NodeExists" || reply.error === "BadVersion") return { ok: false, error: reply.error, zxid: reply.zxid };
    throw new Error(`unexpected error ${reply.error} for ${JSON.stringify(op)}`);
  }
  if (op.type === "delete") return { ok: true, zxid: reply.zxid, state: { exists: false } };
  const stat = reply.stat ?? reply.results?.[1]?.stat;
  if (!stat || op.type === "read") throw new Error(`no stat in the reply to ${JSON.stringify(op)}`);
  return { ok: true, zxid: reply.zxid, state: { exists: true, value: op.value, version: stat.version, mzxid: stat.mzxid } };
}
