/**
 * The isolate's mount tables (durable/directory/mount-table-cache.ts): a request past
 * the table's TTL does not wait for the directory (a round trip to the leader's
 * region) while a background fetch replaces the table. On a clock of the test's.
 */
import { describe, expect, it } from "vitest";
import { MountTableCache, TABLE_MAX_STALE_MS, TABLE_TTL_MS, type TableRequest } from "../../durable/directory/mount-table-cache.ts";
import type { MountTable } from "../../durable/directory/mount-table.ts";

const table = (version: number): MountTable => ({ version, mounts: [{ prefix: "/", shard: "root" }] });

/** A directory whose fetches the test answers one by one, and the background work kept alive. */
function directory() {
  const pending: { answer: (t: MountTable) => void; fail: (err: unknown) => void }[] = [];
  const kept: Promise<unknown>[] = [];
  const errors: unknown[] = [];
  const request: TableRequest = {
    fetch: () => new Promise<MountTable>((answer, fail) => pending.push({ answer, fail })),
    keepAlive: (work) => void kept.push(work),
    onBackgroundError: (err) => void errors.push(err),
  };
  return { request, pending, kept, errors, settled: () => Promise.all(kept) };
}

function clocked() {
  let now = 1_000;
  return { cache: new MountTableCache(() => now), advance: (ms: number) => void (now += ms) };
}

describe("the mount table cache", () => {
  it("fetches a namespace's first table, then uses it without asking until the TTL", async () => {
    const { cache, advance } = clocked();
    const dir = directory();
    const first = cache.get("ns", dir.request);
    dir.pending.shift()!.answer(table(1));
    expect(await first).toEqual(table(1));
    advance(TABLE_TTL_MS - 1);
    expect(await cache.get("ns", dir.request)).toEqual(table(1));
    expect(dir.pending).toHaveLength(0);
  });

  it("past the TTL answers the held table at once and refreshes it in the background, one fetch at a time", async () => {
    const { cache, advance } = clocked();
    const dir = directory();
    cache.set("ns", table(1));
    advance(TABLE_TTL_MS);
    expect(await cache.get("ns", dir.request)).toEqual(table(1));
    expect(await cache.get("ns", dir.request)).toEqual(table(1));
    expect(dir.pending).toHaveLength(1); // one background fetch for both
    expect(dir.kept).toHaveLength(1);

    dir.pending.shift()!.answer(table(2));
    await dir.settled();
    expect(await cache.get("ns", dir.request)).toEqual(table(2));
    expect(dir.pending).toHaveLength(0); // and young again
  });

  it("fetches before answering when the table is too old, when asked for a fresh one, or with nothing to keep a background fetch alive", async () => {
    const { cache, advance } = clocked();
    const dir = directory();
    const waits = async (get: Promise<MountTable>, version: number) => {
      let answered = false;
      void get.then(() => (answered = true));
      await Promise.resolve();
      expect(answered).toBe(false);
      dir.pending.shift()!.answer(table(version));
      expect(await get).toEqual(table(version));
    };
    cache.set("ns", table(1));
    advance(TABLE_MAX_STALE_MS);
    await waits(cache.get("ns", dir.request), 2);
    await waits(cache.get("ns", dir.request, true), 3);
    advance(TABLE_TTL_MS);
    await waits(cache.get("ns", { fetch: dir.request.fetch }), 4);
  });

  it("keeps the later version when fetches answer out of order", async () => {
    const { cache, advance } = clocked();
    const dir = directory();
    cache.set("ns", table(1));
    advance(TABLE_TTL_MS);
    await cache.get("ns", dir.request); // a background fetch, answered last
    const fresh = cache.get("ns", dir.request, true);
    dir.pending[1]!.answer(table(3));
    await fresh;
    dir.pending[0]!.answer(table(2));
    await dir.settled();
    expect(await cache.get("ns", dir.request)).toEqual(table(3));
  });

  it("keeps the held table when a background fetch fails, says so, and lets the next request try again", async () => {
    const { cache, advance } = clocked();
    const dir = directory();
    cache.set("ns", table(1));
    advance(TABLE_TTL_MS);
    await cache.get("ns", dir.request);
    dir.pending.shift()!.fail(new Error("directory unreachable"));
    await dir.settled();
    expect(dir.errors).toHaveLength(1);
    expect(await cache.get("ns", dir.request)).toEqual(table(1));
    expect(dir.pending).toHaveLength(1);
  });

  it("gives up on a background fetch that never settles (its request cancelled) after the TTL", async () => {
    const { cache, advance } = clocked();
    const dir = directory();
    cache.set("ns", table(1));
    advance(TABLE_TTL_MS);
    await cache.get("ns", dir.request);
    advance(TABLE_TTL_MS - 1);
    await cache.get("ns", dir.request);
    expect(dir.pending).toHaveLength(1);
    advance(1);
    await cache.get("ns", dir.request);
    expect(dir.pending).toHaveLength(2);
  });
});
