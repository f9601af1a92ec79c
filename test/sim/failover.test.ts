import { describe, expect, it } from "vitest";
import { zxidEpoch } from "../../protocol/index.ts";
import type { FailoverStep } from "../../durable/replication/core/index.ts";
import type { Call } from "./history.ts";
import { runSeed } from "./run-seed.ts";

/** Epochs in which writes were acknowledged. */
function epochsWritten(history: Awaited<ReturnType<typeof runSeed>>["history"]): number[] {
  const epochs = new Set<number>();
  for (const entry of history) {
    const call = entry as Call;
    if (call.kind === "call" && call.op.type !== "read" && call.result?.ok) epochs.add(zxidEpoch(call.result.zxid));
  }
  return [...epochs].sort((a, b) => a - b);
}

/**
 * A geo-tier shard (two sync replicas) under six writing sessions, its leader's region
 * cut off from every other object and session: the run's checks (linearizability,
 * session guarantees, every acknowledged write at the final leader and applied once,
 * one writer per epoch, one leader at the end, every copy converged on its rows, the
 * old leader's unacknowledged tail gone) find nothing.
 */
describe("a failover of a geo-tier shard's leader", () => {
  const steps: Array<FailoverStep | undefined> = [undefined, "promising", "promoting", "led", "done"];
  for (const killAt of steps) {
    it(`promotes a sync replica and loses no acknowledged write, its directory crashed at ${killAt ?? "no step"}`, async () => {
      const result = await runSeed({ seed: 5, ops: 1_000, quiet: true, outage: { atMs: 500, forMs: 6_000, killAt } });
      expect(result.violations).toEqual([]);
      expect(result.failovers.count).toBe(1);
      expect(["R1", "R2"]).toContain(result.leader);
      expect(epochsWritten(result.history)).toEqual([1, 2]);
    });
  }

  it("does not fail over for an outage shorter than the detection time", async () => {
    const result = await runSeed({ seed: 5, ops: 1_000, quiet: true, outage: { atMs: 500, forMs: 1_000 } });
    expect(result.violations).toEqual([]);
    expect(result.failovers.count).toBe(0);
    expect(result.leader).toBe("L");
  });

  it("fails nothing over when copies restart, the leader among them, every 0.5 to 2.5 s and nothing else goes wrong", async () => {
    const failing: string[] = [];
    let failovers = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const result = await runSeed({ seed, ops: 300, geo: true, restartsOnly: true });
      failovers += result.failovers.count;
      if (result.violations.length > 0) failing.push(`seed ${seed}: ${result.violations[0]!.message.split("\n")[0]}`);
    }
    expect(failing).toEqual([]);
    expect(failovers).toBe(0);
  });

  it("finds no violation over seeds with every fault, moves and region outages among them", async () => {
    const failing: string[] = [];
    let failovers = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const result = await runSeed({ seed, ops: 300, geo: true });
      failovers += result.failovers.count;
      if (result.violations.length > 0) failing.push(`seed ${seed}: ${result.violations[0]!.message.split("\n")[0]}`);
    }
    expect(failing).toEqual([]);
    expect(failovers).toBeGreaterThan(0);
  });
});
