/**
 * The client's pure parts: values and frames on the wire, error bodies, socket
 * URLs, backoff, the connection-state table, multi ops, the watch registry.
 */
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../client/core/backoff.ts";
import { type Phase, type StateInput, transition } from "../../client/core/states.ts";
import { toWireOp } from "../../client/core/transaction.ts";
import { type WatchEvent, WatchListeners } from "../../client/core/watches.ts";
import { decodeFrame, decodeValue, encodeFrames, encodeValue, errorFromBody, socketUrl, toBytes } from "../../client/core/wire.ts";
import { KeeperError } from "../../protocol/errors.ts";
import { MAX_READABLE_VALUE_BYTES } from "../../protocol/limits.ts";
import { CLIENT_FRAME_BYTES, type ClientMessage } from "../../protocol/session-protocol.ts";

describe("values on the wire", () => {
  it("sends strings as UTF-8 and bytes as they are, in base64", () => {
    expect(encodeValue("hi")).toBe("aGk=");
    expect(encodeValue("é✓")).toBe(Buffer.from("é✓", "utf8").toString("base64"));
    expect(encodeValue(new Uint8Array([0, 255, 128]))).toBe("AP+A");
    expect(encodeValue(undefined)).toBe("");
  });

  it("round-trips every byte value and values past one chunk", () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    expect(decodeValue(encodeValue(bytes))).toEqual(bytes);
    expect(toBytes("abc")).toEqual(new Uint8Array([97, 98, 99]));
  });

  it("reads a missing value as empty and refuses a non-string", () => {
    expect(decodeValue(undefined)).toEqual(new Uint8Array(0));
    expect(decodeValue(null)).toEqual(new Uint8Array(0));
    expect(() => decodeValue(5)).toThrow(KeeperError);
    expect(() => decodeValue("%%%")).toThrow(/base64/);
  });
});

describe("frames", () => {
  it("sends an array of messages and reads pongs, arrays and lone messages", () => {
    expect(encodeFrames([{ t: "connect", ref: 1, timeoutMs: 5000 }])).toEqual(['[{"t":"connect","ref":1,"timeoutMs":5000}]']);
    expect(decodeFrame("pong")).toEqual({ pong: true });
    expect(decodeFrame('[{"t":"expired","ref":2}]')).toEqual({ pong: false, messages: [{ t: "expired", ref: 2 }] });
    expect(decodeFrame('{"t":"expired","ref":3}')).toEqual({ pong: false, messages: [{ t: "expired", ref: 3 }] });
  });

  it("splits one tick's requests into frames a host takes, in order; a value at the limit goes alone", () => {
    // Four setData of a value at the limit: 5.6 MB of JSON, over the host's 4 MiB frame limit in one frame.
    const value = "A".repeat(Math.ceil(MAX_READABLE_VALUE_BYTES / 3) * 4);
    const setData = (xid: number): ClientMessage => ({ t: "req", sid: 1, xid, op: { op: "setData", path: "/big", data: value } });
    const small = (xid: number): ClientMessage => ({ t: "req", sid: 1, xid, op: { op: "exists", path: "/a" } });
    const messages = [small(1), setData(2), setData(3), small(4), small(5), setData(6), setData(7)];
    const frames = encodeFrames(messages);
    expect(frames.flatMap((frame) => (JSON.parse(frame) as { xid: number }[]).map((m) => m.xid))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames) {
      if (JSON.parse(frame).length > 1) expect(frame.length).toBeLessThanOrEqual(CLIENT_FRAME_BYTES);
      expect(frame.length).toBeLessThan(4 * 1024 * 1024);
    }
  });

  it("refuses frames it cannot read as MarshallingError", () => {
    for (const text of ["not json", "[1]", '[{"x":1}]', "null"]) {
      expect(() => decodeFrame(text)).toThrow(expect.objectContaining({ keeperName: "MarshallingError" }));
    }
  });
});

