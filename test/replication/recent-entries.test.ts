/**
 * The leader's recent entries (recent-entries.ts): a pull at the head is answered
 * from memory, and must get exactly what the log holds, whatever happened to the log
 * meanwhile (a trim, a page bound, another instance's writes, a new epoch).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_REPLICATION_SETTINGS, LeaderCore, type LogEntry, type PullReply, type ReplicationSettings } from "../../durable/replication/core/index.ts";
import { entriesAfter } from "../../durable/replication/core/log.ts";
import { MemoryStorage } from "../sim/memory-storage.ts";

const clock = { now: () => 1_000, sleep: () => ({ elapsed: Promise.resolve(), cancel: () => undefined }) };
const settings = (more: Partial<ReplicationSettings> = {}): ReplicationSettings => ({ ...DEFAULT_REPLICATION_SETTINGS, longPollMs: 0, ...more });

let cxid = 0;
const write = (leader: LeaderCore, path: string) => leader.write(1, ++cxid, { op: "create", path, data: "v".repeat(50) });

/** What a plain pull from `fromZxid` is answered with, as the entries' zxids. */
async function pulled(leader: LeaderCore, fromZxid: number, maxBytes = 1 << 20): Promise<number[] | string> {
  const reply: PullReply = await leader.pull({ type: "pull", replica: "r1", fromZxid, maxBytes });
  return reply.kind === "entries" ? reply.entries.map((e) => e.zxid) : reply.kind;
}

/** The same, read from the log itself. */
function logged(storage: MemoryStorage, fromZxid: number, maxBytes = 1 << 20): number[] {
  return storage.read((txn) => entriesAfter(txn, fromZxid, maxBytes).map((e) => e.zxid));
}

describe("replication core: the leader's recent entries", () => {
  it("answer pulls with exactly the log's entries after any start they hold, within the page's bytes", async () => {
    const storage = new MemoryStorage();
    const leader = new LeaderCore(storage.handle({ alive: true }), clock, settings({ logMaxEntries: 10_000 }));
    leader.activate(1);
    // More than are kept: the oldest starts are the log's to answer.
    for (let i = 0; i < 600; i++) write(leader, `/n-${i}`);
    const head = leader.appliedZxid();
    const size = storage.read((txn) => txn.get<LogEntry>("log", head)!.size);
    for (let from = head - 600; from <= head; from++) {
      expect(await pulled(leader, from)).toEqual(logged(storage, from));
      expect(await pulled(leader, from, 3 * size)).toEqual(logged(storage, from, 3 * size));
    }
    const entry = (await leader.pull({ type: "pull", replica: "r1", fromZxid: head - 1, maxBytes: 1 << 20 })) as Extract<PullReply, { kind: "entries" }>;
    expect(entry.entries).toEqual(storage.read((txn) => [txn.get<LogEntry>("log", head)]));
  });

  it("answer nothing the log no longer holds: a start trimmed away needs a snapshot", async () => {
    const storage = new MemoryStorage();
    const leader = new LeaderCore(storage.handle({ alive: true }), clock, settings({ logMaxEntries: 4 }));
    leader.activate(1);
    for (let i = 0; i < 10; i++) write(leader, `/t-${i}`);
    const { trimmedZxid } = leader.bounds();
    expect(await pulled(leader, trimmedZxid - 1)).toBe("snapshot-needed");
    expect(await pulled(leader, trimmedZxid)).toEqual(logged(storage, trimmedZxid));
  });

  it("are not used once the log has moved on without them (another instance wrote): the log answers", async () => {
    const storage = new MemoryStorage();
    const stale = new LeaderCore(storage.handle({ alive: true }), clock, settings());
    stale.activate(1);
    for (let i = 0; i < 5; i++) write(stale, `/a-${i}`);
    const from = stale.appliedZxid() - 2;
    const current = new LeaderCore(storage.handle({ alive: true }), clock, settings());
    for (let i = 0; i < 3; i++) write(current, `/b-${i}`);
    expect(await pulled(stale, from)).toEqual(logged(storage, from));
    expect(await pulled(stale, from)).toHaveLength(5);
  });

  it("follow a new epoch: its start entry and the writes after it are answered as logged", async () => {
    const storage = new MemoryStorage();
    const leader = new LeaderCore(storage.handle({ alive: true }), clock, settings());
    leader.activate(1);
    for (let i = 0; i < 3; i++) write(leader, `/e-${i}`);
    const lastOfEpoch1 = leader.appliedZxid();
    leader.activate(2);
    for (let i = 0; i < 3; i++) write(leader, `/f-${i}`);
    expect(await pulled(leader, lastOfEpoch1)).toEqual(logged(storage, lastOfEpoch1));
    expect(await pulled(leader, lastOfEpoch1)).toHaveLength(4);
  });
});
