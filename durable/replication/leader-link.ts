/**
 * The replica's Network port: each request is a Durable Object RPC to its leader's
 * `replicationRequest`. It also keeps what the answers say about freshness: when
 * the last answered request was sent and the leader's commit point in the answer.
 * Everything the leader had committed when a request was sent is at or below the
 * commit point it answers, so once the replica has applied that point it holds
 * everything committed before the send time (a bound that never flatters it); an
 * answer the leader held (a parked or streaming pull's) says for how long, by the
 * leader's own clock, and counts from the send time plus that. A streaming pull's
 * pushes count as answers to it.
 */
import type { LeaderRequest, Network, PullReply, SnapshotReply } from "./core/index.ts";

/** What a replica calls on its leader (ShardDO.replicationRequest); `push`: the way back for a streaming pull's pages. */
export interface ReplicationLeader {
  replicationRequest(message: LeaderRequest, push?: (page: PullReply) => Promise<boolean>): Promise<PullReply | SnapshotReply>;
}

/**
 * An answer from the leader: the leader's commit point in it, which holds everything
 * committed before `asOf` (when its request left, plus how long the leader held it).
 */
export interface LeaderContact {
  asOf: number;
  leaderZxid: number;
}

export class LeaderLink implements Network {
  /**
   * Of the answers (and pushed pages) from a leader that was leading (not fenced)
   * since this instance started, the one whose `asOf` is latest (pulls are pipelined:
   * answers may come out of order, and a pull parked long ago may answer late).
   */
  latest: LeaderContact | undefined;
  /** Whether the leader's last answer said it no longer leads, naming no successor (freed by an unmount); cleared by the caller when it tries again. */
  leaderGone = false;
  /** When the request whose answer set `leaderGone` was sent. */
  private goneSentAt = -Infinity;
  private readonly leaderOf: (name: string) => ReplicationLeader;
  private readonly now: () => number;

  /**
   * @example
   * const link = new LeaderLink((name) => env.SHARD.get(env.SHARD.idFromName(name)), Date.now);
   */
  constructor(leaderOf: (name: string) => ReplicationLeader, now: () => number) {
    this.leaderOf = leaderOf;
    this.now = now;
  }

  async request<Q, A>(peer: string, message: Q, pushed?: (push: A) => boolean): Promise<A> {
    const sentAt = this.now();
    const push = pushed && (async (page: PullReply) => {
      this.contact(sentAt, page);
      return pushed(page as A);
    });
    const reply = await this.leaderOf(peer).replicationRequest(message as LeaderRequest, push);
    this.contact(sentAt, reply);
    // As for `latest`, the pull sent last decides: a pull parked long ago must not clear a newer one's fencing.
    if (sentAt >= this.goneSentAt) {
      this.goneSentAt = sentAt;
      // One that names whom it follows handed the shard over: the replica follows that one (ReplicaCore).
      this.leaderGone = reply.kind === "fenced" && reply.leader === undefined;
    }
    return reply as A;
  }

  /** Notes an answer (or a pushed page) to a request sent at `sentAt`. */
  private contact(sentAt: number, reply: PullReply | SnapshotReply): void {
    const leaderZxid = reply.kind === "page" ? reply.pageZxid : reply.kind === "fenced" ? undefined : reply.leaderZxid;
    // Committed at least heldMs after the request left: a span of the leader's clock, never a time of it.
    const asOf = sentAt + (reply.kind === "entries" ? (reply.heldMs ?? 0) : 0);
    if (leaderZxid !== undefined && asOf >= (this.latest?.asOf ?? -Infinity)) this.latest = { asOf, leaderZxid };
  }
}
