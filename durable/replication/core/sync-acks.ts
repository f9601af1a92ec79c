/**
 * A geo-tier leader's acknowledgements: a write is acknowledged (its answer, a read
 * showing it, a page for a read replica) only once one of the shard's sync replicas
 * holds it durably, so that a failover, which promotes the most advanced sync
 * replica, keeps every acknowledged write. A sync replica says how far it holds the
 * log by each pull (its `fromZxid`: applied in its storage) and each push it applied.
 * Kept in memory: a leader restarted waits for its sync replicas' next pulls, which
 * their streams send within a long poll. A copy that takes the lead from another held
 * only acknowledged writes (a promoted sync replica holds what it holds; a handover's
 * target was shown only acknowledged ones, then the sealed zxid): its head then is
 * the floor. A leader leading again (an abandoned move) keeps what it knew.
 */
import type { Clock } from "./ports.ts";
import { waitAtMost } from "./wait.ts";

export class SyncAcks {
  private readonly clock: Clock;
  /** The names of the sync replicas (none: every commit is acknowledged as it commits). */
  private replicas: ReadonlySet<string> = new Set();
  /** How far each sync replica has said it holds the log. */
  private readonly held = new Map<string, number>();
  /** What was acknowledged when this copy began to lead (its head then). */
  private floor = 0;
  /** Stepped down after a failover: what it holds past the new leader's head is dropped, so nothing more is acknowledged here. */
  private steppedDown = false;
  private readonly waiters = new Set<() => void>();
  /** Told when the acknowledged point moves on (the leader wakes the read replicas' pulls it holds back). */
  private readonly onAdvance: () => void;

  constructor(clock: Clock, onAdvance: () => void) {
    this.clock = clock;
    this.onAdvance = onAdvance;
  }

  /** The shard's sync replicas, as its meta says (an empty list: it is regional). */
  configure(replicas: readonly string[]): void {
    if (sameMembers(this.replicas, replicas)) return;
    this.replicas = new Set(replicas);
    for (const name of this.held.keys()) if (!this.replicas.has(name)) this.held.delete(name);
    this.advanced();
  }

  /** Whether writes wait for a sync replica. */
  get geo(): boolean {
    return this.replicas.size > 0;
  }

  isSyncReplica(name: string): boolean {
    return this.replicas.has(name);
  }

  /** This copy takes the lead from another, holding `head`: what sync replicas said before is forgotten. */
  beginLeading(head: number): void {
    this.held.clear();
    this.floor = head;
    this.steppedDown = false;
  }

  /**
   * This copy stepped down for a failover's new leader: no sync replica is its any
   * more, and an answer still waiting here for one is never acknowledged (its write
   * may be in the tail the step down dropped). Not a regional shard's "acknowledged
   * at once": that is what an empty list means to a leader.
   */
  stepDown(): void {
    this.steppedDown = true;
    this.replicas = new Set();
    this.held.clear();
    this.advanced();
  }

  /** A sync replica holds the log through `zxid` (another name is ignored). */
  note(name: string, zxid: number): void {
    if (!this.replicas.has(name) || (this.held.get(name) ?? 0) >= zxid) return;
    const before = this.highest();
    this.held.set(name, zxid);
    if (this.highest() > before) this.advanced();
  }

  /** The highest zxid a sync replica holds; `applied` (the leader's head) when there are none. */
  acked(applied: number): number {
    return this.geo ? Math.min(applied, this.highest()) : applied;
  }

  /** Waits until a sync replica holds `zxid` or `timeoutMs` pass: says whether it does. */
  async whenAcked(zxid: number, timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      if (this.steppedDown) return false;
      if (!this.geo || this.highest() >= zxid) return true;
      const left = deadline - this.clock.now();
      if (left <= 0) return false;
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => this.waiters.add((wake = resolve)));
      try {
        await waitAtMost(this.clock, woken, left);
      } finally {
        this.waiters.delete(wake);
      }
    }
  }

  private highest(): number {
    let highest = this.floor;
    for (const zxid of this.held.values()) highest = Math.max(highest, zxid);
    return highest;
  }

  private advanced(): void {
    for (const wake of [...this.waiters]) wake();
    this.onAdvance();
  }
}

function sameMembers(set: ReadonlySet<string>, list: readonly string[]): boolean {
  return set.size === list.length && list.every((name) => set.has(name));
}
