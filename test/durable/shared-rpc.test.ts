/**
 * SharedRpcs (durable/directory/shared-rpc.ts) on its own: requests queued behind an
 * RPC in flight go together in the next, in order, within the byte bound; an RPC
 * that fails fails its own requests only.
 */
import { describe, expect, it } from "vitest";
import type { Outcome, ShardRequest } from "../../protocol/index.ts";
import { SharedRpcs, requestBytes } from "../../durable/directory/shared-rpc.ts";

const read = (path: string): ShardRequest => ({ op: "getData", path });
const answer = (request: ShardRequest): Outcome => ({ ok: true, zxid: 1, value: { path: (request as { path: string }).path } });
const noKeepAlive = () => undefined;

/** A shard stand-in that records each RPC's requests and answers when told. */
function recordingShard() {
  const rpcs: string[][] = [];
  const pending: (() => void)[] = [];
  const send = (requests: ShardRequest[]) => {
    rpcs.push(requests.map((r) => (r as { path: string }).path));
    return new Promise<Outcome[]>((resolve) => pending.push(() => resolve(requests.map(answer))));
  };
  const answerNext = async () => {
    await expect.poll(() => pending.length).toBeGreaterThan(0);
    pending.shift()!();
  };
  return { rpcs, send, answerNext };
}

describe("SharedRpcs", () => {
  it("sends the requests that arrive while an RPC is in flight together in the next one, in order", async () => {
    const shared = new SharedRpcs(1 << 20);
    const shard = recordingShard();
    const first = shared.run("lane", read("/a"), shard.send, noKeepAlive);
    const rest = ["/b", "/c", "/d"].map((path) => shared.run("lane", read(path), shard.send, noKeepAlive));
    await shard.answerNext();
    await shard.answerNext();
    expect(await first).toMatchObject({ value: { path: "/a" } });
    expect((await Promise.all(rest)).map((o) => (o as { value: { path: string } }).value.path)).toEqual(["/b", "/c", "/d"]);
    expect(shard.rpcs).toEqual([["/a"], ["/b", "/c", "/d"]]);
  });

  it("keeps an RPC's requests within its byte bound, and sends a larger request alone", async () => {
    const big: ShardRequest = { op: "setData", path: "/big", data: new Uint8Array(500) };
    const shared = new SharedRpcs(requestBytes(read("/b")) * 2);
    const shard = recordingShard();
    const all = [read("/a"), read("/b"), read("/c"), big, read("/d")].map((request) => shared.run("lane", request, shard.send, noKeepAlive));
    for (let rpc = 0; rpc < 4; rpc++) await shard.answerNext();
    await Promise.all(all);
    expect(shard.rpcs).toEqual([["/a"], ["/b", "/c"], ["/big"], ["/d"]]);
  });

  it("fails the requests of an RPC that failed, and sends the next ones", async () => {
    const shared = new SharedRpcs(1 << 20);
    let calls = 0;
    const send = async (requests: ShardRequest[]) => {
      calls += 1;
      if (calls === 1) throw new Error("the shard went away");
      return requests.map(answer);
    };
    const [failed, next] = [shared.run("lane", read("/a"), send, noKeepAlive), shared.run("lane", read("/b"), send, noKeepAlive)];
    await expect(failed).rejects.toThrow("the shard went away");
    expect(await next).toMatchObject({ value: { path: "/b" } });
  });

  it("takes an RPC unanswered past its bound for lost: its waiting requests time out, later ones are sent", async () => {
    const shared = new SharedRpcs(1 << 20, 50);
    let calls = 0;
    let answerFirst!: () => void;
    const send = (requests: ShardRequest[]) => {
      calls += 1;
      // The first answers when told, the second never (its sender went away), the third at once.
      if (calls === 1) return new Promise<Outcome[]>((resolve) => (answerFirst = () => resolve(requests.map(answer))));
      if (calls === 2) return new Promise<Outcome[]>(() => undefined);
      return Promise.resolve(requests.map(answer));
    };
    const first = shared.run("lane", read("/a"), send, noKeepAlive);
    // Both wait behind the first, so both hold timers; one of them sends the second RPC.
    const carried = [shared.run("lane", read("/b"), send, noKeepAlive), shared.run("lane", read("/c"), send, noKeepAlive)];
    answerFirst();
    expect(await first).toMatchObject({ value: { path: "/a" } });
    await expect.poll(() => calls).toBe(2);
    const later = shared.run("lane", read("/d"), send, noKeepAlive);
    for (const request of carried) await expect(request).rejects.toMatchObject({ keeperName: "OperationTimeout" });
    expect(await later).toMatchObject({ value: { path: "/d" } });
    expect(calls).toBe(3);
  });
});
