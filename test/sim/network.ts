/**
 * The simulated network between objects and from clients: request/response that
 * may be dropped (either way: a reply lost after its request ran), duplicated,
 * delayed and so reordered, or cut by a partition. A lost exchange fails the
 * caller after `rpcTimeoutMs`, as a platform RPC error would. A request may give a
 * way back (a streaming pull's): the handler's pushes to it meet the same faults.
 */
import type { Prng } from "./prng.ts";
import type { Owner, Scheduler } from "./scheduler.ts";

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  rpcTimeoutMs: number;
  /** How often a message is held up far longer (up to stallMs), as by a stalled isolate: it may arrive after its sender gave up. */
  stallRate?: number;
  stallMs?: number;
}

/** Sends a message back to a request's sender while it is open; resolves to the sender's reply. */
export type Push = (message: unknown) => Promise<unknown>;

/** The live handler of a named peer, or undefined while it is down; `push` when its sender gave a way back. */
export type Handler = (message: unknown, push?: Push) => Promise<unknown>;

export class SimNetwork {
  private readonly handlers = new Map<string, { owner: Owner; handle: Handler }>();
  private readonly partitions = new Map<string, number>();
  faultCount = 0;
  private readonly scheduler: Scheduler;
  private readonly prng: Prng;
  readonly faults: NetworkFaults;

  constructor(scheduler: Scheduler, prng: Prng, faults: NetworkFaults) {
    this.scheduler = scheduler;
    this.prng = prng;
    this.faults = faults;
  }

  serve(name: string, owner: Owner, handle: Handler): void {
    this.handlers.set(name, { owner, handle });
  }

  /** Cuts a and b apart (both ways) until the given time. */
  partition(a: string, b: string, untilMs: number): void {
    this.partitions.set(pairKey(a, b), untilMs);
    this.faultCount += 1;
  }

  /** Ends every partition now. */
  heal(): void {
    this.partitions.clear();
  }

  delay(): number {
    const { minDelayMs, maxDelayMs, stallRate, stallMs } = this.faults;
    if (stallRate !== undefined && stallMs !== undefined && this.prng.chance(stallRate)) {
      this.faultCount += 1;
      return this.prng.int(maxDelayMs, stallMs);
    }
    return this.prng.int(minDelayMs, maxDelayMs);
  }

  /**
   * Sends `message` from `from` (whose owner must live to see the answer) to `to`;
   * `pushed`, when given, takes what the handler pushes back meanwhile.
   */
  request<A>(from: string, owner: Owner, to: string, message: unknown, pushed?: (push: A) => unknown): Promise<A> {
    return this.exchange<A>(from, owner, to, message, () => {
      const target = this.handlers.get(to);
      if (!target) return undefined;
      // A push goes back to the sender's incarnation that sent the request, and only to it.
      const push = pushed && ((pushedMessage: unknown) => this.exchange(to, target.owner, from, pushedMessage, () => ({ owner, handle: async (m) => pushed(m as A) })));
      return { owner: target.owner, handle: (m) => target.handle(m, push) };
    });
  }

  /** One exchange: `message` to whatever `receiver` names when it arrives, and its answer back, each way faulty. */
  private exchange<A>(from: string, owner: Owner, to: string, message: unknown, receiver: () => { owner: Owner; handle: (message: unknown) => Promise<unknown> } | undefined): Promise<A> {
    return new Promise<A>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      this.scheduler.after(this.faults.rpcTimeoutMs, owner, () => settle(() => reject(new Error(`request to ${to} timed out`))));
      const copies = this.prng.chance(this.faults.duplicateRate) ? 2 : 1;
      if (copies === 2) this.faultCount += 1;
      for (let copy = 0; copy < copies; copy++) {
        if (this.lost(from, to)) continue;
        this.scheduler.after(this.delay(), { alive: true }, () => {
          const target = receiver();
          if (!target?.owner.alive || this.cut(from, to)) return;
          const json = JSON.stringify(message);
          target.handle(JSON.parse(json)).then(
            (answer) => {
              if (this.lost(to, from)) return;
              const text = JSON.stringify(answer);
              this.scheduler.after(this.delay(), owner, () => settle(() => resolve(JSON.parse(text) as A)));
            },
            () => undefined,
          );
        });
      }
    });
  }

  private lost(from: string, to: string): boolean {
    if (this.cut(from, to)) return true;
    if (!this.prng.chance(this.faults.dropRate)) return false;
    this.faultCount += 1;
    return true;
  }

  private cut(a: string, b: string): boolean {
    return (this.partitions.get(pairKey(a, b)) ?? -1) > this.scheduler.now;
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
