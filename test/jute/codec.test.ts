/**
 * The jute codec on its own: round trips of every record and op, byte layouts
 * written by hand from zookeeper.jute, framing, and how bad input is classified.
 */
import { describe, expect, it } from "vitest";
import { ACL, REQUESTS, RESPONSES, STAT, bytes } from "./samples.ts";
import {
  FrameSplitter,
  JuteFatalError,
  JuteMarshallingError,
  JuteReader,
  JuteUnimplementedError,
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
  encodeReplyHeader,
  encodeRequest,
  fromWireStat,
  longToNumber,
  toWireStat,
} from "../../protocol/jute/index.ts";

const int = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const long = (n: bigint) => [...int(Number((BigInt.asUintN(64, n) >> 32n) & 0xffffffffn)), ...int(Number(BigInt.asUintN(64, n) & 0xffffffffn))];

/** The one frame in `framed`, without its prefix. */
function unframe(framed: Uint8Array): Uint8Array {
  const frames = new FrameSplitter().push(framed);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

describe("round trips", () => {
  it("covers every op code", () => {
    expect(new Set(REQUESTS.map((r) => r.op))).toEqual(new Set(Object.keys(OP_CODES)));
  });

  it.each(REQUESTS.map((r) => [r.op, r] as const))("request %s", (_, request) => {
    const framed = encodeRequest(request);
    expect(decodeRequest(unframe(framed))).toEqual(request);
  });

  it.each(Object.keys(RESPONSES) as JuteOpName[])("response %s", (op) => {
    const header = { xid: 7, zxid: 0x1_0000_0009n, err: 0 };
    const framed = encodeReply(header, op, RESPONSES[op]);
    expect(decodeReply(unframe(framed), op)).toEqual({ header, body: RESPONSES[op] });
  });

  it("an error reply has no body", () => {
    const header = { xid: 9, zxid: 12n, err: -101 };
    const framed = encodeReply(header, "exists", undefined);
    expect(framed).toEqual(encodeReplyHeader(header));
    expect(decodeReply(unframe(framed), "exists")).toEqual({ header, body: undefined });
  });

  it("ConnectRequest with and without the trailing readOnly", () => {
    const base = { protocolVersion: 0, lastZxidSeen: 0x1_0000_0003n, timeOut: 30_000, sessionId: 0x0100_0a1b_2c3d_0001n, passwd: new Uint8Array(16).fill(7) };
    for (const readOnly of [true, false, undefined]) {
      const request = { ...base, readOnly };
      const framed = encodeConnectRequest(request);
      expect(framed.byteLength).toBe(4 + 44 + (readOnly === undefined ? 0 : 1));
      expect(decodeConnectRequest(unframe(framed))).toEqual(request);
    }
  });

  it("ConnectResponse", () => {
    const response = { protocolVersion: 0, timeOut: 4_000, sessionId: -1n, passwd: new Uint8Array(16).fill(1), readOnly: false };
    expect(decodeConnectResponse(unframe(encodeConnectResponse(response)))).toEqual(response);
    const old = { ...response, readOnly: undefined };
    expect(decodeConnectResponse(unframe(encodeConnectResponse(old)))).toEqual(old);
  });

  it("notifications", () => {
    const event = { type: 3, state: 3, path: "/a" };
    expect(decodeNotification(unframe(encodeNotification(event)))).toEqual({ header: { xid: -1, zxid: -1n, err: 0 }, event });
  });

  it("Stat between wire and edgekeeper forms", () => {
    const safe = { ...STAT, ephemeralOwner: 0x1234_5678n };
    expect(toWireStat(fromWireStat(safe))).toEqual(safe);
    expect(() => fromWireStat({ ...STAT, ephemeralOwner: 2n ** 60n })).toThrow(RangeError);
    expect(longToNumber(-(2n ** 53n) + 1n)).toBe(-(2 ** 53) + 1);
  });

  it("Stat int fields past 32 bits wrap as ZooKeeper's Java ints do, and encode", () => {
    const stat = fromWireStat({ ...STAT, ephemeralOwner: 0n });
    const wrapped = toWireStat({ ...stat, cversion: 2 ** 31, version: 2 ** 32 + 5, aversion: -(2 ** 31) - 1, numChildren: 2 ** 31 - 1 });
    expect(wrapped).toMatchObject({ cversion: -(2 ** 31), version: 5, aversion: 2 ** 31 - 1, numChildren: 2 ** 31 - 1 });
    const reply = encodeReply({ xid: 1, zxid: 1n, err: 0 }, "exists", { stat: wrapped });
    expect(decodeReply(unframe(reply), "exists").body).toEqual({ stat: wrapped });
  });

  it("longs keep all 64 bits", () => {
    for (const value of [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0x0100_0a1b_2c3d_0001n]) {
      const w = new JuteWriter();
      w.writeLong(value);
      expect(new JuteReader(w.finish()).readLong()).toBe(value);
    }
    expect(() => new JuteWriter().writeLong(2n ** 63n)).toThrow(RangeError);
    expect(() => new JuteWriter().writeLong(2 ** 60)).toThrow(RangeError);
  });
});

describe("byte layouts from zookeeper.jute", () => {
  it("ConnectRequest of a new session (3.5+ client)", () => {
    const framed = encodeConnectRequest({ protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30_000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false });
    // int protocolVersion, long lastZxidSeen, int timeOut, long sessionId, buffer passwd, boolean readOnly
    expect(framed).toEqual(bytes(int(45), int(0), long(0n), int(30_000), long(0n), int(16), new Array(16).fill(0), [0]));
  });

  it("getData request: RequestHeader then GetDataRequest", () => {
    const framed = encodeRequest({ xid: 1, op: "getData", body: { path: "/a", watch: true } });
    expect(framed).toEqual(bytes(int(15), int(1), int(4), int(2), "/a", [1]));
  });

  it("create request with a null data buffer and one ACL", () => {
    const framed = encodeRequest({ xid: 3, op: "create", body: { path: "/n", data: null, acl: [ACL[0]!], flags: 1 } });
    expect(framed).toEqual(bytes(int(49), int(3), int(1), int(2), "/n", int(-1), int(1), int(31), int(5), "world", int(6), "anyone", int(1)));
  });

  it("multi request: MultiHeader before each op, and the end marker", () => {
    const framed = encodeRequest({
      xid: 4,
      op: "multi",
      body: { ops: [{ op: "check", body: { path: "/a", version: 2 } }, { op: "delete", body: { path: "/a", version: -1 } }] },
    });
    expect(framed).toEqual(
      bytes(int(55), int(4), int(14), int(13), [0], int(-1), int(2), "/a", int(2), int(2), [0], int(-1), int(2), "/a", int(-1), int(-1), [1], int(-1)),
    );
  });

  it("failed multi response: ErrorResults with type -1", () => {
    const framed = encodeReply({ xid: 4, zxid: 0x1_0000_0007n, err: 0 }, "multi", {
      results: [
        { op: "error", err: 0 },
        { op: "error", err: -103 },
        { op: "error", err: -2 },
      ],
    });
    const result = (err: number) => [...int(-1), 0, ...int(err), ...int(err)];
    expect(framed).toEqual(bytes(int(64), int(4), long(0x1_0000_0007n), int(0), result(0), result(-103), result(-2), int(-1), [1], int(-1)));
  });

  it("watch notification: ReplyHeader xid -1, WatcherEvent", () => {
    const framed = encodeNotification({ type: 4, state: 3, path: "/p" });
    expect(framed).toEqual(bytes(int(30), int(-1), long(-1n), int(0), int(4), int(3), int(2), "/p"));
  });

  it("exists reply with a Stat, field order czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren pzxid", () => {
    const framed = encodeReply({ xid: 2, zxid: 9n, err: 0 }, "exists", { stat: STAT });
    expect(framed).toEqual(
      bytes(
        int(16 + 68),
        int(2),
        long(9n),
        int(0),
        long(STAT.czxid),
        long(STAT.mzxid),
        long(STAT.ctime),
        long(STAT.mtime),
        int(3),
        int(4),
        int(1),
        long(STAT.ephemeralOwner),
        int(5),
        int(2),
        long(STAT.pzxid),
      ),
    );
  });
});

describe("decoding bad input", () => {
  const catchError = (run: () => unknown): unknown => {
    try {
      run();
    } catch (err) {
      return err;
    }
    throw new Error("expected an error");
  };

  it("a truncated body is a MarshallingError carrying the xid", () => {
    const payload = unframe(encodeRequest({ xid: 77, op: "setData", body: { path: "/a", data: bytes("abc"), version: 1 } }));
    const err = catchError(() => decodeRequest(payload.subarray(0, payload.byteLength - 2)));
    expect(err).toBeInstanceOf(JuteMarshallingError);
    expect(err).toMatchObject({ code: -5, keeperName: "MarshallingError", xid: 77, opCode: 5 });
  });

  it("a null path, a 2^31-1 length and a count beyond the bytes are MarshallingErrors", () => {
    for (const payload of [
      bytes(int(1), int(4), int(-1), [0]),
      bytes(int(1), int(4), int(0x7fffffff), "/a", [0]),
      bytes(int(1), int(1), int(2), "/a", int(-1), int(0x10000000), int(0)),
      bytes(int(1), int(1), int(2), "/a", int(-7), int(0), int(0)),
    ]) {
      expect(catchError(() => decodeRequest(payload))).toBeInstanceOf(JuteMarshallingError);
    }
  });

  it("a negative vector count other than -1 reads as empty, as ZooKeeper's BinaryIndex", () => {
    const request = decodeRequest(bytes(int(1), int(1), int(2), "/a", int(-1), int(-5), int(0)));
    expect(request).toEqual({ xid: 1, op: "create", body: { path: "/a", data: null, acl: [], flags: 0 } });
  });

  it("a multi without its end marker, or with an op a multi may not hold, is a MarshallingError", () => {
    const good = unframe(encodeRequest({ xid: 5, op: "multi", body: { ops: [{ op: "check", body: { path: "/a", version: 1 } }] } }));
    expect(catchError(() => decodeRequest(good.subarray(0, good.byteLength - 9)))).toBeInstanceOf(JuteMarshallingError);
    const nested = bytes(int(5), int(14), int(14), [0], int(-1), int(-1), [1], int(-1));
    expect(catchError(() => decodeRequest(nested))).toBeInstanceOf(JuteMarshallingError);
  });

  it("an unknown op code is Unimplemented with the xid", () => {
    const err = catchError(() => decodeRequest(bytes(int(9), int(10))));
    expect(err).toBeInstanceOf(JuteUnimplementedError);
    expect(err).toMatchObject({ code: -6, xid: 9, opCode: 10 });
  });

  it("an incomplete header or ConnectRequest is fatal", () => {
    expect(catchError(() => decodeRequest(bytes(int(1), [0, 0])))).toMatchObject({ name: "JuteFatalError", reason: "header" });
    expect(catchError(() => decodeConnectRequest(bytes(int(0), long(0n))))).toMatchObject({ name: "JuteFatalError", reason: "connect" });
  });

  it("invalid UTF-8 becomes U+FFFD; a BOM is kept", () => {
    const request = decodeRequest(bytes(int(1), int(3), int(5), [0x2f, 0xff, 0xc3, 0x28, 0x61], [0]));
    expect(request.body).toEqual({ path: "/\ufffd\ufffd(a", watch: false });
    const bom = decodeRequest(bytes(int(1), int(3), int(4), [0xef, 0xbb, 0xbf, 0x61], [0]));
    expect(bom.body).toEqual({ path: "\ufeffa", watch: false });
  });

  it("trailing bytes after a body are ignored, as ZooKeeper ignores them", () => {
    expect(decodeRequest(bytes(int(1), int(11), [1, 2, 3]))).toEqual({ xid: 1, op: "ping", body: {} });
  });
});

describe("frames", () => {
  it("splits frames across and within chunks", () => {
    const frames = [encodeRequest(REQUESTS[0]!), encodeRequest(REQUESTS[12]!), encodeRequest(REQUESTS[9]!)];
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
    let at = 0;
    for (const f of frames) {
      stream.set(f, at);
      at += f.byteLength;
    }
    for (const step of [1, 3, 7, 64, stream.byteLength]) {
      const splitter = new FrameSplitter();
      const out: Uint8Array[] = [];
      for (let i = 0; i < stream.byteLength; i += step) out.push(...splitter.push(stream.subarray(i, i + step)));
      expect(out.map((p) => decodeRequest(p))).toEqual([REQUESTS[0], REQUESTS[12], REQUESTS[9]]);
      expect(splitter.pending).toBe(0);
    }
  });

  it("a length below 1 or above jute.maxbuffer is fatal as soon as its 4 bytes arrive", () => {
    for (const length of [0, -1, 0x100000, 0x7fffffff]) {
      const splitter = new FrameSplitter();
      let err: unknown;
      try {
        splitter.push(bytes(int(length)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JuteFatalError);
      expect(err).toMatchObject({ reason: "frame-length", length });
      expect(() => splitter.push(bytes([1]))).toThrow(JuteFatalError);
    }
    expect(new FrameSplitter().push(bytes(int(0xfffff)))).toEqual([]);
    // a four-letter word reads as a huge length, which the bridge can recognise
    expect(() => new FrameSplitter().push(bytes("ruok"))).toThrow(expect.objectContaining({ length: 0x72756f6b }));
  });

  it("honours a configured maxBuffer", () => {
    const splitter = new FrameSplitter(10);
    expect(splitter.push(bytes(int(10), new Array(10).fill(1)))).toHaveLength(1);
    expect(() => splitter.push(bytes(int(11)))).toThrow(JuteFatalError);
  });
});
