/**
 * The replica's link to its leader (plain Node: it only calls what it is given): of
 * its pipelined pulls' answers it keeps, as its contact with the leader, the one whose
 * pull left last, whatever order they arrive in.
 */
import { describe, expect, it } from "vitest";
import type { LeaderRequest, PullReply } from "../../durable/replication/core/index.ts";
import { LeaderLink } from "../../durable/replication/leader-link.ts";

describe("the leader link", () => {
  it("keeps the contact of the pull sent last, not of the answer that came last", async () => {
    let now = 1_000;
    const answers: Array<(reply: PullReply) => void> = [];
    const link = new LeaderLink(() => ({ replicationRequest: () => new Promise<PullReply>((resolve) => answers.push(resolve)) }), () => now);
    const pull: LeaderRequest = { type: "pull", replica: "r", fromZxid: 0, maxBytes: 1 };
    const early = link.request("leader", pull); // sent at 1000: parked long
    now = 5_000;
    const late = link.request("leader", pull); // sent at 5000
    const entries = (leaderZxid: number): PullReply => ({ kind: "entries", afterZxid: 0, entries: [], leaderZxid, logId: "log", epoch: 1 });
    answers[1]!(entries(7));
    await late;
    expect(link.latest).toEqual({ asOf: 5_000, leaderZxid: 7 });
    // The pull parked since 1000 answers after: the contact stays the later one.
    answers[0]!(entries(9));
    await early;
    expect(link.latest).toEqual({ asOf: 5_000, leaderZxid: 7 });
  });

  it("counts an answer the leader held, and each page it pushed, from the pull's send time plus how long it was held", async () => {
    let now = 1_000;
    const answers: Array<(reply: PullReply) => void> = [];
    let push: ((page: PullReply) => Promise<boolean>) | undefined;
    const link = new LeaderLink(() => ({ replicationRequest: (_message, pushTo) => ((push = pushTo), new Promise<PullReply>((resolve) => answers.push(resolve))) }), () => now);
    const pull: LeaderRequest = { type: "pull", replica: "r", fromZxid: 0, maxBytes: 1 };
    const page = (leaderZxid: number, heldMs?: number): PullReply => ({ kind: "entries", afterZxid: 0, entries: [], leaderZxid, logId: "log", epoch: 1, ...(heldMs === undefined ? {} : { heldMs }) });
    const taken: number[] = [];
    const answered = link.request<LeaderRequest, PullReply>("leader", pull, (p) => (taken.push(p.kind === "entries" ? p.leaderZxid : -1), true));
    now = 9_000;
    // Pushed 4 s after the pull reached the leader (its clock): it shows what was committed 4 s after 1000, at least.
    expect(await push!(page(5, 4_000))).toBe(true);
    expect(link.latest).toEqual({ asOf: 5_000, leaderZxid: 5 });
    expect(await push!(page(6, 7_000))).toBe(true);
    expect(link.latest).toEqual({ asOf: 8_000, leaderZxid: 6 });
    answers[0]!(page(6, 7_500));
    await answered;
    expect(link.latest).toEqual({ asOf: 8_500, leaderZxid: 6 });
    expect(taken).toEqual([5, 6]);
  });

  it("says the leader is gone by the answer to the pull sent last, so a late answer does not clear a fencing", async () => {
    let now = 1_000;
    const answers: Array<(reply: PullReply) => void> = [];
    const link = new LeaderLink(() => ({ replicationRequest: () => new Promise<PullReply>((resolve) => answers.push(resolve)) }), () => now);
    const pull: LeaderRequest = { type: "pull", replica: "r", fromZxid: 0, maxBytes: 1 };
    const early = link.request("leader", pull);
    now = 5_000;
    const late = link.request("leader", pull);
    answers[1]!({ kind: "fenced", role: "replica", epoch: 2 });
    await late;
    expect(link.leaderGone).toBe(true);
    answers[0]!({ kind: "entries", afterZxid: 0, entries: [], leaderZxid: 9, logId: "log", epoch: 1 });
    await early;
    expect(link.leaderGone).toBe(true);
  });

  it("does not say the leader is gone when it answers fenced naming its successor: the replica follows that one", async () => {
    const link = new LeaderLink(() => ({ replicationRequest: async () => ({ kind: "fenced", role: "replica", epoch: 3, leader: "ns/shard@weur" }) as PullReply }), () => 1_000);
    await link.request("ns/shard", { type: "pull", replica: "r", fromZxid: 0, maxBytes: 1 } satisfies LeaderRequest);
    expect(link.leaderGone).toBe(false);
  });
});
