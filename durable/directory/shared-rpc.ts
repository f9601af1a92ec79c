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
 * it carries, and its answer is handed out under that request's `keepAlive`
 * (ctx.waitUntil): a request that went away can delay no one. A request still
 * queued when an RPC ends is woken, and the first one awake sends the next RPC.
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
  /** Set once an RPC carries it. */
  taken: boolean;
  answer: Promise<Outcome>;
  settle(outcome: Outcome): void;
  fail(err: unknown): void;
}

/** The RPCs of one shard and caller: at most one in flight (sent at `sentAt`), the rest waiting for it. */
interface Lane {
  sentAt: number | undefined;
  queue: Queued[];
  wakers: (() => void)[];
}

/**
 * An RPC unanswered for this long is taken for lost (its sender cancelled before
 * handing out the answers), and its lane is started afresh; the RPC itself, if it
 * still answers, answers its own requests.
 */
const ABANDONED_RPC_MS = 30_000;

/** How often a waiting request's timer ticks (it does nothing; it only keeps the request alive). */
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

  /** `maxBytes`: most request bytes one RPC carries (one request of any size always goes). */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
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
    const lane = this.laneFor(key);
    const queued = queuedRequest(request);
    if (first) lane.queue.unshift(queued);
    else lane.queue.push(queued);
    // A request waiting on another's RPC holds a timer: workerd cancels, as hung, a
    // request that waits on nothing of its own. The one that sent the RPC holds that.
    let timer: ReturnType<typeof setInterval> | undefined;
    try {
      let sentBySelf = false;
      while (!queued.taken) {
        if (lane.sentAt === undefined) {
          sentBySelf = this.sendNext(key, lane, send, keepAlive, queued);
        } else {
          timer ??= setInterval(() => undefined, HOLD_INTERVAL_MS);
          await new Promise<void>((wake) => lane.wakers.push(wake));
        }
      }
      if (!sentBySelf) timer ??= setInterval(() => undefined, HOLD_INTERVAL_MS);
      return await queued.answer;
    } finally {
      if (timer !== undefined) clearInterval(timer);
    }
  }

  /** The lane of `key`; a fresh one in place of one whose RPC never answered (its sender was cancelled). */
  private laneFor(key: string): Lane {
    const lane = this.lanes.get(key);
    if (lane && (lane.sentAt === undefined || Date.now() - lane.sentAt < ABANDONED_RPC_MS)) return lane;
    const fresh: Lane = { sentAt: undefined, queue: [], wakers: [] };
    this.lanes.set(key, fresh);
    return fresh;
  }

  /** Sends the queue's head, up to maxBytes of requests, and hands out the answers; true if `self` went in it. */
  private sendNext(key: string, lane: Lane, send: SendBatch, keepAlive: KeepAlive, self: Queued): boolean {
    let bytes = 0;
    let count = 0;
    while (count < lane.queue.length && (count === 0 || bytes + lane.queue[count]!.bytes <= this.maxBytes)) bytes += lane.queue[count++]!.bytes;
    const batch = lane.queue.splice(0, count);
    for (const queued of batch) queued.taken = true;
    lane.sentAt = Date.now();
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
        lane.sentAt = undefined;
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
  return { request, bytes: requestBytes(request), taken: false, answer, settle, fail };
}
