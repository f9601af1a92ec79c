/**
 * The retries of a shard call (durable/directory/shard-retry.ts): a `moved` answer
 * is asked again with a fresh table, a failure the platform marks retryable is
 * called again, each within its budget; nothing else is retried. A call cut without
 * an answer of its object's own is ConnectionLoss.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MOVED_RETRY_DELAYS_MS, TRANSIENT_ATTEMPTS, lostCall, retryingTransient, untilServed } from "../../durable/directory/shard-retry.ts";
import { KeeperError } from "../../protocol/index.ts";

const platformError = (flags: { retryable?: boolean; overloaded?: boolean }): Error => Object.assign(new Error("rpc failed"), flags);

describe("untilServed", () => {
  it("asks with the cached table first, then fresh ones, until the answer is not moved", async () => {
    const fresh: boolean[] = [];
    const answer = await untilServed(async (isFresh) => {
      fresh.push(isFresh);
      return fresh.length < 3 ? "moved" : "served";
    }, (a) => a === "moved");
    expect(answer).toBe("served");
    expect(fresh).toEqual([false, true, true]);
  });

  it("gives up with SystemError once its budget is spent", async () => {
    let calls = 0;
    await expect(untilServed(async () => (calls++, "moved"), (a) => a === "moved")).rejects.toMatchObject({ keeperName: "SystemError" });
    expect(calls).toBe(MOVED_RETRY_DELAYS_MS.length);
  });
});

describe("retryingTransient", () => {
  it("calls again after a failure the platform marks retryable, within its budget", async () => {
    let calls = 0;
    await expect(retryingTransient(async () => {
      calls++;
      throw platformError({ retryable: true });
    })).rejects.toThrow("rpc failed");
    expect(calls).toBe(TRANSIENT_ATTEMPTS);
    calls = 0;
    expect(await retryingTransient(async () => (++calls < 2 ? Promise.reject(platformError({ retryable: true })) : "ok"))).toBe("ok");
  });

  it("never retries an overloaded object or an error not marked retryable", async () => {
    for (const flags of [{ retryable: true, overloaded: true }, {}]) {
      let calls = 0;
      await expect(retryingTransient(async () => {
        calls++;
        throw platformError(flags);
      })).rejects.toThrow("rpc failed");
      expect(calls).toBe(1);
    }
  });
});

describe("lostCall", () => {
  it("makes a call cut by its object's reset ConnectionLoss, the platform's error its cause", async () => {
    const stub = env.SHARD.get(env.SHARD.idFromName(`lost-call-${crypto.randomUUID()}/root`));
    const cut: unknown = await runInDurableObject(stub, (_instance, state) => state.abort("reset under a call")).then(() => expect.fail("the call was not cut"), (err: unknown) => err);
    const lost = lostCall(cut);
    expect(lost).toMatchObject({ keeperName: "ConnectionLoss", code: -4, httpStatus: 503 });
    expect((lost as Error).cause).toBe(cut);
  });

  it("makes a failure with no answer at all (as an abort of every object gives) ConnectionLoss, and keeps the object's own errors", () => {
    expect(lostCall(new Error("Application called abortAllDurableObjects()."))).toMatchObject({ keeperName: "ConnectionLoss" });
    const own = new KeeperError("NoNode", undefined, "/a");
    expect(lostCall(own)).toBe(own);
    const bug = Object.assign(new TypeError("x is undefined"), { remote: true });
    expect(lostCall(bug)).toBe(bug);
  });

  it("leaves a cut call the platform marks retryable to be retried", async () => {
    let calls = 0;
    await expect(retryingTransient(async () => {
      calls++;
      throw lostCall(platformError({ retryable: true }));
    })).rejects.toMatchObject({ keeperName: "ConnectionLoss" });
    expect(calls).toBe(TRANSIENT_ATTEMPTS);
  });
});
