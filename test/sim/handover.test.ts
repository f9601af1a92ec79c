import { describe, expect, it } from "vitest";
import { zxidEpoch } from "../../protocol/index.ts";
import type { HandoverStep } from "../../durable/replication/core/index.ts";
import type { Call } from "./history.ts";
import { runSeed } from "./run-seed.ts";

/** Writes acknowledged in each epoch: the old leader's, then the new one's. */
function writesByEpoch(history: Awaited<ReturnType<typeof runSeed>>["history"]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const entry of history) {
    const call = entry as Call;
    if (call.kind !== "call" || call.op.type === "read" || !call.result?.ok) continue;
    const epoch = zxidEpoch(call.result.zxid);
    counts.set(epoch, (counts.get(epoch) ?? 0) + 1);
  }
  return counts;
}

/**
 * One move of the leader under six writing sessions, its directory crashed as it stores
 * each step in turn: the run's checks (linearizability, session guarantees, every
 * acknowledged write at the leader and applied once, one writer per epoch, one leader
 * at the end, replicas converged on its rows) find nothing.
 */
describe("a planned move of the shard's leader", () => {
  const steps: Array<HandoverStep | "done" | undefined> = [undefined, "intent", "sealing", "sealed", "led", "done"];
  for (const killAt of steps) {
    it(`ends with the target leading and no acknowledged write lost, its directory crashed at ${killAt ?? "no step"}`, async () => {
      const result = await runSeed({ seed: 5, ops: 1_000, quiet: true, move: { atMs: 500, killAt } });
      expect(result.violations).toEqual([]);
      expect(result.moves).toMatchObject({ moved: 1, abandoned: 0 });
      expect(result.leader).toBe("R1");
      const writes = writesByEpoch(result.history);
      expect(writes.get(1)).toBeGreaterThan(0);
      expect(writes.get(2)).toBeGreaterThan(0);
    });
  }

  for (const killAt of ["sealing", "abandoning", "done"] as const) {
    it(`is abandoned when the old leader does not answer the seal, and it leads again, its directory crashed at ${killAt}`, async () => {
      const result = await runSeed({ seed: 5, ops: 1_000, quiet: true, move: { atMs: 500, killAt, abandon: true } });
      expect(result.violations).toEqual([]);
      expect(result.moves).toMatchObject({ moved: 0, abandoned: 1 });
      expect(result.leader).toBe("L");
      // It leads the abandoned move's epoch itself, so a seal still on its way is refused.
      expect([...writesByEpoch(result.history).keys()].sort()).toEqual([1, 2]);
    });
  }
});
