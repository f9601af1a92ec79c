/**
 * The rules of a shard's part in a multi across shards (durable/replication/core/txn-parts.ts)
 * over ports this test sets: what a deciding copy may answer when its role changes
 * while it asks the other parts.
 */
import { expect, it } from "vitest";
import { type PartRow, type PartState, TxnParts, type TxnPartPorts } from "../../durable/replication/core/index.ts";

/** A copy of the deciding shard whose part's row, role and rows' wholeness the test sets; `askPart` answers for the other part. */
function decidingCopy(askPart: () => Promise<PartState>) {
  const state: { row: PartRow; leads: boolean; whole: boolean } = { row: { kind: "prepared", parts: ["other"] }, leads: true, whole: true };
  const ports: TxnPartPorts = {
    row: () => state.row,
    leads: () => state.leads,
    rowsWhole: () => state.whole,
    abort: () => void (state.row = { kind: "aborted" }),
    settle: async (_txn, fate) => {
      if (state.leads) state.row = fate === "committed" ? { kind: "applied" } : { kind: "aborted" };
    },
    askPart,
    askDecider: async () => "unknown",
    acknowledged: async () => true,
  };
  return { state, parts: new TxnParts(ports) };
}

it("commits a multi once every other part says it is prepared", async () => {
  const { state, parts } = decidingCopy(async () => "prepared");
  expect(await parts.resolve("t")).toBe("committed");
  expect(state.row.kind).toBe("applied");
});

it("says unknown, not what its rows say, when it stopped leading while it asked: its rows may hold a tail the new leader dropped", async () => {
  const { state, parts } = decidingCopy(async () => {
    // Meanwhile a failover's step down: the row shows the part applied by this copy's own
    // unacknowledged tail, and its rows wait for the new leader's snapshot.
    Object.assign(state, { row: { kind: "applied" }, leads: false, whole: false });
    return "prepared";
  });
  expect(await parts.resolve("t")).toBe("unknown");
  expect(await parts.partOf("t")).toBe("unknown");
});
