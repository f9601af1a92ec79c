/**
 * A host's shard watch is one per (path, kind) for all its sessions: removing it for
 * one session must never drop it from under another that is setting it.
 */
import { describe, expect, it } from "vitest";
import { WatchGate, watchKey } from "../../durable/session/watch-gate.ts";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("WatchGate", () => {
  it("a removal waits for a read setting the same watch, then keeps it if a session now holds it", async () => {
    const gate = new WatchGate();
    const key = watchKey("/x", "data");
    let held = false;
    let removedAtShard = false;
    const read = deferred();
    const setting = gate.whileSetting(key, async () => {
      await read.promise;
      held = true; // the reading session recorded its watch
    });
    const removal = gate.remove(key, () => !held, async () => {
      removedAtShard = true;
    });
    await tick();
    expect(removedAtShard).toBe(false);
    read.resolve();
    await Promise.all([setting, removal]);
    expect(removedAtShard).toBe(false);
  });

  it("a read setting a watch waits for its removal in flight, so the shard sets it again after", async () => {
    const gate = new WatchGate();
    const key = watchKey("/x", "child");
    const order: string[] = [];
    const shard = deferred();
    const removal = gate.remove(key, () => true, async () => {
      await shard.promise;
      order.push("removed");
    });
    const setting = gate.whileSetting(key, async () => {
      order.push("set");
    });
    await tick();
    expect(order).toEqual([]);
    shard.resolve();
    await Promise.all([removal, setting]);
    expect(order).toEqual(["removed", "set"]);
  });

  it("keys are independent", async () => {
    const gate = new WatchGate();
    const blocked = deferred();
    const slow = gate.whileSetting(watchKey("/a", "data"), () => blocked.promise);
    let removed = false;
    await gate.remove(watchKey("/b", "data"), () => true, async () => {
      removed = true;
    });
    expect(removed).toBe(true);
    blocked.resolve();
    await slow;
  });
});
