/**
 * Whole messages: the request and response body of every op code, the multi
 * encoding, and the frames each side sends.
 *
 * Encoders return framed bytes (a 4-byte big-endian length, then the payload),
 * ready for the socket. Decoders take one payload, as `FrameSplitter` yields it.
 *
 * Requests: RequestHeader { xid, type } then the op's body. Trailing bytes after a
 * body are ignored, as ZooKeeper ignores them. Replies: ReplyHeader { xid, zxid, err },
 * then the op's response body only when err is 0. Notifications are replies with
 * xid -1 and a WatcherEvent body. The ConnectRequest and ConnectResponse have no header.
 *
 * A multi (and multiRead) is a sequence of MultiHeader { type, done, err } each
 * followed by its op's record, ended by { -1, true, -1 }. In a response every
 * result has a header: type is the op's code (or -1 for an ErrorResult, whose
 * body is ErrorResponse { err }), err its error code (0 unless an ErrorResult).
 */
import {
  AddWatchRequestCodec,
  AuthPacketCodec,
  type AddWatchRequest,
  type AuthPacket,
  type CheckVersionRequest,
  CheckVersionRequestCodec,
  type Codec,
  type ConnectRequest,
  ConnectRequestCodec,
  type ConnectResponse,
  ConnectResponseCodec,
  type Create2Response,
  Create2ResponseCodec,
  type CreateRequest,
  CreateRequestCodec,
  type CreateSessionRequest,
  CreateSessionRequestCodec,
  type CreateTTLRequest,
  CreateTTLRequestCodec,
  DeleteContainerRequestCodec,
  type DeleteRequest,
  DeleteRequestCodec,
  type Empty,
  EmptyCodec,
  type ErrorResponse,
  ErrorResponseCodec,
  type GetACLResponse,
  GetACLResponseCodec,
  type GetAllChildrenNumberResponse,
  GetAllChildrenNumberResponseCodec,
  type GetChildren2Response,
  GetChildren2ResponseCodec,
  type GetChildrenResponse,
  GetChildrenResponseCodec,
  type GetDataResponse,
  GetDataResponseCodec,
  type GetEphemeralsRequest,
  GetEphemeralsRequestCodec,
  type GetEphemeralsResponse,
  GetEphemeralsResponseCodec,
  MultiHeaderCodec,
  type PathRecord,
  PathRecordCodec,
  type PathWatchRequest,
  PathWatchRequestCodec,
  type ReconfigRequest,
  ReconfigRequestCodec,
  type ReplyHeader,
  ReplyHeaderCodec,
  RequestHeaderCodec,
  type SaslToken,
  SaslTokenCodec,
  type SetACLRequest,
  SetACLRequestCodec,
  type SetDataRequest,
  SetDataRequestCodec,
  type SetWatches,
  type SetWatches2,
  SetWatches2Codec,
  SetWatchesCodec,
  StatCodec,
  type StatResponse,
  StatResponseCodec,
  type WatcherEvent,
  WatcherEventCodec,
  type WatchesRequest,
  WatchesRequestCodec,
  type WhoAmIResponse,
  WhoAmIResponseCodec,
  type WireStat,
} from "./records.ts";
import { JuteFatalError, JuteMarshallingError, JuteUnimplementedError } from "./errors.ts";
import { ERROR_OP_CODE, OP_CODES, type JuteOpName, XIDS, opNameOf } from "./opcodes.ts";
import { JuteReader, JuteWriter } from "./primitives.ts";

// ---- multi ----

/** The ops a multi or multiRead may carry (MultiOperationRecord's list). */
export interface MultiOpBodies {
  create: CreateRequest;
  create2: CreateRequest;
  createContainer: CreateRequest;
  createTTL: CreateTTLRequest;
  delete: DeleteRequest;
  deleteContainer: DeleteRequest;
  setData: SetDataRequest;
  check: CheckVersionRequest;
  getData: PathWatchRequest;
  getChildren: PathWatchRequest;
}
/** One op of a jute MultiRequest: its op (the MultiHeader's type) and its body. */
export type JuteMultiItem = { [K in keyof MultiOpBodies]: { op: K; body: MultiOpBodies[K] } }[keyof MultiOpBodies];

export interface MultiRequest {
  ops: JuteMultiItem[];
}

const MULTI_OP_CODECS: { readonly [K in keyof MultiOpBodies]: Codec<MultiOpBodies[K]> } = {
  create: CreateRequestCodec,
  create2: CreateRequestCodec,
  createContainer: CreateRequestCodec,
  createTTL: CreateTTLRequestCodec,
  delete: DeleteRequestCodec,
  deleteContainer: DeleteRequestCodec,
  setData: SetDataRequestCodec,
  check: CheckVersionRequestCodec,
  getData: PathWatchRequestCodec,
  getChildren: PathWatchRequestCodec,
};

