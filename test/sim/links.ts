/**
 * A session's connection to its home object (the replica of its region, or the
 * leader): FIFO both ways, as one socket is, so a watch event sent before an answer
 * arrives before it. A request to an object that is down, or crashes, times out.
 */
import type { SimNetwork } from "./network.ts";
import type { Owner, Scheduler } from "./scheduler.ts";
import type { SimNode } from "./nodes.ts";

export class Links {
  private readonly lastDelivery = new Map<string, number>();
  private readonly scheduler: Scheduler;
  private readonly network: SimNetwork;
  private readonly timeoutMs: number;

  constructor(scheduler: Scheduler, network: SimNetwork, timeoutMs: number) {
    this.scheduler = scheduler;
    this.network = network;
    this.timeoutMs = timeoutMs;
  }

  /** Delivers `run` after every earlier delivery on the same (from, to) link. */
  send(from: string, to: string, owner: Owner, run: () => void): void {
    const key = `${from}>${to}`;
    const at = Math.max(this.lastDelivery.get(key) ?? 0, this.scheduler.now + this.network.delay());
    this.lastDelivery.set(key, at);
    this.scheduler.at(at, owner, run);
  }

  /** Runs `work` at the node (if up when the request arrives) and returns its answer on the link back. */
  call<T>(session: string, owner: Owner, node: SimNode, work: (node: SimNode) => Promise<T>): Promise<T | "timeout"> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (value: T | "timeout") => {
        if (!settled) resolve(value);
        settled = true;
      };
      this.scheduler.after(this.timeoutMs, owner, () => settle("timeout"));
      this.send(session, node.name, { alive: true }, () => {
        if (!node.up) return;
        work(node).then((answer) => this.send(node.name, session, owner, () => settle(answer)), () => undefined);
      });
    });
  }
}