describe("errors from bodies", () => {
  it("rebuilds name, code, message and path", () => {
    const error = errorFromBody({ name: "BadVersion", code: -103, message: "/a: expected 3", path: "/a" });
    expect(error).toBeInstanceOf(KeeperError);
    expect(error).toMatchObject({ keeperName: "BadVersion", code: -103, message: "/a: expected 3", path: "/a", name: "KeeperError.BadVersion" });
  });

  it("falls back to the code, then SystemError", () => {
    expect(errorFromBody({ code: -101, message: "gone" } as never).keeperName).toBe("NoNode");
    expect(errorFromBody({ name: "Nonsense", code: 12345 } as never).keeperName).toBe("SystemError");
    expect(errorFromBody(undefined).keeperName).toBe("SystemError");
  });
});

describe("socket URLs", () => {
  it("maps http(s) to ws(s), keeps a path prefix, and carries the query", () => {
    expect(socketUrl("http://127.0.0.1:8787", {})).toBe("ws://127.0.0.1:8787/v1/sessions/socket");
    expect(socketUrl("https://k.example.com/edge/", { namespace: "app", session: 42 })).toBe(
      "wss://k.example.com/edge/v1/sessions/socket?namespace=app&session=42",
    );
    expect(socketUrl("ws://h:1", { namespace: "x" })).toBe("ws://h:1/v1/sessions/socket?namespace=x");
    expect(() => socketUrl("ftp://h", {})).toThrow(/http/);
  });
});

describe("backoff", () => {
  it("retries at once, then doubles up to the cap, jittered into [half, full)", () => {
    expect(backoffDelay(0)).toBe(0);
    const opts = { baseMs: 100, capMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts, () => 0.999999))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(1000, opts, () => 0.5)).toBe(750);
  });
});

describe("connection states", () => {
  const run = (inputs: StateInput[]) => {
    let phase: Phase = "connecting";
    const reports: string[] = [];
    for (const input of inputs) {
      const next = transition(phase, input);
      phase = next.phase;
      if (next.report) reports.push(next.report);
    }
    return { phase, reports };
  };

  it("reports a drop and a resume as suspended, reconnected", () => {
    expect(run(["opened", "socketLost", "socketLost", "resumed"])).toEqual({ phase: "open", reports: ["connected", "suspended", "reconnected"] });
  });

  it("reports an expiry as lost, then the new session as connected, never reconnected", () => {
    expect(run(["opened", "socketLost", "expired", "resumed", "opened"])).toEqual({ phase: "open", reports: ["connected", "suspended", "lost", "connected"] });
  });

  it("reports nothing before the first session but connected, and nothing after closed", () => {
    expect(run(["socketLost", "expired", "resumed", "opened"]).reports).toEqual(["connected"]);
    expect(run(["opened", "close", "socketLost", "opened", "close"])).toEqual({ phase: "closed", reports: ["connected", "closed"] });
  });

  it("never reports lost without an expiry", () => {
    const inputs: StateInput[] = ["opened", "socketLost", "resumed", "socketLost", "socketLost", "resumed", "close"];
    expect(run(inputs).reports).not.toContain("lost");
  });
});

describe("multi ops", () => {
  it("encodes values and leaves out what the caller did not say", () => {
    expect(toWireOp({ op: "create", path: "/a", data: "x", mode: "EPHEMERAL" })).toEqual({ op: "create", path: "/a", data: "eA==", mode: "EPHEMERAL" });
    expect(toWireOp({ op: "delete", path: "/a" })).toEqual({ op: "delete", path: "/a" });
    expect(toWireOp({ op: "check", path: "/a", version: 3 })).toEqual({ op: "check", path: "/a", version: 3 });
    expect(toWireOp({ op: "setData", path: "/a", data: new Uint8Array([1]), version: -1 })).toEqual({ op: "setData", path: "/a", data: "AQ==", version: -1 });
  });
});

