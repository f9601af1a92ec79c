/**
 * Every ZooKeeper request as session ops: what to send upstream, and how to turn the
 * answers into ZooKeeper's reply (header xid, the session's zxid view, err; a body
 * only when err is 0). Ops the host does not need (checkWatches, whoAmI, sasl,
 * reconfig, deleteContainer) are answered here, as ZooKeeper 3.8 answers them.
 */
import type { Acl } from "../../protocol/acl.ts";
import { bytesToBase64, base64ToBytes } from "../../protocol/encoding.ts";
import { KEEPER_ERRORS, KeeperError, type KeeperErrorBody } from "../../protocol/errors.ts";
import {
  ADD_WATCH_MODES,
  type JuteMultiItem,
  type JuteOpName,
  type JuteRequest,
  type MultiResult,
  type ResponseBodies,
  XIDS,
  encodeReply,
  encodeReplyHeader,
  toWireStat,
} from "../../protocol/jute/index.ts";
import { type CreateMode, parseCreateMode } from "../../protocol/modes.ts";
import type { MultiItemResult, WithBase64 } from "../../protocol/operations.ts";
import type { SessionOp, SessionResult } from "../../protocol/session-protocol.ts";
import type { Stat } from "../../protocol/stat.ts";
import { type BridgeSession, type ResMessage, resultFor } from "./session.ts";
import { setWatchesPlan } from "./set-watches.ts";
import { watchKindOfType } from "./watches.ts";

/** What a request's answer is: frames to write (in order), and whether to close after them. */
export interface Answer {
  frames: Uint8Array[];
  close?: boolean;
}

/** How to answer one request: at once, or after the answers to `ops` (sent upstream in order). */
export type Plan =
  | { kind: "local"; answer: (session: BridgeSession) => Answer }
  | { kind: "upstream"; ops: SessionOp[]; answer: (answers: ResMessage[], session: BridgeSession) => Answer };

const utf8 = new TextDecoder();

export function errorAnswer(xid: number, zxid: number, err: number, close = false): Answer {
  return { frames: [encodeReplyHeader({ xid, zxid: BigInt(zxid), err })], close };
}

/**
 * A reply frame as the client can read it: one longer than jute.maxbuffer (the
 * bridge's, which ZooKeeper's clients share by default) becomes BadArguments for its
 * xid. Sent as it is, ZooKeeper's Java client would drop the connection ("Packet len
 * is out of range"), and retrying the read would drop it again.
 *
 * @example
 * socket.write(fitToBuffer(frame, 0xfffff));
 */
export function fitToBuffer(frame: Uint8Array, maxBuffer: number): Uint8Array {
  if (frame.byteLength - 4 <= maxBuffer) return frame;
  // A reply frame is its length, then the ReplyHeader: xid (int), zxid (long), err (int).
  const header = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return encodeReplyHeader({ xid: header.getInt32(4), zxid: header.getBigInt64(8), err: KEEPER_ERRORS.BadArguments.code });
}

function reply<K extends JuteOpName>(xid: number, session: BridgeSession, op: K, body: ResponseBodies[K]): Answer {
  return { frames: [encodeReply({ xid, zxid: BigInt(session.zxid), err: 0 }, op, body)] };
}

function codeOf(error: KeeperErrorBody | undefined): number {
  return typeof error?.code === "number" ? error.code : KEEPER_ERRORS.SystemError.code;
}

const stat = (value: { stat: Stat }): ReturnType<typeof toWireStat> => toWireStat(value.stat);
/** A value from the host: base64, or null for ZooKeeper's null value (sent as a -1 length). */
const data = (value: { data: string | null }): Uint8Array | null => (typeof value.data === "string" ? base64ToBytes(value.data) : null);
/** A value for the host: ZooKeeper's null (a -1 length, kazoo's None, Java's null) stays null. */
const upstreamData = (bytes: Uint8Array | null): string | null => (bytes === null ? null : bytesToBase64(bytes));

/** One upstream op whose success becomes `body(value)`; a failure becomes its error code. */
function single<K extends JuteOpName, O extends SessionOp>(
  xid: number,
  op: K,
  upstream: O,
  body: (value: SessionResult<O>, session: BridgeSession) => ResponseBodies[K] | KeeperError,
): Plan {
  return {
    kind: "upstream",
    ops: [upstream],
    answer: ([res], session) => {
      const answer = resultFor(upstream, res!);
      if (!answer.ok) return errorAnswer(xid, session.zxid, codeOf(answer.error));
      const out = body(answer.value, session);
      if (out instanceof KeeperError) return errorAnswer(xid, session.zxid, out.code);
      return reply(xid, session, op, out);
    },
  };
}

function local(answer: (session: BridgeSession) => Answer): Plan {
  return { kind: "local", answer };
}

/** A create's mode from its flags (BadArguments for flags ZooKeeper does not know). */
function createMode(flags: number): CreateMode {
  return parseCreateMode(flags);
}

