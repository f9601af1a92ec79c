/** Stepping a replication core test's network by hand: messages in transit arrive only when the test says. */

/** The most Node turns `settle` waits for the network to go quiet. */
const MAX_SETTLE_TURNS = 1_000;

/**
 * Steps over `inTransit`, the arrivals of the messages on their way. `queued` counts
 * what the network holds (by default those in transit; a test holding some aside counts
 * them too).
 * - `settle`: lets the replica and leader run until they send nothing more: Node turns
 *   until one adds nothing to the network (a turn runs every promise job queued, and
 *   nothing here waits on a timer), at most MAX_SETTLE_TURNS.
 * - `hop`: one way: what is in transit now arrives, not what that sends.
 * - `deliver`: everything in transit arrives (and what that sends), until nothing is left.
 *
 * @example
 * const inTransit: Array<() => void> = [];
 * const { hop, deliver } = manualNetwork(inTransit);
 */
export function manualNetwork(inTransit: Array<() => void>, queued: () => number = () => inTransit.length) {
  const settle = async () => {
    let sent = -1;
    for (let turn = 0; turn < MAX_SETTLE_TURNS; turn++) {
      if (queued() === sent) return;
      sent = queued();
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`still sending after ${MAX_SETTLE_TURNS} turns`);
  };
  const hop = async () => {
    await settle();
    for (const arrive of inTransit.splice(0)) arrive();
    await settle();
  };
  const deliver = async () => {
    await settle();
    while (inTransit.length > 0) await hop();
  };
  return { settle, hop, deliver };
}
