/**
 * Concurrent sessionless requests to one shard share RPCs, as a session host's
 * requests do: while an RPC to a shard is in flight, the isolate's further requests
 * for that shard (from the same caller) queue, and the next RPC carries them all.
 * The shard answers a batch in order, each write its own transaction, each read
 * checked against the caller's ACLs, so sharing an RPC changes no answer; it saves
 * an RPC, and a turn of the shard, per request.
 *
 * workerd ties I/O to the request that starts it, and cancels a request's pending
 * work when its client goes away. So an RPC is sent from the handler of a request
 * it carries, and its answers are handed out under that request's `keepAlive`
 * (ctx.waitUntil). Each answer, and each wake-up of a queued request, reaches its
 * request in that request's own context through workerd's cross-request promise
 * handling (`handle_cross_request_promise_resolution`; without it, as in the Worker
 * test pool, requests must not share: EDGEKEEPER_SHARED_RPCS=0). When an RPC ends,
 * the queued requests are woken and the first one awake sends the next. An RPC
 * unanswered for ABANDONED_RPC_MS is taken for lost: the lane moves on, and its own
 * requests are answered OperationTimeout rather than left waiting.
 */
import type { Outcome, ShardRequest } from "../../protocol/index.ts";
import { KeeperError } from "../../protocol/index.ts";

/** Sends requests to the shard in one RPC, answering each in order. */
export type SendBatch = (requests: ShardRequest[]) => Promise<Outcome[]>;

/** Keeps the request that sent an RPC alive until its answer is handed out (ctx.waitUntil). */
export type KeepAlive = (work: Promise<unknown>) => void;

/** What a request counts for in an RPC's size: its path and its value's bytes, at least this. */
const REQUEST_OVERHEAD_BYTES = 64;

interface Queued {
  request: ShardRequest;
  bytes: number;
  /** The RPC that carries it, once sent. */
  rpc: Rpc | undefined;
  answer: Promise<Outcome>;
  settle(outcome: Outcome): void;
  fail(err: unknown): void;
}

/** An RPC of a lane, sent at `sentAt`. */
interface Rpc {
  sentAt: number;
}

/** The RPCs of one shard and caller: at most one in flight, the rest waiting for it. */
interface Lane {
  inFlight: Rpc | undefined;
  queue: Queued[];
  wakers: (() => void)[];
}

/** An RPC unanswered for this long is taken for lost (its sender was cancelled before it handed out the answers). */
export const ABANDONED_RPC_MS = 30_000;

/** How often a waiting request's timer ticks: it keeps the request alive, and notices an RPC lost. */
const HOLD_INTERVAL_MS = 1_000;

/** Bytes a request adds to an RPC (its value, or its multi's values, and paths). */
export function requestBytes(request: ShardRequest): number {
  const ops: readonly object[] = request.op === "multi" || request.op === "multiRead" ? request.ops : [request];
  let bytes = REQUEST_OVERHEAD_BYTES;
  for (const op of ops) {
    const { path, data } = op as { path?: string; data?: Uint8Array | null };
    bytes += (path?.length ?? 0) + (data?.byteLength ?? 0);
  }
  return bytes;
}

export class SharedRpcs {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxBytes: number;
  private readonly abandonedMs: number;

  /** `maxBytes`: most request bytes one RPC carries (one request of any size always goes); `abandonedMs`: when an RPC is lost. */
  constructor(maxBytes: number, abandonedMs = ABANDONED_RPC_MS) {
    this.maxBytes = maxBytes;
    this.abandonedMs = abandonedMs;
  }

  private lost(rpc: Rpc | undefined): boolean {
    return rpc !== undefined && Date.now() - rpc.sentAt >= this.abandonedMs;
  }

