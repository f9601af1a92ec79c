/**
 * The one JSON parser of operations (protocol/op-parsing.ts), as each surface uses
 * it: the HTTP API (values per op's encoding, every path checked before routing) and
 * the session protocol (values as base64, a create's or delete's path left to the
 * shard, which answers NoNode for a bad path under a missing parent).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, KeeperError, type KeeperErrorName } from "../../protocol/index.ts";
import { type OpParsing, createOpOf, multiOpsOf, multiReadOpsOf, parseOp } from "../../protocol/op-parsing.ts";
import { parseSessionOp, sessionOpParsing } from "../../durable/session/host-op.ts";
import { httpOpParsing } from "../../worker/request-body.ts";

const HTTP: OpParsing = httpOpParsing(DEFAULT_LIMITS);
const SESSION: OpParsing = sessionOpParsing(DEFAULT_LIMITS);

function refusal(parse: () => unknown): KeeperErrorName | undefined {
  try {
    parse();
  } catch (error) {
    if (error instanceof KeeperError) return error.keeperName;
    throw error;
  }
  return undefined;
}

describe("values", () => {
  it("are base64 on the session protocol, and as each op's encoding says (UTF-8 by default) over HTTP", () => {
    expect(parseOp({ op: "setData", path: "/a", data: "aGk=" }, SESSION)).toEqual({ op: "setData", path: "/a", data: new Uint8Array([104, 105]) });
    expect(multiOpsOf({ ops: [{ op: "setData", path: "/a", data: "aGk=" }] }, HTTP)).toEqual([{ op: "setData", path: "/a", data: new TextEncoder().encode("aGk=") }]);
    expect(multiOpsOf({ ops: [{ op: "setData", path: "/a", data: "aGk=", encoding: "base64" }] }, HTTP)).toEqual([{ op: "setData", path: "/a", data: new Uint8Array([104, 105]) }]);
  });

  it("keep ZooKeeper's null value apart from empty, on both surfaces", () => {
    for (const parsing of [HTTP, SESSION]) {
      expect(createOpOf("/a", { data: null }, parsing).data).toBeNull();
      expect(createOpOf("/a", {}, parsing).data).toEqual(new Uint8Array(0));
    }
  });

  it("refuses what is not a value: bad base64, an unpaired surrogate, a number", () => {
    expect(refusal(() => parseOp({ op: "setData", path: "/a", data: "!!" }, SESSION))).toBe("MarshallingError");
    expect(refusal(() => createOpOf("/a", { data: "x\ud800" }, HTTP))).toBe("MarshallingError");
    expect(refusal(() => parseOp({ op: "setData", path: "/a", data: 7 }, SESSION))).toBe("MarshallingError");
    expect(refusal(() => createOpOf("/a", { data: 7 }, HTTP))).toBe("MarshallingError");
  });
});

describe("paths", () => {
  it("of a create or delete are checked over HTTP, and left to the shard on the session protocol", () => {
    expect(refusal(() => multiOpsOf({ ops: [{ op: "create", path: "/missing/bad/" }] }, HTTP))).toBe("BadArguments");
    expect(refusal(() => multiOpsOf({ ops: [{ op: "delete", path: "/missing//x" }] }, HTTP))).toBe("BadArguments");
    expect(parseOp({ op: "create", path: "/missing/bad/" }, SESSION)).toMatchObject({ op: "create", path: "/missing/bad/" });
    expect(parseOp({ op: "delete", path: "/missing//x" }, SESSION)).toEqual({ op: "delete", path: "/missing//x" });
  });

  it("of a sequential create may end in a slash (the parent of its sequential children)", () => {
    expect(createOpOf("/queue/", { mode: "PERSISTENT_SEQUENTIAL" }, HTTP).path).toBe("/queue/");
    expect(refusal(() => createOpOf("/queue/", {}, HTTP))).toBe("BadArguments");
  });

  it("of every other op are checked on both surfaces", () => {
    for (const parsing of [HTTP, SESSION]) {
      expect(refusal(() => parseOp({ op: "getData", path: "a" }, parsing))).toBe("BadArguments");
      expect(refusal(() => multiReadOpsOf({ ops: [{ op: "getChildren", path: "/a/" }] }, parsing))).toBe("BadArguments");
    }
  });
});

describe("operations", () => {
  it("are checked field by field, with ZooKeeper's errors", () => {
    expect(refusal(() => parseOp("getData /a", SESSION))).toBe("MarshallingError");
    expect(refusal(() => parseOp({ op: "rename", path: "/a" }, SESSION))).toBe("Unimplemented");
    expect(refusal(() => parseOp({ op: "delete", path: "/a", version: "3" }, SESSION))).toBe("MarshallingError");
    expect(refusal(() => parseOp({ op: "getData", path: "/a", watch: "yes" }, SESSION))).toBe("MarshallingError");
    expect(refusal(() => parseOp({ op: "multi", ops: [{ op: "getData", path: "/a" }] }, SESSION))).toBe("Unimplemented");
    expect(refusal(() => parseOp({ op: "multiRead", ops: [{ op: "setData", path: "/a" }] }, SESSION))).toBe("Unimplemented");
    expect(refusal(() => parseOp({ op: "addWatch", path: "/a", mode: "once" }, SESSION))).toBe("BadArguments");
    expect(refusal(() => multiOpsOf({ ops: Array.from({ length: DEFAULT_LIMITS.maxMultiOps + 1 }, () => ({ op: "check", path: "/a" })) }, HTTP))).toBe("BadArguments");
  });

  it("that a host runs itself stay with the host; the rest go to a shard", () => {
    expect(parseSessionOp({ op: "sync", path: "/a" }, DEFAULT_LIMITS)).toEqual({ op: "sync", path: "/a" });
    expect(parseSessionOp({ op: "removeWatches", path: "/a" }, DEFAULT_LIMITS)).toEqual({ op: "removeWatches", path: "/a", kind: "any" });
    expect(parseSessionOp({ op: "close" }, DEFAULT_LIMITS)).toEqual({ op: "close" });
    expect(parseSessionOp({ op: "exists", path: "/a", watch: true }, DEFAULT_LIMITS)).toEqual({ op: "shard", request: { op: "exists", path: "/a", watch: true } });
    expect(parseSessionOp({ op: "getEphemerals" }, DEFAULT_LIMITS)).toEqual({ op: "shard", request: { op: "getEphemerals", prefix: "/" } });
  });
});
