/**
 * zxid = epoch << 32 | counter, per shard, as ZooKeeper's. Kept as JS numbers,
 * exact while the epoch stays below 2^21 (two million leader changes).
 */
const COUNTER_SPAN = 2 ** 32;

export function makeZxid(epoch: number, counter: number): number {
  return epoch * COUNTER_SPAN + counter;
}

export function zxidEpoch(zxid: number): number {
  return Math.floor(zxid / COUNTER_SPAN);
}

export function zxidCounter(zxid: number): number {
  return zxid % COUNTER_SPAN;
}
