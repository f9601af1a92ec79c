/**
 * Hostile input: thousands of random and mutated frames, seeded. Decoding must
 * return or throw one of the codec's typed errors, never anything else, and never
 * hang. Reproduce a failure with JUTE_FUZZ_SEED=<the printed seed>.
 */
import { describe, expect, it } from "vitest";
import {
  ConnectRequestCodec,
  FrameSplitter,
  JuteFatalError,
  JuteMarshallingError,
  JuteWriter,
  OP_CODES,
  type JuteOpName,
  decodeConnectRequest,
  decodeConnectResponse,
  decodeNotification,
  decodeReply,
  decodeRequest,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeNotification,
  encodeReply,
  encodeRequest,
  isJuteError,
} from "../../protocol/jute/index.ts";
import { INTERESTING_INTS, fuzzSeed, mutate, rng } from "./mutate.ts";
import { REQUESTS, RESPONSES } from "./samples.ts";

const SEED = fuzzSeed("JUTE_FUZZ_SEED", "jute");
const ROUNDS = Number(process.env.JUTE_FUZZ_ROUNDS ?? 4_000);

const OPS = Object.keys(OP_CODES) as JuteOpName[];

/** Payloads (without length prefix) of valid requests, replies and connects. */
const CORPUS: Uint8Array[] = [
  ...REQUESTS.map((r) => encodeRequest(r).subarray(4)),
  ...OPS.map((op) => encodeReply({ xid: 3, zxid: 5n, err: 0 }, op, RESPONSES[op]).subarray(4)),
  encodeNotification({ type: 3, state: 3, path: "/a/b" }).subarray(4),
  encodeConnectRequest({ protocolVersion: 0, lastZxidSeen: 7n, timeOut: 30_000, sessionId: 9n, passwd: new Uint8Array(16), readOnly: false }).subarray(4),
  encodeConnectResponse({ protocolVersion: 0, timeOut: 30_000, sessionId: 9n, passwd: new Uint8Array(16), readOnly: false }).subarray(4),
];

/** Runs a decoder; anything but a codec error fails the test with the input in hex. */
function survive(what: string, payload: Uint8Array, decode: () => unknown): unknown {
  try {
    return decode();
  } catch (err) {
    if (isJuteError(err)) return err;
    throw new Error(`${what} threw ${(err as Error)?.stack ?? err} on ${Buffer.from(payload).toString("hex")} (seed ${SEED})`);
  }
}

/** Every decoder on one payload; a request that decodes must re-encode to itself. */
function decodeAll(payload: Uint8Array): void {
  const request = survive("decodeRequest", payload, () => decodeRequest(payload));
  if (!isJuteError(request)) {
    const again = decodeRequest(encodeRequest(request as Parameters<typeof encodeRequest>[0]).subarray(4));
    expect(again).toEqual(request);
  } else {
    // headers of 8 bytes or more are never fatal: the bridge can answer them
    if (request instanceof JuteFatalError) expect(payload.byteLength).toBeLessThan(8);
  }
  const connect = survive("decodeConnectRequest", payload, () => decodeConnectRequest(payload));
  if (!isJuteError(connect)) {
    const w = new JuteWriter();
    ConnectRequestCodec.write(w, connect as Parameters<typeof ConnectRequestCodec.write>[1]);
    expect(decodeConnectRequest(w.finish())).toEqual(connect);
  } else {
    expect(connect).toBeInstanceOf(JuteFatalError);
  }
  survive("decodeConnectResponse", payload, () => decodeConnectResponse(payload));
  survive("decodeNotification", payload, () => decodeNotification(payload));
  for (const op of OPS) {
    const reply = survive(`decodeReply ${op}`, payload, () => decodeReply(payload, op));
    if (isJuteError(reply)) expect(reply).toBeInstanceOf(JuteMarshallingError);
  }
}

describe(`fuzz (seed ${SEED})`, () => {
  it(`random payloads (${ROUNDS})`, () => {
    const random = rng(SEED);
    for (let i = 0; i < ROUNDS; i++) {
      const length = Math.floor(random() * (random() < 0.1 ? 2_000 : 120));
      const payload = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      // half of them start with a real header, so bodies get exercised
      if (payload.byteLength >= 8 && random() < 0.5) new DataView(payload.buffer).setInt32(4, OP_CODES[OPS[Math.floor(random() * OPS.length)]!]);
      decodeAll(payload);
    }
  });

  it(`mutated valid frames (${ROUNDS * 2})`, () => {
    const random = rng(SEED ^ 0x5bd1e995);
    for (let i = 0; i < ROUNDS * 2; i++) decodeAll(mutate(random, CORPUS[Math.floor(random() * CORPUS.length)]!));
  });

  it("streams of frames in random chunks", () => {
    const random = rng(SEED ^ 0x1b873593);
    for (let i = 0; i < ROUNDS / 4; i++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
        const body = random() < 0.8 ? CORPUS[Math.floor(random() * CORPUS.length)]! : mutate(random, CORPUS[0]!);
        const frame = new Uint8Array(4 + body.byteLength);
        new DataView(frame.buffer).setInt32(0, random() < 0.1 ? INTERESTING_INTS[Math.floor(random() * INTERESTING_INTS.length)]! : body.byteLength);
        frame.set(body, 4);
        return random() < 0.05 ? mutate(random, frame) : frame;
      });
      const stream = Uint8Array.from(parts.flatMap((p) => [...p]));
      const splitter = new FrameSplitter(random() < 0.5 ? 0xfffff : 64);
      let total = 0;
      try {
        for (let at = 0; at < stream.byteLength; ) {
          const step = 1 + Math.floor(random() * 40);
          for (const frame of splitter.push(stream.subarray(at, at + step))) {
            expect(frame.byteLength).toBeGreaterThanOrEqual(1);
            expect(frame.byteLength).toBeLessThanOrEqual(splitter.maxBuffer);
            total += 4 + frame.byteLength;
            decodeAll(frame);
          }
          at += step;
        }
        expect(total + splitter.pending).toBe(stream.byteLength);
      } catch (err) {
        if (!(err instanceof JuteFatalError)) throw new Error(`FrameSplitter threw ${err} (seed ${SEED})`);
      }
    }
  });

  it("huge declared lengths and counts allocate nothing and fail fast", () => {
    const started = performance.now();
    for (const op of OPS) {
      const payload = new Uint8Array(8 + 64).fill(0x7f);
      new DataView(payload.buffer).setInt32(4, OP_CODES[op]);
      decodeAll(payload);
    }
    // 1,000 multi headers without an end marker: a loop over the input, no recursion
    const w = new JuteWriter();
    w.writeInt(1).writeInt(OP_CODES.multi);
    for (let i = 0; i < 1_000; i++) w.writeInt(OP_CODES.check).writeBool(false).writeInt(-1).writeUString("/a").writeInt(1);
    expect(() => decodeRequest(w.finish())).toThrow(JuteMarshallingError);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