/** The end marker of a multi, each way. */
const MULTI_END = { type: -1, done: true, err: -1 };

export const MultiRequestCodec: Codec<MultiRequest> = {
  // A loop, not recursion: each step consumes at least a 9-byte header, so it ends.
  read: (r) => {
    const ops: JuteMultiItem[] = [];
    for (;;) {
      const header = MultiHeaderCodec.read(r);
      if (header.done) return { ops };
      const op = opNameOf(header.type);
      if (op === undefined || !(op in MULTI_OP_CODECS)) throw new JuteMarshallingError(`invalid op type ${header.type} in a multi`);
      const codec = MULTI_OP_CODECS[op as JuteMultiItem["op"]] as Codec<JuteMultiItem["body"]>;
      ops.push({ op, body: codec.read(r) } as JuteMultiItem);
    }
  },
  write: (w, m) => {
    for (const item of m.ops) {
      MultiHeaderCodec.write(w, { type: OP_CODES[item.op], done: false, err: -1 });
      (MULTI_OP_CODECS[item.op] as Codec<JuteMultiItem["body"]>).write(w, item.body);
    }
    MultiHeaderCodec.write(w, MULTI_END);
  },
};

/**
 * One result of a multi or multiRead. A create answers "create" (path) for op 1 and
 * "create2" (path and Stat) for create2, createContainer and createTTL, as ZooKeeper
 * does. In a failed multi every op answers "error": 0 for those before the failing
 * one, its code for it, RuntimeInconsistency (-2) after it.
 */
export type MultiResult =
  | { op: "create"; path: string }
  | { op: "create2"; path: string; stat: WireStat }
  | { op: "delete" }
  | { op: "check" }
  | { op: "setData"; stat: WireStat }
  | { op: "getData"; data: Uint8Array | null; stat: WireStat }
  | { op: "getChildren"; children: string[] }
  | { op: "error"; err: number };

export interface MultiResponse {
  results: MultiResult[];
}

export const MultiResponseCodec: Codec<MultiResponse> = {
  read: (r) => {
    const results: MultiResult[] = [];
    for (;;) {
      const header = MultiHeaderCodec.read(r);
      if (header.done) return { results };
      switch (header.type) {
        case OP_CODES.create:
          results.push({ op: "create", path: r.readString("path") });
          break;
        case OP_CODES.create2:
          results.push({ op: "create2", ...Create2ResponseCodec.read(r) });
          break;
        case OP_CODES.delete:
          results.push({ op: "delete" });
          break;
        case OP_CODES.check:
          results.push({ op: "check" });
          break;
        case OP_CODES.setData:
          results.push({ op: "setData", stat: StatCodec.read(r) });
          break;
        case OP_CODES.getData:
          results.push({ op: "getData", ...GetDataResponseCodec.read(r) });
          break;
        case OP_CODES.getChildren:
          results.push({ op: "getChildren", ...GetChildrenResponseCodec.read(r) });
          break;
        case ERROR_OP_CODE:
          results.push({ op: "error", err: ErrorResponseCodec.read(r).err });
          break;
        default:
          throw new JuteMarshallingError(`invalid result type ${header.type} in a multi response`);
      }
    }
  },
  write: (w, m) => {
    for (const result of m.results) {
      const type = result.op === "error" ? ERROR_OP_CODE : OP_CODES[result.op];
      MultiHeaderCodec.write(w, { type, done: false, err: result.op === "error" ? result.err : 0 });
      switch (result.op) {
        case "create":
          w.writeUString(result.path);
          break;
        case "create2":
          Create2ResponseCodec.write(w, result);
          break;
        case "setData":
          StatCodec.write(w, result.stat);
          break;
        case "getData":
          GetDataResponseCodec.write(w, result);
          break;
        case "getChildren":
          GetChildrenResponseCodec.write(w, result);
          break;
        case "error":
          ErrorResponseCodec.write(w, result);
          break;
        case "delete":
        case "check":
          break;
      }
    }
    MultiHeaderCodec.write(w, MULTI_END);
  },
};

// ---- the op table ----

export interface RequestBodies {
  create: CreateRequest;
  delete: DeleteRequest;
  exists: PathWatchRequest;
  getData: PathWatchRequest;
  setData: SetDataRequest;
  getACL: PathRecord;
  setACL: SetACLRequest;
  getChildren: PathWatchRequest;
  sync: PathRecord;
  ping: Empty;
  getChildren2: PathWatchRequest;
  check: CheckVersionRequest;
  multi: MultiRequest;
  create2: CreateRequest;
  reconfig: ReconfigRequest;
  checkWatches: WatchesRequest;
  removeWatches: WatchesRequest;
  createContainer: CreateRequest;
  deleteContainer: PathRecord;
  createTTL: CreateTTLRequest;
  multiRead: MultiRequest;
  auth: AuthPacket;
  setWatches: SetWatches;
  sasl: SaslToken;
  getEphemerals: GetEphemeralsRequest;
  getAllChildrenNumber: PathRecord;
  setWatches2: SetWatches2;
  addWatch: AddWatchRequest;
  whoAmI: Empty;
  createSession: CreateSessionRequest;
  closeSession: Empty;
}

