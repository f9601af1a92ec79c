/** Sample records of every kind, shared by the codec's round-trip and fuzz tests. */
import type { JuteRequest, MultiResult, JuteOpName, ResponseBodies, WireStat } from "../../protocol/jute/index.ts";

export const bytes = (...parts: (number[] | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));

export const STAT: WireStat = {
  czxid: 0x1_0000_0002n,
  mzxid: 0x1_0000_0005n,
  ctime: 1_764_000_000_123n,
  mtime: 1_764_000_000_456n,
  version: 3,
  cversion: 4,
  aversion: 1,
  ephemeralOwner: 0x0100_0a1b_2c3d_0000n, // a ZooKeeper-style 56-bit session id: not a safe number
  dataLength: 5,
  numChildren: 2,
  pzxid: 0x1_0000_0004n,
};
export const ACL = [
  { perms: 31, scheme: "world", id: "anyone" },
  { perms: 1, scheme: "digest", id: "alice:X/abc=" },
];
export const WITH_UNICODE = "/läuft/日本/🦀";

/** A request of every op code. */
export const REQUESTS: JuteRequest[] = [
  { xid: 1, op: "create", body: { path: "/a", data: bytes("hi"), acl: ACL, flags: 0 } },
  { xid: 2, op: "delete", body: { path: "/a", version: -1 } },
  { xid: 3, op: "exists", body: { path: WITH_UNICODE, watch: true } },
  { xid: 4, op: "getData", body: { path: "/a", watch: false } },
  { xid: 5, op: "setData", body: { path: "/a", data: null, version: 7 } },
  { xid: 6, op: "getACL", body: { path: "/a" } },
  { xid: 7, op: "setACL", body: { path: "/a", acl: ACL, version: 2 } },
  { xid: 8, op: "getChildren", body: { path: "/", watch: true } },
  { xid: 9, op: "sync", body: { path: "/a" } },
  { xid: -2, op: "ping", body: {} },
  { xid: 10, op: "getChildren2", body: { path: "/", watch: false } },
  { xid: 11, op: "check", body: { path: "/a", version: 3 } },
  {
    xid: 12,
    op: "multi",
    body: {
      ops: [
        { op: "create", body: { path: "/m", data: bytes(""), acl: ACL.slice(0, 1), flags: 2 } },
        { op: "create2", body: { path: "/m2", data: null, acl: ACL.slice(0, 1), flags: 0 } },
        { op: "createContainer", body: { path: "/c", data: bytes("x"), acl: ACL.slice(0, 1), flags: 4 } },
        { op: "createTTL", body: { path: "/t", data: bytes("x"), acl: ACL.slice(0, 1), flags: 5, ttl: 60_000n } },
        { op: "delete", body: { path: "/m", version: -1 } },
        { op: "deleteContainer", body: { path: "/c", version: -1 } },
        { op: "setData", body: { path: "/a", data: bytes("v"), version: -1 } },
        { op: "check", body: { path: "/a", version: 1 } },
      ],
    },
  },
  { xid: 13, op: "create2", body: { path: "/b", data: bytes([0, 255, 128]), acl: ACL, flags: 1 } },
  { xid: 14, op: "reconfig", body: { joiningServers: "server.2=h:1:2", leavingServers: null, newMembers: null, curConfigId: -1n } },
  { xid: 15, op: "checkWatches", body: { path: "/a", type: 3 } },
  { xid: 16, op: "removeWatches", body: { path: "/a", type: 1 } },
  { xid: 17, op: "createContainer", body: { path: "/c", data: bytes(""), acl: ACL, flags: 4 } },
  { xid: 18, op: "deleteContainer", body: { path: WITH_UNICODE } },
  { xid: 19, op: "createTTL", body: { path: "/t", data: bytes("ttl"), acl: ACL, flags: 6, ttl: 0xff_ffff_ffffn } },
  { xid: 20, op: "multiRead", body: { ops: [{ op: "getData", body: { path: "/a", watch: false } }, { op: "getChildren", body: { path: "/", watch: false } }] } },
  { xid: -4, op: "auth", body: { type: 0, scheme: "digest", auth: bytes("alice:secret") } },
  { xid: -8, op: "setWatches", body: { relativeZxid: 0x2_0000_0001n, dataWatches: ["/a"], existWatches: [], childWatches: ["/", "/b"] } },
  { xid: 21, op: "sasl", body: { token: bytes([1, 2, 3]) } },
  { xid: 22, op: "getEphemerals", body: { prefixPath: "/" } },
  { xid: 23, op: "getAllChildrenNumber", body: { path: "/" } },
  {
    xid: -8,
    op: "setWatches2",
    body: { relativeZxid: 5n, dataWatches: [], existWatches: ["/x"], childWatches: [], persistentWatches: ["/p"], persistentRecursiveWatches: ["/r", "/s"] },
  },
  { xid: 24, op: "addWatch", body: { path: "/a", mode: 1 } },
  { xid: 25, op: "whoAmI", body: {} },
  { xid: 26, op: "createSession", body: { timeOut: 30_000 } },
  { xid: 27, op: "closeSession", body: {} },
];

export const MULTI_RESULTS: MultiResult[] = [
  { op: "create", path: "/m0000000001" },
  { op: "create2", path: "/m2", stat: STAT },
  { op: "delete" },
  { op: "setData", stat: STAT },
  { op: "check" },
  { op: "getData", data: bytes("v"), stat: STAT },
  { op: "getData", data: null, stat: STAT },
  { op: "getChildren", children: ["a", "b"] },
  { op: "error", err: 0 },
  { op: "error", err: -101 },
  { op: "error", err: -2 },
];

/** A response body for every op code. */
export const RESPONSES: { [K in JuteOpName]: ResponseBodies[K] } = {
  create: { path: "/a" },
  delete: {},
  exists: { stat: STAT },
  getData: { data: bytes("hello"), stat: STAT },
  setData: { stat: STAT },
  getACL: { acl: ACL, stat: STAT },
  setACL: { stat: STAT },
  getChildren: { children: ["x", WITH_UNICODE.slice(1)] },
  sync: { path: "/a" },
  ping: {},
  getChildren2: { children: [], stat: STAT },
  check: {},
  multi: { results: MULTI_RESULTS },
  create2: { path: "/b", stat: STAT },
  reconfig: { data: bytes("server.1=127.0.0.1:2888:3888"), stat: STAT },
  checkWatches: {},
  removeWatches: {},
  createContainer: { path: "/c", stat: STAT },
  deleteContainer: {},
  createTTL: { path: "/t", stat: STAT },
  multiRead: { results: MULTI_RESULTS },
  auth: {},
  setWatches: {},
  sasl: { token: bytes([9, 8]) },
  getEphemerals: { ephemerals: ["/e1", "/e2"] },
  getAllChildrenNumber: { totalNumber: 42 },
  setWatches2: {},
  addWatch: { err: 0 },
  whoAmI: { clientInfo: [{ authScheme: "ip", user: "127.0.0.1" }, { authScheme: "digest", user: "alice" }] },
  createSession: {},
  closeSession: {},
};