function createOp(body: { path: string; data: Uint8Array | null; acl: Acl[]; flags: number }, ttl?: bigint): Extract<SessionOp, { op: "create" }> {
  const op: Extract<SessionOp, { op: "create" }> = { op: "create", path: body.path, data: upstreamData(body.data), acl: body.acl, mode: createMode(body.flags) };
  if (ttl !== undefined) {
    if (ttl > BigInt(Number.MAX_SAFE_INTEGER) || ttl < BigInt(Number.MIN_SAFE_INTEGER)) throw new KeeperError("BadArguments", "ttl out of range");
    op.ttlMs = Number(ttl);
  }
  return op;
}

type MultiWrite = Extract<SessionOp, { op: "multi" }>["ops"][number];

function multiWriteOp(item: JuteMultiItem): MultiWrite {
  switch (item.op) {
    case "create":
    case "create2":
    case "createContainer":
      return createOp(item.body);
    case "createTTL":
      return createOp(item.body, item.body.ttl);
    case "delete":
      return { op: "delete", path: item.body.path, version: item.body.version };
    case "setData":
      return { op: "setData", path: item.body.path, data: upstreamData(item.body.data), version: item.body.version };
    case "check":
      return { op: "check", path: item.body.path, version: item.body.version };
    default:
      throw new KeeperError("BadArguments", `${item.op} in a multi`);
  }
}

/** A multi's results: create (op 1) answers its path only; create2, createContainer and createTTL path and Stat. */
function multiResults(ops: JuteMultiItem[], results: WithBase64<MultiItemResult>[]): MultiResult[] {
  return results.map((result, i): MultiResult => {
    switch (result.op) {
      case "create":
        return ops[i]?.op === "create" ? { op: "create", path: result.path } : { op: "create2", path: result.path, stat: stat(result) };
      case "delete":
        return { op: "delete" };
      case "check":
        return { op: "check" };
      case "setData":
        return { op: "setData", stat: stat(result) };
      case "getData":
        return { op: "getData", data: data(result), stat: stat(result) };
      case "getChildren":
        return { op: "getChildren", children: result.children };
      case "error":
        return { op: "error", err: codeOf(result.error) };
    }
  });
}

function multiPlan(xid: number, ops: JuteMultiItem[]): Plan {
  const upstream: MultiWrite[] = [];
  for (let at = 0; at < ops.length; at++) {
    try {
      upstream.push(multiWriteOp(ops[at]!));
    } catch (error) {
      // ZooKeeper fails the multi at that op: 0 before it, the error, -2 after it.
      const code = error instanceof KeeperError ? error.code : KEEPER_ERRORS.BadArguments.code;
      const results: MultiResult[] = ops.map((_, i) => ({ op: "error", err: i < at ? 0 : i === at ? code : KEEPER_ERRORS.RuntimeInconsistency.code }));
      return local((session) => reply(xid, session, "multi", { results }));
    }
  }
  const multi = { op: "multi" as const, ops: upstream };
  return {
    kind: "upstream",
    ops: [multi],
    answer: ([res], session) => {
      const answer = resultFor(multi, res!);
      if (answer.ok) return reply(xid, session, "multi", { results: multiResults(ops, answer.value.results) });
      if (!answer.results) return errorAnswer(xid, session.zxid, codeOf(answer.error));
      // A failed multi: err 0 in the header, one ErrorResult per op.
      return reply(xid, session, "multi", { results: answer.results.map((r) => ({ op: "error", err: codeOf(r.op === "error" ? r.error : undefined) })) });
    },
  };
}

function multiReadPlan(xid: number, ops: JuteMultiItem[]): Plan {
  const upstream: { op: "getData" | "getChildren"; path: string }[] = [];
  for (const item of ops) {
    if (item.op !== "getData" && item.op !== "getChildren") return local((session) => errorAnswer(xid, session.zxid, KEEPER_ERRORS.BadArguments.code));
    upstream.push({ op: item.op, path: item.body.path });
  }
  return single(xid, "multiRead", { op: "multiRead", ops: upstream }, (value) => ({ results: multiResults(ops, value.results) }));
}

/**
 * The plan for one decoded request (not ping, auth or closeSession, which the
 * connection handles itself).
 *
 * @throws KeeperError for a request refused before anything is sent (e.g. bad create flags)
 */
