/**
 * DoubleBarrier: `n` participants enter together and leave together, as ZooKeeper's
 * documented double barrier and kazoo's DoubleBarrier. `enter()` resolves once `n`
 * participants have entered; `leave()` resolves once every one of them has left.
 *
 * Status: beta. Tested with 8 sessions entering and leaving in rounds (none passes
 * enter before all arrived, none passes leave before all left)
 * (test/client/recipes-coordination.test.ts). See docs/recipes/double-barrier.md.
 *
 * Nodes: `<path>/<guid>__party__` (EPHEMERAL, one per participant inside) and
 * `<path>/__ready__` (created by the participant that completes the count, deleted by
 * the last one to leave). A participant whose session dies inside is counted out, so
 * the others' `leave()` still ends.
 */
import { type KeeperClient, isKeeperError } from "../index.ts";
import { Waiter, aborted, child, ensureContainers, guid, isClosed, retryConnectionLoss, sessionExpired } from "./internal.ts";

const READY = "__ready__";
const PARTY = "__party__";

export interface BarrierWaitOptions {
  /** Give up after this long: `enter` leaves again, both resolve false. Default: wait as long as it takes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * @example
 * const barrier = new DoubleBarrier(zk, "/barriers/round-7", 8);
 * await barrier.enter(); // all 8 are in
 * await compute();
 * await barrier.leave(); // all 8 are done
 */
export class DoubleBarrier {
  readonly path: string;
  readonly participants: number;
  private readonly zk: KeeperClient;
  private node: string | undefined;
  private session: number | undefined;

  constructor(zk: KeeperClient, path: string, participants: number) {
    if (!(participants >= 1)) throw new RangeError("a double barrier needs at least one participant");
    this.zk = zk;
    this.path = path;
    this.participants = participants;
  }

  /** Enters; resolves true once `participants` have entered, false on timeout (then it has left again). */
  async enter(options: BarrierWaitOptions = {}): Promise<boolean> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    await ensureContainers(this.zk, this.path);
    this.session = this.zk.sessionId;
    this.node = await retryConnectionLoss(() => this.zk.create(child(this.path, `${guid()}${PARTY}`), "", { mode: "EPHEMERAL" }));
    const ready = child(this.path, READY);
    for (;;) {
      this.checkSession();
      const wait = new Waiter(this.zk, deadline, options.signal);
      // Watch __ready__ first: its creation releases us even if it is deleted again before we look.
      const stat = await retryConnectionLoss(() => this.zk.exists(ready, { watch: wait.fire }));
      if (stat) {
        wait.cancel();
        return true;
      }
      const inside = await this.inside();
      if (inside.length >= this.participants) {
        wait.cancel();
        try {
          await retryConnectionLoss(() => this.zk.create(ready));
        } catch (error) {
          if (!isKeeperError(error, "NodeExists")) throw error;
        }
        return true;
      }
      const reason = await wait.wait();
      if (reason === "event") return true; // __ready__ was created
      if (reason === "timeout" || reason === "abort") {
        await this.leaveNode();
        if (reason === "abort") throw aborted(options.signal);
        return false;
      }
      // a state change: look again
    }
  }

  /** Leaves; resolves true once every participant has left, false on timeout (we have left either way). */
  async leave(options: BarrierWaitOptions = {}): Promise<boolean> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    await this.leaveNode();
    for (;;) {
      const wait = new Waiter(this.zk, deadline, options.signal);
      let remaining: string[];
      try {
        remaining = (await this.zk.getChildren(this.path, { watch: wait.fire })).children.filter((n) => n.endsWith(PARTY));
      } catch (error) {
        wait.cancel();
        if (isKeeperError(error, "NoNode")) return true;
        if (isKeeperError(error, "ConnectionLoss") && !isClosed(this.zk)) continue;
        throw error;
      }
      if (remaining.length === 0) {
        wait.cancel();
        // The last one out takes down __ready__, so the next round starts closed.
        try {
          await retryConnectionLoss(() => this.zk.delete(child(this.path, READY)));
        } catch (error) {
          if (!isKeeperError(error, "NoNode")) throw error;
        }
        return true;
      }
      const reason = await wait.wait();
      if (reason === "timeout") return false;
      if (reason === "abort") throw aborted(options.signal);
    }
  }

  private async inside(): Promise<string[]> {
    return (await retryConnectionLoss(() => this.zk.getChildren(this.path))).children.filter((n) => n.endsWith(PARTY));
  }

  private async leaveNode(): Promise<void> {
    const node = this.node;
    this.node = undefined;
    if (!node || this.zk.sessionId !== this.session) return;
    try {
      await retryConnectionLoss(() => this.zk.delete(node));
    } catch (error) {
      if (!isKeeperError(error, "NoNode") && !isKeeperError(error, "SessionExpired")) throw error;
    }
  }

  private checkSession(): void {
    if (this.zk.sessionId !== this.session) throw sessionExpired(`inside the double barrier ${this.path}`);
  }
}
