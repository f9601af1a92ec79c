/**
 * Seeded randomness and byte-level mutation of valid frames, shared by the codec's
 * fuzz test (test/jute/fuzz.test.ts), the bridge's (test/e2e/bridge-fuzz.test.ts)
 * and the API's (test/e2e/api-fuzz.test.ts).
 */

/**
 * A fuzz run's seed: the environment's `variable` replays a run, else a fresh one.
 * Printed with how to replay it, so a failure on CI can be run again.
 */
export function fuzzSeed(variable: string, fuzz: string): number {
  const given = process.env[variable];
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 32);
  console.log(`${fuzz} fuzz seed ${seed} (rerun with ${variable}=${seed})`);
  return seed;
}

/** mulberry32: small, seedable, good enough to pick bytes. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Ints that make interesting lengths, counts, op codes and xids. */
export const INTERESTING_INTS = [-1, -2, 0, 1, 2, 4, 8, 0x7fffffff, -0x80000000, 0xfffff, 0x100000, 14, -11, 107];

/** 1 to 4 edits of a copy of `input`: byte flips, interesting ints, truncation, inserted, deleted and duplicated spans. */
export function mutate(random: () => number, input: Uint8Array): Uint8Array {
  let out = Uint8Array.from(input);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * Math.max(out.byteLength, 1));
    switch (Math.floor(random() * 6)) {
      case 0: // flip a byte
        if (out.byteLength > 0) out[at] = Math.floor(random() * 256);
        break;
      case 1: {
        // an interesting int (a length, a count, an op code) anywhere
        if (out.byteLength >= 4) {
          const pos = Math.min(at, out.byteLength - 4);
          new DataView(out.buffer).setInt32(pos, INTERESTING_INTS[Math.floor(random() * INTERESTING_INTS.length)]!);
        }
        break;
      }
      case 2: // truncate
        out = out.slice(0, at);
        break;
      case 3: {
        // insert random bytes
        const extra = Uint8Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * 256));
        out = Uint8Array.from([...out.subarray(0, at), ...extra, ...out.subarray(at)]);
        break;
      }
      case 4: // delete a span
        out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1 + Math.floor(random() * 8))]);
        break;
      case 5: {
        // duplicate a span (repeated multi headers, vectors)
        const end = Math.min(out.byteLength, at + 1 + Math.floor(random() * 24));
        out = Uint8Array.from([...out.subarray(0, end), ...out.subarray(at, end), ...out.subarray(end)]);
        break;
      }
    }
  }
  return out;
}