  /**
   * Runs `request` in the next RPC of lane `key` (a shard and a caller): now if none
   * is in flight, else once the one in flight has answered. `send` and `keepAlive`
   * are the calling request's, used if it is the one that sends. `first` puts the
   * request ahead of those queued (a request sent again after its batch deferred it).
   *
   * @example
   * const outcome = await shared.run(key, { op: "getData", path: "/a" }, (batch) => shard.execute("/", caller, batch), (p) => ctx.waitUntil(p));
   */
  async run(key: string, request: ShardRequest, send: SendBatch, keepAlive: KeepAlive, first = false): Promise<Outcome> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { inFlight: undefined, queue: [], wakers: [] };
      this.lanes.set(key, lane);
    }
    const queued = queuedRequest(request);
    if (first) lane.queue.unshift(queued);
    else lane.queue.push(queued);
    // A request waiting on another's RPC holds a timer: workerd cancels, as hung, a
    // request that waits on nothing of its own (the one that sent the RPC holds that).
    // Its ticks also notice an RPC lost.
    let timer: ReturnType<typeof setInterval> | undefined;
    const hold = (waiting: Lane) => setInterval(() => this.noticeLost(waiting, queued), HOLD_INTERVAL_MS);
    try {
      let sentBySelf = false;
      while (queued.rpc === undefined) {
        if (lane.inFlight === undefined || this.lost(lane.inFlight)) {
          sentBySelf = this.sendNext(key, lane, send, keepAlive, queued);
        } else {
          timer ??= hold(lane);
          await new Promise<void>((wake) => lane.wakers.push(wake));
        }
      }
      if (!sentBySelf) timer ??= hold(lane);
      return await queued.answer;
    } finally {
      if (timer !== undefined) clearInterval(timer);
    }
  }

  /** If the lane's RPC is lost: its waiters are woken to send the next, and `queued`, if it was in it, times out. */
  private noticeLost(lane: Lane, queued: Queued): void {
    if (this.lost(lane.inFlight)) for (const wake of lane.wakers.splice(0)) wake();
    if (this.lost(queued.rpc)) queued.fail(new KeeperError("OperationTimeout", `the shard call carrying this request gave no answer in ${this.abandonedMs} ms; a write may or may not have been applied`));
  }

  /** Sends the queue's head, up to maxBytes of requests, and hands out the answers; true if `self` went in it. */
  private sendNext(key: string, lane: Lane, send: SendBatch, keepAlive: KeepAlive, self: Queued): boolean {
    let bytes = 0;
    let count = 0;
    while (count < lane.queue.length && (count === 0 || bytes + lane.queue[count]!.bytes <= this.maxBytes)) bytes += lane.queue[count++]!.bytes;
    const batch = lane.queue.splice(0, count);
    const rpc: Rpc = { sentAt: Date.now() };
    for (const queued of batch) queued.rpc = rpc;
    lane.inFlight = rpc;
    const answered = send(batch.map((queued) => queued.request)).then(
      (outcomes) => {
        for (const [i, queued] of batch.entries()) {
          const outcome = outcomes[i];
          if (outcome) queued.settle(outcome);
          else queued.fail(new KeeperError("SystemError", "shard returned no outcome"));
        }
      },
      (err: unknown) => {
        for (const queued of batch) queued.fail(err);
      },
    );
    keepAlive(
      answered.finally(() => {
        // A lost RPC answering late leaves the lane to the one sent since.
        if (lane.inFlight !== rpc) return;
        lane.inFlight = undefined;
        if (lane.queue.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
        for (const wake of lane.wakers.splice(0)) wake();
      }),
    );
    return batch.includes(self);
  }
}

function queuedRequest(request: ShardRequest): Queued {
  let settle!: (outcome: Outcome) => void;
  let fail!: (err: unknown) => void;
  const answer = new Promise<Outcome>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  // A request whose client went away awaits its answer no more: its failure is no one's.
  answer.catch(() => undefined);
  return { request, bytes: requestBytes(request), rpc: undefined, answer, settle, fail };
}