export interface ResponseBodies {
  create: PathRecord;
  delete: Empty;
  exists: StatResponse;
  getData: GetDataResponse;
  setData: StatResponse;
  getACL: GetACLResponse;
  setACL: StatResponse;
  getChildren: GetChildrenResponse;
  sync: PathRecord;
  ping: Empty;
  getChildren2: GetChildren2Response;
  check: Empty;
  multi: MultiResponse;
  create2: Create2Response;
  /** What ZooKeeper answers a reconfig with (the new config); the bridge answers Unimplemented. */
  reconfig: GetDataResponse;
  checkWatches: Empty;
  removeWatches: Empty;
  createContainer: Create2Response;
  deleteContainer: Empty;
  createTTL: Create2Response;
  multiRead: MultiResponse;
  auth: Empty;
  setWatches: Empty;
  /** SetSASLResponse; decoded only. */
  sasl: SaslToken;
  getEphemerals: GetEphemeralsResponse;
  getAllChildrenNumber: GetAllChildrenNumberResponse;
  setWatches2: Empty;
  /** addWatch answers an ErrorResponse { err: 0 } body. */
  addWatch: ErrorResponse;
  whoAmI: WhoAmIResponse;
  createSession: Empty;
  closeSession: Empty;
}

export const REQUEST_CODECS: { readonly [K in JuteOpName]: Codec<RequestBodies[K]> } = {
  create: CreateRequestCodec,
  delete: DeleteRequestCodec,
  exists: PathWatchRequestCodec,
  getData: PathWatchRequestCodec,
  setData: SetDataRequestCodec,
  getACL: PathRecordCodec,
  setACL: SetACLRequestCodec,
  getChildren: PathWatchRequestCodec,
  sync: PathRecordCodec,
  ping: EmptyCodec,
  getChildren2: PathWatchRequestCodec,
  check: CheckVersionRequestCodec,
  multi: MultiRequestCodec,
  create2: CreateRequestCodec,
  reconfig: ReconfigRequestCodec,
  checkWatches: WatchesRequestCodec,
  removeWatches: WatchesRequestCodec,
  createContainer: CreateRequestCodec,
  deleteContainer: DeleteContainerRequestCodec,
  createTTL: CreateTTLRequestCodec,
  multiRead: MultiRequestCodec,
  auth: AuthPacketCodec,
  setWatches: SetWatchesCodec,
  sasl: SaslTokenCodec,
  getEphemerals: GetEphemeralsRequestCodec,
  getAllChildrenNumber: PathRecordCodec,
  setWatches2: SetWatches2Codec,
  addWatch: AddWatchRequestCodec,
  whoAmI: EmptyCodec,
  createSession: CreateSessionRequestCodec,
  closeSession: EmptyCodec,
};

export const RESPONSE_CODECS: { readonly [K in JuteOpName]: Codec<ResponseBodies[K]> } = {
  create: PathRecordCodec,
  delete: EmptyCodec,
  exists: StatResponseCodec,
  getData: GetDataResponseCodec,
  setData: StatResponseCodec,
  getACL: GetACLResponseCodec,
  setACL: StatResponseCodec,
  getChildren: GetChildrenResponseCodec,
  sync: PathRecordCodec,
  ping: EmptyCodec,
  getChildren2: GetChildren2ResponseCodec,
  check: EmptyCodec,
  multi: MultiResponseCodec,
  create2: Create2ResponseCodec,
  reconfig: GetDataResponseCodec,
  checkWatches: EmptyCodec,
  removeWatches: EmptyCodec,
  createContainer: Create2ResponseCodec,
  deleteContainer: EmptyCodec,
  createTTL: Create2ResponseCodec,
  multiRead: MultiResponseCodec,
  auth: EmptyCodec,
  setWatches: EmptyCodec,
  sasl: SaslTokenCodec,
  getEphemerals: GetEphemeralsResponseCodec,
  getAllChildrenNumber: GetAllChildrenNumberResponseCodec,
  setWatches2: EmptyCodec,
  addWatch: ErrorResponseCodec,
  whoAmI: WhoAmIResponseCodec,
  createSession: EmptyCodec,
  closeSession: EmptyCodec,
};

// ---- requests ----

/** A decoded request: its xid, its op, and its body. */
export type JuteRequest = { [K in JuteOpName]: { xid: number; op: K; body: RequestBodies[K] } }[JuteOpName];

