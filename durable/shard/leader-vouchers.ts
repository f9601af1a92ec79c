/**
 * A geo-tier leader's reads wait for a voucher: a sync replica, asked after the read,
 * says it has promised no later epoch (LeaderLog.vouches). A failover promotes only
 * once every sync replica promised, so until then no other copy leads and the read's
 * state is the newest. Without it a leader cut off from its region's peers would serve
 * stale linearizable reads after a failover elsewhere (the simulator found this).
 *
 * Reads share rounds: one round of asks is in flight at a time, and reads arriving
 * meanwhile wait for the next one (a round begun before a read counts for nothing),
 * so a read costs at most two round trips to the nearest sync replica, and a busy
 * leader one round of RPCs per round trip, whatever its read rate.
 */
import type { Clock } from "../replication/core/index.ts";

/** One sync replica asked whether it vouches for `epoch`: rejects or answers false when it does not. */
export type AskVoucher = (copy: string, epoch: number) => Promise<boolean>;

export class LeaderVouchers {
  private readonly ask: AskVoucher;
  private readonly clock: Clock;
  private readonly waitMs: number;
  private running: Promise<boolean> | undefined;
  private next: Promise<boolean> | undefined;

  constructor(ask: AskVoucher, clock: Clock, waitMs: number) {
    this.ask = ask;
    this.clock = clock;
    this.waitMs = waitMs;
  }

  /** Whether a sync replica, asked after this call, vouches for `epoch` within the wait (`copies` asked; none: true at once). */
  confirm(copies: readonly string[], epoch: number): Promise<boolean> {
    if (copies.length === 0) return Promise.resolve(true);
    if (!this.running) {
      this.running = this.round(copies, epoch).finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    const again = () => {
      this.next = undefined;
      return this.confirm(copies, epoch);
    };
    this.next ??= this.running.then(again, again);
    return this.next;
  }

  /** Asks every copy at once: true at the first that vouches, false when none does within the wait. */
  private async round(copies: readonly string[], epoch: number): Promise<boolean> {
    const vouched = Promise.any(copies.map(async (copy) => ((await this.ask(copy, epoch)) ? true : Promise.reject(new Error(`${copy} does not vouch`))))).catch(() => false);
    const sleep = this.clock.sleep(this.waitMs);
    try {
      return await Promise.race([vouched, sleep.elapsed.then(() => false)]);
    } finally {
      sleep.cancel();
    }
  }
}
