/**
 * A session socket's frames are measured in UTF-8 bytes against maxFrameBytes:
 * a frame short in characters but long in bytes is refused, one just within is read.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SOCKET_LIMITS } from "../../durable/base/settings.ts";
import { CLOSE_POLICY, parseFrame } from "../../durable/session/session-sockets.ts";

const limits = { ...DEFAULT_SOCKET_LIMITS, maxFrameBytes: 300 };

/** A frame of one request whose path is `path`, as JSON text. */
const frameWithPath = (path: string): string => JSON.stringify([{ t: "req", sid: 1, xid: 1, op: { op: "getData", path } }]);

describe("a session frame's size", () => {
  it("is refused when its UTF-8 bytes are over the limit, though its characters are not", () => {
    // 3-byte characters: fewer than 300 characters, more than 300 bytes.
    const frame = frameWithPath(`/${"€".repeat(90)}`);
    expect(frame.length).toBeLessThanOrEqual(limits.maxFrameBytes);
    expect(new TextEncoder().encode(frame).length).toBeGreaterThan(limits.maxFrameBytes);
    expect(parseFrame(frame, limits)).toEqual({ close: CLOSE_POLICY, reason: "frame over 300 bytes" });
  });

  it("is read when its UTF-8 bytes are within the limit", () => {
    const frame = frameWithPath(`/${"€".repeat(60)}`);
    expect(new TextEncoder().encode(frame).length).toBeLessThanOrEqual(limits.maxFrameBytes);
    expect(parseFrame(frame, limits)).toEqual([{ t: "req", sid: 1, xid: 1, op: { op: "getData", path: `/${"€".repeat(60)}` } }]);
  });

  it("is read when even at 3 bytes a character it is within the limit", () => {
    const frame = frameWithPath("/short");
    expect(frame.length * 3).toBeLessThanOrEqual(limits.maxFrameBytes);
    expect(parseFrame(frame, limits)).toEqual([{ t: "req", sid: 1, xid: 1, op: { op: "getData", path: "/short" } }]);
  });

  it("is refused when its characters alone are over the limit", () => {
    expect(parseFrame(frameWithPath(`/${"a".repeat(400)}`), limits)).toEqual({ close: CLOSE_POLICY, reason: "frame over 300 bytes" });
  });
});