export function planRequest(request: JuteRequest, remote: string): Plan {
  const xid = request.xid;
  switch (request.op) {
    case "create":
      return single(xid, "create", createOp(request.body), (v) => ({ path: v.path }));
    case "create2":
    case "createContainer": {
      const op = request.op;
      return single(xid, op, createOp(request.body), (v) => ({ path: v.path, stat: stat(v) }));
    }
    case "createTTL":
      return single(xid, "createTTL", createOp(request.body, request.body.ttl), (v) => ({ path: v.path, stat: stat(v) }));
    case "delete":
      return single(xid, "delete", { op: "delete", path: request.body.path, version: request.body.version }, () => ({}));
    case "check":
      return single(xid, "check", { op: "check", path: request.body.path, version: request.body.version }, () => ({}));
    case "exists": {
      const { path, watch } = request.body;
      return single(xid, "exists", { op: "exists", path, watch }, (v, session) => {
        if (watch) session.watches.add(path, "data"); // exists leaves a watch on a missing node too
        return v.stat ? { stat: toWireStat(v.stat) } : new KeeperError("NoNode", path);
      });
    }
    case "getData": {
      const { path, watch } = request.body;
      return single(xid, "getData", { op: "getData", path, watch }, (v, session) => {
        if (watch) session.watches.add(path, "data");
        return { data: data(v), stat: stat(v) };
      });
    }
    case "getChildren":
    case "getChildren2": {
      const { path, watch } = request.body;
      const op = request.op;
      return single(xid, op, { op: "getChildren", path, watch }, (v, session) => {
        if (watch) session.watches.add(path, "child");
        return op === "getChildren" ? { children: v.children } : { children: v.children, stat: stat(v) };
      });
    }
    case "setData":
      return single(xid, "setData", { op: "setData", path: request.body.path, data: upstreamData(request.body.data), version: request.body.version }, (v) => ({ stat: stat(v) }));
    case "getACL":
      return single(xid, "getACL", { op: "getACL", path: request.body.path }, (v) => ({ acl: v.acl, stat: stat(v) }));
    case "setACL":
      return single(xid, "setACL", { op: "setACL", path: request.body.path, acl: request.body.acl, version: request.body.version }, (v) => ({ stat: stat(v) }));
    case "sync":
      return single(xid, "sync", { op: "sync", path: request.body.path }, () => ({ path: request.body.path }));
    case "multi":
      return multiPlan(xid, request.body.ops);
    case "multiRead":
      return multiReadPlan(xid, request.body.ops);
    case "getEphemerals":
      return single(xid, "getEphemerals", { op: "getEphemerals", prefix: request.body.prefixPath }, (v) => ({ ephemerals: v.paths }));
    case "getAllChildrenNumber":
      return single(xid, "getAllChildrenNumber", { op: "getAllChildrenNumber", path: request.body.path }, (v) => ({ totalNumber: v.count }));
    case "addWatch": {
      const { path, mode } = request.body;
      if (mode !== ADD_WATCH_MODES.PERSISTENT && mode !== ADD_WATCH_MODES.PERSISTENT_RECURSIVE) {
        return local((session) => errorAnswer(xid, session.zxid, KEEPER_ERRORS.BadArguments.code));
      }
      const kind = mode === ADD_WATCH_MODES.PERSISTENT ? "persistent" : "recursive";
      return single(xid, "addWatch", { op: "addWatch", path, mode: kind }, (_v, session) => {
        session.watches.add(path, kind);
        return { err: 0 };
      });
    }
    case "removeWatches": {
      const { path, type } = request.body;
      const kind = watchKindOfType(type);
      if (kind === undefined) return local((session) => errorAnswer(xid, session.zxid, KEEPER_ERRORS.BadArguments.code));
      return single(xid, "removeWatches", { op: "removeWatches", path, kind }, (_v, session) => {
        session.watches.remove(path, kind);
        return {};
      });
    }
    case "checkWatches": {
      const { path, type } = request.body;
      return local((session) =>
        session.watches.has(path, type) ? errorAnswer(xid, session.zxid, 0) : errorAnswer(xid, session.zxid, KEEPER_ERRORS.NoWatcher.code),
      );
    }
    case "setWatches":
      return setWatchesPlan(xid, { ...request.body, persistentWatches: [], persistentRecursiveWatches: [] });
    case "setWatches2":
      return setWatchesPlan(xid, request.body);
    case "whoAmI":
      return local((session) =>
        reply(xid, session, "whoAmI", {
          clientInfo: [{ authScheme: "ip", user: remote }, ...session.digestUsers.map((user) => ({ authScheme: "digest", user }))],
        }),
      );
    case "sasl":
      // ZooKeeper 3.8 without a SASL server answers with an empty token.
      return local((session) => reply(xid, session, "sasl", { token: new Uint8Array(0) }));
    case "reconfig":
      return local((session) => errorAnswer(xid, session.zxid, KEEPER_ERRORS.ReconfigDisabled.code));
    case "deleteContainer":
      // 3.8 reads a client's deleteContainer path with the request header in front: never a valid path.
      return local((session) => errorAnswer(xid, session.zxid, KEEPER_ERRORS.BadArguments.code));
    default:
      // createSession and anything else a client should not send.
      return local((session) => errorAnswer(xid, session.zxid, KEEPER_ERRORS.Unimplemented.code, true));
  }
}

/** The digest auth packet's credentials ("user:password"); the user, for whoAmI. */
export function digestUser(credentials: Uint8Array): string {
  const text = utf8.decode(credentials);
  const colon = text.indexOf(":");
  return colon < 0 ? text : text.slice(0, colon);
}

export { XIDS };
