/**
 * The records of zookeeper.jute this codec needs, each as a TypeScript type with a
 * reader and a writer. Field names are jute's. Every jute long is a bigint.
 *
 * Required strings (paths, schemes) decode a null (-1) as a MarshallingError, as
 * ZooKeeper answers a request with a null path. Null vectors decode as empty
 * lists (ZooKeeper treats a null ACL like an empty one: InvalidACL), and a null
 * data buffer stays null.
 */
import type { Acl } from "../acl.ts";
import type { Stat } from "../stat.ts";
import { JuteReader, JuteWriter, longToNumber } from "./primitives.ts";

export interface Codec<T> {
  read(r: JuteReader): T;
  write(w: JuteWriter, value: T): void;
}

/** data.Stat as it is on the wire: longs as bigint. */
export interface WireStat {
  czxid: bigint;
  mzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

/** 3 ints and 6 longs... laid out as jute's Stat: 68 bytes. */
export const STAT_BYTES = 68;

export const StatCodec: Codec<WireStat> = {
  read: (r) => ({
    czxid: r.readLong("czxid"),
    mzxid: r.readLong("mzxid"),
    ctime: r.readLong("ctime"),
    mtime: r.readLong("mtime"),
    version: r.readInt("version"),
    cversion: r.readInt("cversion"),
    aversion: r.readInt("aversion"),
    ephemeralOwner: r.readLong("ephemeralOwner"),
    dataLength: r.readInt("dataLength"),
    numChildren: r.readInt("numChildren"),
    pzxid: r.readLong("pzxid"),
  }),
  write: (w, s) => {
    w.writeLong(s.czxid).writeLong(s.mzxid).writeLong(s.ctime).writeLong(s.mtime);
    w.writeInt(s.version).writeInt(s.cversion).writeInt(s.aversion);
    w.writeLong(s.ephemeralOwner).writeInt(s.dataLength).writeInt(s.numChildren).writeLong(s.pzxid);
  },
};

/** A count as a Java int holds it: past 2^31 - 1 it wraps to negative (two's complement), as ZooKeeper's do. */
const javaInt = (value: number): number => value | 0;

/**
 * edgekeeper's Stat (safe numbers) on the wire. Its int fields wrap as ZooKeeper's
 * Java ints do: a parent's cversion after 2^31 child creates reads negative there too.
 *
 * @example
 * toWireStat({ ...stat, cversion: 2 ** 31 }).cversion; // -2147483648
 */
export function toWireStat(stat: Stat): WireStat {
  return {
    czxid: BigInt(stat.czxid),
    mzxid: BigInt(stat.mzxid),
    ctime: BigInt(stat.ctime),
    mtime: BigInt(stat.mtime),
    version: javaInt(stat.version),
    cversion: javaInt(stat.cversion),
    aversion: javaInt(stat.aversion),
    ephemeralOwner: BigInt(stat.ephemeralOwner),
    dataLength: javaInt(stat.dataLength),
    numChildren: javaInt(stat.numChildren),
    pzxid: BigInt(stat.pzxid),
  };
}

/** A wire Stat as edgekeeper's Stat; RangeError if a long is not a safe number (ZooKeeper's session ids are not). */
export function fromWireStat(stat: WireStat): Stat {
  return {
    czxid: longToNumber(stat.czxid, "czxid"),
    mzxid: longToNumber(stat.mzxid, "mzxid"),
    ctime: longToNumber(stat.ctime, "ctime"),
    mtime: longToNumber(stat.mtime, "mtime"),
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    ephemeralOwner: longToNumber(stat.ephemeralOwner, "ephemeralOwner"),
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
    pzxid: longToNumber(stat.pzxid, "pzxid"),
  };
}

/** data.ACL { int perms; Id { ustring scheme; ustring id } }, flattened as protocol's Acl. */
export const AclCodec: Codec<Acl> = {
  read: (r) => {
    const perms = r.readInt("ACL perms");
    const scheme = r.readString("ACL scheme");
    const id = r.readString("ACL id");
    return { perms, scheme, id };
  },
  write: (w, a) => void w.writeInt(a.perms).writeUString(a.scheme).writeUString(a.id),
};

/** The smallest encodings, for bounding vector counts. */
const MIN_STRING_BYTES = 4;
const MIN_ACL_BYTES = 12;

export function readAclList(r: JuteReader): Acl[] {
  return r.readVector("ACL list", MIN_ACL_BYTES, AclCodec.read) ?? [];
}
export function writeAclList(w: JuteWriter, acl: readonly Acl[]): void {
  w.writeVector(acl, AclCodec.write);
}
export function readStringList(r: JuteReader, what: string): string[] {
  return r.readVector(what, MIN_STRING_BYTES, (e) => e.readString(what)) ?? [];
}
export function writeStringList(w: JuteWriter, items: readonly string[]): void {
  w.writeVector(items, (e, s) => void e.writeUString(s));
}

// ---- session set-up: the first frame each way, without headers ----

export interface ConnectRequest {
  protocolVersion: number;
  lastZxidSeen: bigint;
  timeOut: number;
  sessionId: bigint;
  /** A null buffer reads as empty. */
  passwd: Uint8Array;
  /** The trailing boolean 3.5+ clients send; undefined when the client omitted it. */
  readOnly: boolean | undefined;
}

export const ConnectRequestCodec: Codec<ConnectRequest> = {
  read: (r) => {
    const protocolVersion = r.readInt("protocolVersion");
    const lastZxidSeen = r.readLong("lastZxidSeen");
    const timeOut = r.readInt("timeOut");
    const sessionId = r.readLong("sessionId");
    const passwd = r.readBuffer("passwd") ?? new Uint8Array(0);
    const readOnly = r.remaining > 0 ? r.readBool("readOnly") : undefined;
    return { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly };
  },
  write: (w, c) => {
    w.writeInt(c.protocolVersion).writeLong(c.lastZxidSeen).writeInt(c.timeOut).writeLong(c.sessionId).writeBuffer(c.passwd);
    if (c.readOnly !== undefined) w.writeBool(c.readOnly);
  },
};

export interface ConnectResponse {
  protocolVersion: number;
  timeOut: number;
  sessionId: bigint;
  passwd: Uint8Array;
  /** ZooKeeper 3.5+ always sends it; undefined when absent (a 3.4 server), and then not written. */
  readOnly: boolean | undefined;
}

export const ConnectResponseCodec: Codec<ConnectResponse> = {
  read: (r) => {
    const protocolVersion = r.readInt("protocolVersion");
    const timeOut = r.readInt("timeOut");
    const sessionId = r.readLong("sessionId");
    const passwd = r.readBuffer("passwd") ?? new Uint8Array(0);
    const readOnly = r.remaining > 0 ? r.readBool("readOnly") : undefined;
    return { protocolVersion, timeOut, sessionId, passwd, readOnly };
  },
  write: (w, c) => {
    w.writeInt(c.protocolVersion).writeInt(c.timeOut).writeLong(c.sessionId).writeBuffer(c.passwd);
    if (c.readOnly !== undefined) w.writeBool(c.readOnly);
  },
};

// ---- headers ----

export interface RequestHeader {
  xid: number;
  type: number;
}
export const RequestHeaderCodec: Codec<RequestHeader> = {
  read: (r) => ({ xid: r.readInt("xid"), type: r.readInt("type") }),
  write: (w, h) => void w.writeInt(h.xid).writeInt(h.type),
};

export interface ReplyHeader {
  xid: number;
  zxid: bigint;
  err: number;
}
export const ReplyHeaderCodec: Codec<ReplyHeader> = {
  read: (r) => ({ xid: r.readInt("xid"), zxid: r.readLong("zxid"), err: r.readInt("err") }),
  write: (w, h) => void w.writeInt(h.xid).writeLong(h.zxid).writeInt(h.err),
};

export interface MultiHeader {
  type: number;
  done: boolean;
  err: number;
}
export const MultiHeaderCodec: Codec<MultiHeader> = {
  read: (r) => ({ type: r.readInt("multi op type"), done: r.readBool("multi done"), err: r.readInt("multi err") }),
  write: (w, h) => void w.writeInt(h.type).writeBool(h.done).writeInt(h.err),
};

export interface WatcherEvent {
  type: number;
  state: number;
  path: string;
}
export const WatcherEventCodec: Codec<WatcherEvent> = {
  read: (r) => ({ type: r.readInt("event type"), state: r.readInt("event state"), path: r.readString("event path") }),
  write: (w, e) => void w.writeInt(e.type).writeInt(e.state).writeUString(e.path),
};

// ---- request bodies ----

export interface CreateRequest {
  path: string;
  data: Uint8Array | null;
  acl: Acl[];
  flags: number;
}
export const CreateRequestCodec: Codec<CreateRequest> = {
  read: (r) => ({ path: r.readString("path"), data: r.readBuffer("data"), acl: readAclList(r), flags: r.readInt("flags") }),
  write: (w, c) => {
    w.writeUString(c.path).writeBuffer(c.data);
    writeAclList(w, c.acl);
    w.writeInt(c.flags);
  },
};

export interface CreateTTLRequest extends CreateRequest {
  ttl: bigint;
}
export const CreateTTLRequestCodec: Codec<CreateTTLRequest> = {
  read: (r) => ({ ...CreateRequestCodec.read(r), ttl: r.readLong("ttl") }),
  write: (w, c) => {
    CreateRequestCodec.write(w, c);
    w.writeLong(c.ttl);
  },
};

export interface DeleteRequest {
  path: string;
  version: number;
}
export const DeleteRequestCodec: Codec<DeleteRequest> = {
  read: (r) => ({ path: r.readString("path"), version: r.readInt("version") }),
  write: (w, d) => void w.writeUString(d.path).writeInt(d.version),
};
/** CheckVersionRequest has DeleteRequest's layout. */
export type CheckVersionRequest = DeleteRequest;
export const CheckVersionRequestCodec = DeleteRequestCodec;

/** ExistsRequest, GetDataRequest, GetChildrenRequest, GetChildren2Request. */
export interface PathWatchRequest {
  path: string;
  watch: boolean;
}
export const PathWatchRequestCodec: Codec<PathWatchRequest> = {
  read: (r) => ({ path: r.readString("path"), watch: r.readBool("watch") }),
  write: (w, p) => void w.writeUString(p.path).writeBool(p.watch),
};

/** GetACLRequest, SyncRequest, GetAllChildrenNumberRequest; also CreateResponse and SyncResponse. */
export interface PathRecord {
  path: string;
}
export const PathRecordCodec: Codec<PathRecord> = {
  read: (r) => ({ path: r.readString("path") }),
  write: (w, p) => void w.writeUString(p.path),
};

export interface SetDataRequest {
  path: string;
  data: Uint8Array | null;
  version: number;
}
export const SetDataRequestCodec: Codec<SetDataRequest> = {
  read: (r) => ({ path: r.readString("path"), data: r.readBuffer("data"), version: r.readInt("version") }),
  write: (w, s) => void w.writeUString(s.path).writeBuffer(s.data).writeInt(s.version),
};

export interface SetACLRequest {
  path: string;
  acl: Acl[];
  version: number;
}
export const SetACLRequestCodec: Codec<SetACLRequest> = {
  read: (r) => ({ path: r.readString("path"), acl: readAclList(r), version: r.readInt("version") }),
  write: (w, s) => {
    w.writeUString(s.path);
    writeAclList(w, s.acl);
    w.writeInt(s.version);
  },
};

/** ReconfigRequest: decoded only so that the bridge can answer it (Unimplemented). Its strings may be null. */
export interface ReconfigRequest {
  joiningServers: string | null;
  leavingServers: string | null;
  newMembers: string | null;
  curConfigId: bigint;
}
export const ReconfigRequestCodec: Codec<ReconfigRequest> = {
  read: (r) => ({
    joiningServers: r.readUString("joiningServers"),
    leavingServers: r.readUString("leavingServers"),
    newMembers: r.readUString("newMembers"),
    curConfigId: r.readLong("curConfigId"),
  }),
  write: (w, c) => void w.writeUString(c.joiningServers).writeUString(c.leavingServers).writeUString(c.newMembers).writeLong(c.curConfigId),
};

/** CheckWatchesRequest and RemoveWatchesRequest: `type` is a WATCHER_TYPES value. */
export interface WatchesRequest {
  path: string;
  type: number;
}
export const WatchesRequestCodec: Codec<WatchesRequest> = {
  read: (r) => ({ path: r.readString("path"), type: r.readInt("watcher type") }),
  write: (w, c) => void w.writeUString(c.path).writeInt(c.type),
};

/**
 * deleteContainer's body is the path's raw UTF-8 bytes, with no length prefix: the
 * form of ZooKeeper's own ContainerManager requests. ZooKeeper 3.8 reads it from the
 * packet's whole buffer, request header included, so from a client it never names a
 * valid path and is answered BadArguments (-8); the bridge should do the same.
 */
export const DeleteContainerRequestCodec: Codec<PathRecord> = {
  read: (r) => ({ path: r.readRestAsString() }),
  write: (w, p) => void w.writeRaw(new TextEncoder().encode(p.path)),
};

export interface AuthPacket {
  type: number;
  scheme: string;
  auth: Uint8Array;
}
export const AuthPacketCodec: Codec<AuthPacket> = {
  read: (r) => ({ type: r.readInt("auth type"), scheme: r.readString("auth scheme"), auth: r.readBuffer("auth") ?? new Uint8Array(0) }),
  write: (w, a) => void w.writeInt(a.type).writeUString(a.scheme).writeBuffer(a.auth),
};

export interface SetWatches {
  relativeZxid: bigint;
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
}
export const SetWatchesCodec: Codec<SetWatches> = {
  read: (r) => ({
    relativeZxid: r.readLong("relativeZxid"),
    dataWatches: readStringList(r, "dataWatches"),
    existWatches: readStringList(r, "existWatches"),
    childWatches: readStringList(r, "childWatches"),
  }),
  write: (w, s) => {
    w.writeLong(s.relativeZxid);
    writeStringList(w, s.dataWatches);
    writeStringList(w, s.existWatches);
    writeStringList(w, s.childWatches);
  },
};

export interface SetWatches2 extends SetWatches {
  persistentWatches: string[];
  persistentRecursiveWatches: string[];
}
export const SetWatches2Codec: Codec<SetWatches2> = {
  read: (r) => ({
    ...SetWatchesCodec.read(r),
    persistentWatches: readStringList(r, "persistentWatches"),
    persistentRecursiveWatches: readStringList(r, "persistentRecursiveWatches"),
  }),
  write: (w, s) => {
    SetWatchesCodec.write(w, s);
    writeStringList(w, s.persistentWatches);
    writeStringList(w, s.persistentRecursiveWatches);
  },
};

/** GetSASLRequest and SetSASLResponse: one token. SASL is decoded only (the bridge does not offer it). */
export interface SaslToken {
  token: Uint8Array;
}
export const SaslTokenCodec: Codec<SaslToken> = {
  read: (r) => ({ token: r.readBuffer("token") ?? new Uint8Array(0) }),
  write: (w, s) => void w.writeBuffer(s.token),
};

export interface GetEphemeralsRequest {
  prefixPath: string;
}
export const GetEphemeralsRequestCodec: Codec<GetEphemeralsRequest> = {
  read: (r) => ({ prefixPath: r.readString("prefixPath") }),
  write: (w, g) => void w.writeUString(g.prefixPath),
};

/** AddWatchRequest: `mode` is an ADD_WATCH_MODES value. */
export interface AddWatchRequest {
  path: string;
  mode: number;
}
export const AddWatchRequestCodec: Codec<AddWatchRequest> = {
  read: (r) => ({ path: r.readString("path"), mode: r.readInt("mode") }),
  write: (w, a) => void w.writeUString(a.path).writeInt(a.mode),
};

/** createSession's body (CreateSessionTxn's timeOut); clients never send it. */
export interface CreateSessionRequest {
  timeOut: number;
}
export const CreateSessionRequestCodec: Codec<CreateSessionRequest> = {
  read: (r) => ({ timeOut: r.readInt("timeOut") }),
  write: (w, c) => void w.writeInt(c.timeOut),
};

/** A body with no fields (ping, whoAmI, closeSession requests; most write responses). */
export type Empty = Record<string, never>;
export const EmptyCodec: Codec<Empty> = {
  read: () => ({}),
  write: () => {},
};

// ---- response bodies ----

export interface StatResponse {
  stat: WireStat;
}
export const StatResponseCodec: Codec<StatResponse> = {
  read: (r) => ({ stat: StatCodec.read(r) }),
  write: (w, s) => StatCodec.write(w, s.stat),
};

export interface Create2Response {
  path: string;
  stat: WireStat;
}
export const Create2ResponseCodec: Codec<Create2Response> = {
  read: (r) => ({ path: r.readString("path"), stat: StatCodec.read(r) }),
  write: (w, c) => {
    w.writeUString(c.path);
    StatCodec.write(w, c.stat);
  },
};

/** GetDataResponse (also reconfig's answer). */
export interface GetDataResponse {
  data: Uint8Array | null;
  stat: WireStat;
}
export const GetDataResponseCodec: Codec<GetDataResponse> = {
  read: (r) => ({ data: r.readBuffer("data"), stat: StatCodec.read(r) }),
  write: (w, g) => {
    w.writeBuffer(g.data);
    StatCodec.write(w, g.stat);
  },
};

export interface GetACLResponse {
  acl: Acl[];
  stat: WireStat;
}
export const GetACLResponseCodec: Codec<GetACLResponse> = {
  read: (r) => ({ acl: readAclList(r), stat: StatCodec.read(r) }),
  write: (w, g) => {
    writeAclList(w, g.acl);
    StatCodec.write(w, g.stat);
  },
};

export interface GetChildrenResponse {
  children: string[];
}
export const GetChildrenResponseCodec: Codec<GetChildrenResponse> = {
  read: (r) => ({ children: readStringList(r, "children") }),
  write: (w, g) => writeStringList(w, g.children),
};

export interface GetChildren2Response {
  children: string[];
  stat: WireStat;
}
export const GetChildren2ResponseCodec: Codec<GetChildren2Response> = {
  read: (r) => ({ children: readStringList(r, "children"), stat: StatCodec.read(r) }),
  write: (w, g) => {
    writeStringList(w, g.children);
    StatCodec.write(w, g.stat);
  },
};

export interface GetEphemeralsResponse {
  ephemerals: string[];
}
export const GetEphemeralsResponseCodec: Codec<GetEphemeralsResponse> = {
  read: (r) => ({ ephemerals: readStringList(r, "ephemerals") }),
  write: (w, g) => writeStringList(w, g.ephemerals),
};

export interface GetAllChildrenNumberResponse {
  totalNumber: number;
}
export const GetAllChildrenNumberResponseCodec: Codec<GetAllChildrenNumberResponse> = {
  read: (r) => ({ totalNumber: r.readInt("totalNumber") }),
  write: (w, g) => void w.writeInt(g.totalNumber),
};

/** ErrorResponse: addWatch's answer, and an ErrorResult's body inside a multi. */
export interface ErrorResponse {
  err: number;
}
export const ErrorResponseCodec: Codec<ErrorResponse> = {
  read: (r) => ({ err: r.readInt("err") }),
  write: (w, e) => void w.writeInt(e.err),
};

export interface ClientInfo {
  authScheme: string;
  user: string;
}
export interface WhoAmIResponse {
  clientInfo: ClientInfo[];
}
export const WhoAmIResponseCodec: Codec<WhoAmIResponse> = {
  read: (r) => ({
    clientInfo:
      r.readVector("clientInfo", 2 * MIN_STRING_BYTES, (e) => ({ authScheme: e.readString("authScheme"), user: e.readString("user") })) ?? [],
  }),
  write: (w, who) => void w.writeVector(who.clientInfo, (e, c) => void e.writeUString(c.authScheme).writeUString(c.user)),
};