/**
 * Decodes one request payload (after the length prefix).
 *
 * @throws JuteFatalError when the 8-byte header is incomplete (close, no reply)
 * @throws JuteUnimplementedError for an op code ZooKeeper does not know (reply, then close)
 * @throws JuteMarshallingError when the body does not parse (reply, keep the connection)
 */
export function decodeRequest(payload: Uint8Array): JuteRequest {
  const r = new JuteReader(payload);
  if (r.remaining < 8) throw new JuteFatalError("header", `a request of ${payload.byteLength} bytes has no complete header`);
  const header = RequestHeaderCodec.read(r);
  const op = opNameOf(header.type);
  if (op === undefined) throw new JuteUnimplementedError(header.xid, header.type);
  try {
    return { xid: header.xid, op, body: REQUEST_CODECS[op].read(r) } as JuteRequest;
  } catch (err) {
    if (err instanceof JuteMarshallingError) throw err.forRequest(header.xid, header.type);
    throw err;
  }
}

/** A request as a frame. */
export function encodeRequest(request: JuteRequest): Uint8Array {
  const w = new JuteWriter(true);
  RequestHeaderCodec.write(w, { xid: request.xid, type: OP_CODES[request.op] });
  (REQUEST_CODECS[request.op] as Codec<unknown>).write(w, request.body);
  return w.finish();
}

// ---- replies ----

/** A reply as a frame: the header, then the body when `header.err` is 0 (pass undefined otherwise). */
export function encodeReply<K extends JuteOpName>(header: ReplyHeader, op: K, body: ResponseBodies[K] | undefined): Uint8Array {
  const w = new JuteWriter(true);
  ReplyHeaderCodec.write(w, header);
  if (header.err === 0) {
    if (body === undefined) throw new TypeError(`a successful ${op} reply needs its body`);
    (RESPONSE_CODECS[op] as Codec<unknown>).write(w, body);
  }
  return w.finish();
}

/** A reply carrying only a header: an error, or an op whose response is empty. */
export function encodeReplyHeader(header: ReplyHeader): Uint8Array {
  const w = new JuteWriter(true);
  ReplyHeaderCodec.write(w, header);
  return w.finish();
}

/** A watch notification (xid -1). ZooKeeper 3.8 sends zxid -1 in its header. */
export function encodeNotification(event: WatcherEvent, zxid: bigint = -1n): Uint8Array {
  const w = new JuteWriter(true);
  ReplyHeaderCodec.write(w, { xid: XIDS.notification, zxid, err: 0 });
  WatcherEventCodec.write(w, event);
  return w.finish();
}

export function decodeReplyHeader(payload: Uint8Array): ReplyHeader {
  return ReplyHeaderCodec.read(new JuteReader(payload));
}

export interface Reply<K extends JuteOpName> {
  header: ReplyHeader;
  /** Absent when header.err is not 0: ZooKeeper sends no body with an error. */
  body: ResponseBodies[K] | undefined;
}

/** Decodes a reply to a request of op `op` (a client knows it by xid). */
export function decodeReply<K extends JuteOpName>(payload: Uint8Array, op: K): Reply<K> {
  const r = new JuteReader(payload);
  const header = ReplyHeaderCodec.read(r);
  if (header.err !== 0) return { header, body: undefined };
  return { header, body: RESPONSE_CODECS[op].read(r) };
}

/** Decodes a notification (a reply with xid -1). */
export function decodeNotification(payload: Uint8Array): { header: ReplyHeader; event: WatcherEvent } {
  const r = new JuteReader(payload);
  const header = ReplyHeaderCodec.read(r);
  if (header.xid !== XIDS.notification) throw new JuteMarshallingError(`xid ${header.xid} is not a notification`);
  return { header, event: WatcherEventCodec.read(r) };
}

// ---- session set-up ----

/** Decodes the first frame of a connection. Anything unreadable is fatal: there is no xid to answer. */
export function decodeConnectRequest(payload: Uint8Array): ConnectRequest {
  try {
    return ConnectRequestCodec.read(new JuteReader(payload));
  } catch (err) {
    if (err instanceof JuteMarshallingError) throw new JuteFatalError("connect", `bad ConnectRequest: ${err.message}`);
    throw err;
  }
}

export function encodeConnectRequest(request: ConnectRequest): Uint8Array {
  const w = new JuteWriter(true);
  ConnectRequestCodec.write(w, request);
  return w.finish();
}

export function decodeConnectResponse(payload: Uint8Array): ConnectResponse {
  return ConnectResponseCodec.read(new JuteReader(payload));
}

export function encodeConnectResponse(response: ConnectResponse): Uint8Array {
  const w = new JuteWriter(true);
  ConnectResponseCodec.write(w, response);
  return w.finish();
}
