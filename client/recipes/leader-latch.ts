/**
 * LeaderLatch: Curator's LeaderLatch over LeaderElection. `start()` joins and stays a
 * candidate until `close()`, re-joining by itself in the client's new session after
 * `lost`; `hasLeadership()` says whether it leads now; `await()` waits until it does.
 *
 * Status: beta. Tested with 8+ members (exactly one has leadership; a new one after
 * the leader's session expires; the old leader re-joins as a follower). See
 * docs/recipes/leader-latch.md.
 */
import type { KeeperClient } from "../index.ts";
import { Waiter, isClosed, aborted } from "./internal.ts";
import { LeaderElection } from "./leader-election.ts";

type LatchEvent = "isLeader" | "notLeader";

/**
 * @example
 * const latch = new LeaderLatch(zk, "/latches/compactor", { identifier: "pod-3" });
 * latch.on("isLeader", () => startCompacting());
 * latch.on("notLeader", () => stopCompacting());
 * latch.start();
 * // ... at shutdown:
 * await latch.close();
 */
export class LeaderLatch {
  readonly election: LeaderElection;
  private readonly zk: KeeperClient;
  private readonly listeners = new Map<LatchEvent, Set<() => void>>();
  private running: Promise<void> | undefined;
  private stop: AbortController | undefined;
  private leading = false;
  private offState: (() => void) | undefined;

  constructor(zk: KeeperClient, path: string, options: { identifier?: string } = {}) {
    this.zk = zk;
    this.election = new LeaderElection(zk, path, options);
  }

  /** Joins the election; from now on the latch keeps a candidate in it until close(). */
  start(): void {
    if (this.running) return;
    this.stop = new AbortController();
    this.offState = this.zk.on("state", () => this.update());
    this.running = this.loop(this.stop.signal);
  }

  /**
   * Leading now: holding the lock and connected. False while `suspended` (the
   * leadership may be lost already), true again on `reconnected` if it was kept.
   */
  hasLeadership(): boolean {
    return this.election.isLeader && this.zk.state === "connected";
  }

  /**
   * Resolves true once this member has leadership, false on timeout.
   *
   * @example
   * if (await latch.await({ timeoutMs: 10_000 })) await doLeaderWork();
   */
  async await(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (this.hasLeadership()) return true;
      if (!this.running) return false;
      const wait = new Waiter(this.zk, deadline, options.signal);
      const off = this.on("isLeader", wait.fire);
      const reason = await wait.wait();
      off();
      if (reason === "timeout") return this.hasLeadership();
      if (reason === "abort") throw aborted(options.signal);
    }
  }

  /** `isLeader` when leadership is gained, `notLeader` when it is lost or suspended. Returns a remover. */
  on(event: LatchEvent, listener: () => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Leaves the election (resigning if leading); `notLeader` fires if it led. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.stop?.abort();
    await this.election.resign().catch(() => undefined);
    await this.running.catch(() => undefined);
    this.running = undefined;
    this.offState?.();
    this.update();
  }

  /** Campaigns, holds until the session is lost, campaigns again in the new one. */
  private async loop(stop: AbortSignal): Promise<void> {
    while (!stop.aborted && !isClosed(this.zk)) {
      try {
        if (await this.election.campaign({ signal: stop })) this.update();
      } catch {
        // SessionExpired while waiting, or aborted: fall through and wait for a new session.
      }
      if (stop.aborted) break;
      // Hold (or, after a failure, pause) until the session is lost or the latch closes.
      while (!stop.aborted && this.election.isLeader) {
        await new Waiter(this.zk, Infinity, stop, ["lost", "closed"]).wait();
      }
      this.update();
      if (stop.aborted || isClosed(this.zk)) break;
      if (this.zk.state !== "connected") await new Waiter(this.zk, Infinity, stop, ["connected", "reconnected", "closed"]).wait();
    }
  }

  private update(): void {
    const now = this.running !== undefined && !this.stop?.signal.aborted && this.hasLeadership();
    if (now === this.leading) return;
    this.leading = now;
    for (const listener of [...(this.listeners.get(now ? "isLeader" : "notLeader") ?? [])]) {
      try {
        listener();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
