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
 * (ctx.waitUntil). A queued request follows the sender's promises (of the answers,
 * and of the lane's release), and workerd runs what follows in the queued request's
 * own context (`handle_cross_request_promise_resolution`; without it, as in the
 * Worker test pool, requests must not share: EDGEKEEPER_SHARED_RPCS=0). No request
 * resolves a promise another awaits: see `whileAnswering`. When an RPC ends, the
 * queued requests wake and the first one awake sends the next. An RPC
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
  /** The RPC that carries it, once sent, and its place in that RPC's batch. */
  rpc: Rpc | undefined;
  index: number;
}

/** An RPC of a lane, sent at `sentAt` by one of the requests it carries. */
interface Rpc {
  sentAt: number;
  /** The shard's answers to the requests it carries, in order: a promise made in the sender's request. */
  outcomes: Promise<Outcome[]>;
  /** Settles, in the sender's request, once the lane is free of this RPC. */
  ended: Promise<void>;
}

/** The RPCs of one shard and caller: at most one in flight, the rest waiting for it. */
interface Lane {
  inFlight: Rpc | undefined;
  queue: Queued[];
}

/** An RPC unanswered for this long is taken for lost (its sender was cancelled before it handed out the answers). */
export const ABANDONED_RPC_MS = 30_000;

/** How often a waiting request's timer ticks: it keeps the request alive, and notices an RPC lost. */
const HOLD_INTERVAL_MS = 1_000;

/** What a wait on another request's RPC gives when that RPC is lost. */
const LOST = Symbol("lost");

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
      lane = { inFlight: undefined, queue: [] };
      this.lanes.set(key, lane);
    }
    const queued: Queued = { request, bytes: requestBytes(request), rpc: undefined, index: 0 };
    if (first) lane.queue.unshift(queued);
    else lane.queue.push(queued);
    while (queued.rpc === undefined) {
      const inFlight = lane.inFlight;
      if (inFlight === undefined || this.lost(inFlight)) this.sendNext(key, lane, send, keepAlive);
      else await this.whileAnswering(inFlight, inFlight.ended);
    }
    const rpc = queued.rpc;
    const outcomes = await this.whileAnswering(rpc, rpc.outcomes);
    if (outcomes === LOST) throw new KeeperError("OperationTimeout", `the shard call carrying this request gave no answer in ${this.abandonedMs} ms; a write may or may not have been applied`);
    const outcome = outcomes[queued.index];
    if (!outcome) throw new KeeperError("SystemError", "shard returned no outcome");
    return outcome;
  }

  /**
   * Waits, in the calling request, for `settled`, a promise of the request that sent
   * `rpc`; LOST once `rpc` is. workerd runs the continuation of a request that follows
   * another's promise in its own request, but not, in optimised code, that of a
   * promise a request made and another resolved: then the rest of the request (its
   * answer's body, say) would run in the resolver's request, whose I/O it may not
   * use. So no request here resolves a promise another awaits: each follows the
   * sender's. Meanwhile it holds a timer: workerd cancels, as hung, a request that
   * waits on nothing of its own; its ticks notice an RPC lost.
   */
  private async whileAnswering<T>(rpc: Rpc, settled: Promise<T>): Promise<T | typeof LOST> {
    let timer!: ReturnType<typeof setInterval>;
    const lost = new Promise<typeof LOST>((resolve) => {
      timer = setInterval(() => {
        if (this.lost(rpc)) resolve(LOST);
      }, HOLD_INTERVAL_MS);
    });
    try {
      return await Promise.race([settled, lost]);
    } finally {
      clearInterval(timer);
    }
  }

  /** Sends the queue's head, up to maxBytes of requests, from the calling request, which keeps it alive until it has answered. */
  private sendNext(key: string, lane: Lane, send: SendBatch, keepAlive: KeepAlive): void {
    let bytes = 0;
    let count = 0;
    while (count < lane.queue.length && (count === 0 || bytes + lane.queue[count]!.bytes <= this.maxBytes)) bytes += lane.queue[count++]!.bytes;
    const batch = lane.queue.splice(0, count);
    const outcomes = send(batch.map((queued) => queued.request));
    const ended = outcomes.then(
      () => this.endRpc(key, lane, rpc),
      () => this.endRpc(key, lane, rpc),
    );
    const rpc: Rpc = { sentAt: Date.now(), outcomes, ended };
    for (const [index, queued] of batch.entries()) {
      queued.rpc = rpc;
      queued.index = index;
    }
    lane.inFlight = rpc;
    keepAlive(ended);
  }

  /** Frees the lane of `rpc`; a lost RPC answering late leaves it to the one sent since. */
  private endRpc(key: string, lane: Lane, rpc: Rpc): void {
    if (lane.inFlight !== rpc) return;
    lane.inFlight = undefined;
    if (lane.queue.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }
}
