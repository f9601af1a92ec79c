/**
 * Where a shard's leader should be (core/leader-placement.ts), under loads driven
 * minute by minute over simulated hours with the simulated regions' round trips: the
 * advice follows a lasting shift of the writes, and does not flap under a load that
 * alternates between regions.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_PLACEMENT_POLICY, advisePlacement, leaderMoved, newPlacementState, noteWrites, type PlacementState } from "../../durable/replication/core/index.ts";
import { REGIONS, roundTripMs, type Region } from "../../protocol/regions.ts";

const MINUTE = 60_000;
const rtt = (from: string, to: string) => roundTripMs(from as Region, to as Region);

/**
 * Runs `minutes` of load, `origin(minute)` naming where each minute's 600 writes come
 * from, with the leader moved whenever the advice says so; the moves made, in order.
 */
function drive(state: PlacementState, minutes: number, origin: (minute: number) => string, startMinute = 0): { state: PlacementState; moves: Array<{ minute: number; region: string; reason: string }> } {
  const moves: Array<{ minute: number; region: string; reason: string }> = [];
  for (let minute = startMinute; minute < startMinute + minutes; minute++) {
    const now = minute * MINUTE;
    state = noteWrites(state, DEFAULT_PLACEMENT_POLICY, origin(minute), 600, now);
    const advice = advisePlacement(state, DEFAULT_PLACEMENT_POLICY, REGIONS, rtt, now);
    if (advice.move) {
      moves.push({ minute, region: advice.region, reason: advice.reason });
      state = leaderMoved(state, advice.region, now);
    }
  }
  return { state, moves };
}

describe("where a shard's leader should be", () => {
  it("does not flap under a load alternating between two regions, whatever its period up to an hour: at most one move in twelve hours", () => {
    for (const periodMinutes of [1, 5, 10, 15, 20, 30, 45, 60]) {
      for (const start of ["enam", "weur", "wnam"]) {
        const alternating = (minute: number) => (Math.floor(minute / periodMinutes) % 2 === 0 ? "enam" : "weur");
        const { moves } = drive(newPlacementState(start, 0), 12 * 60, alternating);
        expect(moves.length, `period ${periodMinutes} min, leader in ${start}: ${JSON.stringify(moves)}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it("follows a lasting shift of the writes once, and only after the new region has dominated long enough and would save enough", () => {
    const warm = drive(newPlacementState("wnam", 0), 6 * 60, () => "wnam");
    expect(warm.moves).toEqual([]);
    const shifted = drive(warm.state, 6 * 60, () => "apac", 6 * 60);
    expect(shifted.moves).toHaveLength(1);
    const [move] = shifted.moves;
    expect(move!.region).toBe("apac");
    // Not before the region has dominated for the sustain time, and within about three hours.
    expect(move!.minute - 6 * 60).toBeGreaterThanOrEqual(10);
    expect(move!.minute - 6 * 60).toBeLessThanOrEqual(3 * 60);
    expect(move!.reason).toMatch(/apac has sent 60% of the writes .* saves \d+%/);
  });

  it("keeps the leader where a region sends most writes but moving would save too little", () => {
    // 62% from apac, 38% from weur, the leader in wnam: apac dominates, but a leader there
    // makes weur's writes cost 212 ms, saving 21% of the mean round trip, not 30%.
    let state = newPlacementState("wnam", 0);
    for (let minute = 0; minute < 8 * 60; minute++) {
      state = noteWrites(state, DEFAULT_PLACEMENT_POLICY, "apac", 372, minute * MINUTE);
      state = noteWrites(state, DEFAULT_PLACEMENT_POLICY, "weur", 228, minute * MINUTE);
    }
    const advice = advisePlacement(state, DEFAULT_PLACEMENT_POLICY, REGIONS, rtt, 8 * 60 * MINUTE);
    expect(advice).toMatchObject({ region: "wnam", move: false });
    expect(advice.reason).toMatch(/a leader in apac would save 21% of the mean write round trip \(107 ms here\), less than 30%/);
  });

  it("moves the leader to the preferred region at once, and keeps it there whatever the load", () => {
    const state: PlacementState = { ...newPlacementState("wnam", 0), preferred: "weur" };
    const first = advisePlacement(state, DEFAULT_PLACEMENT_POLICY, REGIONS, rtt, 0);
    expect(first).toMatchObject({ region: "weur", move: true, reason: "the preferred region is weur" });
    const { moves } = drive(leaderMoved(state, "weur", 0), 12 * 60, () => "oc");
    expect(moves).toEqual([]);
  });

  it("says why it advises what it does, with each region's share of the writes and the mean write round trip a leader there would give", () => {
    const { state } = drive(newPlacementState("wnam", 0), 5, () => "oc");
    const advice = advisePlacement(state, DEFAULT_PLACEMENT_POLICY, REGIONS, rtt, 5 * MINUTE);
    expect(advice).toMatchObject({ region: "wnam", move: false, shares: { oc: 1 } });
    expect(advice.reason).toMatch(/oc has sent 60% of the writes for \d+ s, not yet 600 s/);
    expect(advice.meanWriteMs.oc).toBe(6);
    expect(advice.meanWriteMs.wnam).toBe(162);
  });
});