describe("watch registry", () => {
  const event = (kind: WatchEvent["kind"], watchPath: string, path = watchPath): WatchEvent => ({ type: "NodeDataChanged", path, zxid: 1, kind, watchPath });

  it("fires a one-shot watch once, and the same listener once per firing", () => {
    const registry = new WatchListeners();
    const seen: string[] = [];
    const listener = (ev: WatchEvent) => seen.push(ev.watchPath);
    registry.add("data", "/a", listener);
    registry.add("data", "/a", listener);
    registry.set("data", "/a");
    registry.dispatch(event("data", "/a"));
    registry.dispatch(event("data", "/a"));
    expect(seen).toEqual(["/a"]);
    expect(registry.has("data", "/a")).toBe(false);
  });

  it("delivers a one-shot event only for a watch whose read was answered: one heard before it is dropped, whatever its zxid", () => {
    const registry = new WatchListeners();
    const seen: string[] = [];
    const at = (zxid: number): WatchEvent => ({ ...event("data", "/a"), zxid });
    registry.add("data", "/a", (ev) => seen.push(`first ${ev.zxid}`));
    // Before the answer: a fired watch a restarted host brought back, firing for a change.
    registry.dispatch(at(3));
    registry.set("data", "/a");
    registry.dispatch(at(5));
    // Set again: listening before the read is answered, as the client does.
    registry.add("data", "/a", (ev) => seen.push(`again ${ev.zxid}`));
    // Sent again after a restart (the zxid it had), and a new change firing the watch brought back.
    registry.dispatch(at(5));
    registry.dispatch(at(6));
    registry.set("data", "/a");
    registry.dispatch(at(7));
    registry.dispatch(at(7));
    expect(seen).toEqual(["first 5", "again 7"]);
  });

  it("keeps persistent watches and matches kind and path", () => {
    const registry = new WatchListeners();
    const seen: string[] = [];
    registry.add("recursive", "/r", (ev) => seen.push(`r:${ev.path}`));
    registry.add("child", "/r", (ev) => seen.push(`c:${ev.path}`));
    registry.dispatch(event("recursive", "/r", "/r/x"));
    registry.dispatch(event("recursive", "/r", "/r/y"));
    registry.dispatch(event("data", "/r"));
    expect(seen).toEqual(["r:/r/x", "r:/r/y"]);
  });

  it("drops a persistent or recursive event its shard sent already (a zxid below the last, or the same event again), each shard apart", () => {
    const registry = new WatchListeners();
    const seen: string[] = [];
    const at = (zxid: number, path = "/r/x"): WatchEvent => ({ ...event("recursive", "/r", path), zxid });
    registry.add("recursive", "/r", (ev) => seen.push(`${ev.path}@${ev.zxid}`));
    registry.dispatch(at(5), "root");
    registry.dispatch(at(5), "root");
    registry.dispatch(at(3), "root");
    // One change (a multi) fires the watch for several nodes at one zxid: each passes once.
    registry.dispatch(at(5, "/r/y"), "root");
    registry.dispatch(at(5, "/r/y"), "root");
    // Another shard's zxids are unrelated to these.
    registry.dispatch(at(2, "/r/m/z"), "mounted");
    registry.dispatch(at(6), "root");
    expect(seen).toEqual(["/r/x@5", "/r/y@5", "/r/m/z@2", "/r/x@6"]);
    // Set again after removal: its events are new.
    registry.removeAll(["recursive"], "/r");
    registry.add("recursive", "/r", (ev) => seen.push(`again ${ev.path}@${ev.zxid}`));
    registry.dispatch(at(4), "root");
    expect(seen.at(-1)).toBe("again /r/x@4");
  });

  it("streams events in order, ends on close, fails on expiry", async () => {
    const registry = new WatchListeners();
    const stream = registry.stream(() => {});
    stream.push(event("persistent", "/a"));
    stream.push(event("persistent", "/b"));
    registry.clear("closed");
    const got: string[] = [];
    for await (const ev of stream) got.push(ev.watchPath);
    expect(got).toEqual(["/a", "/b"]);

    const failing = registry.stream(() => {});
    const next = failing.next();
    registry.clear("expired");
    await expect(next).rejects.toMatchObject({ keeperName: "SessionExpired" });
  });

  it("calls back once when a stream is left", async () => {
    const registry = new WatchListeners();
    let returned = 0;
    const stream = registry.stream(() => returned++);
    stream.push(event("persistent", "/a"));
    for await (const _ of stream) break;
    await stream.return();
    expect(returned).toBe(1);
  });
});
