/**
 * The codec's typed errors. Each tells the bridge what to do with the connection:
 *
 * - `JuteFatalError`: close the connection without a reply (a frame length below 1
 *   or above jute.maxbuffer, an unreadable request header or ConnectRequest).
 * - `JuteMarshallingError`: reply MarshallingError (-5) to `xid` and keep the
 *   connection open, as ZooKeeper does for a body that does not parse.
 * - `JuteUnimplementedError`: reply Unimplemented (-6) to `xid`, then close.
 *
 * Decoding throws nothing else on any input.
 */
import { KeeperError } from "../errors.ts";

export type FatalReason = "frame-length" | "header" | "connect";

export class JuteFatalError extends Error {
  override name = "JuteFatalError";
  /** For "frame-length": the length prefix read (the first 4 bytes may be a four-letter word). */
  readonly length: number | undefined;
  readonly reason: FatalReason;

  constructor(reason: FatalReason, detail: string, length?: number) {
    super(detail);
    this.reason = reason;
    this.length = length;
  }
}

export class JuteMarshallingError extends KeeperError {
  /** The request's xid, once its header was read. */
  readonly xid: number | undefined;
  /** The request's op code, once its header was read. */
  readonly opCode: number | undefined;

  constructor(detail: string, xid?: number, opCode?: number) {
    super("MarshallingError", detail);
    this.xid = xid;
    this.opCode = opCode;
  }

  /** The same error, now knowing which request it belongs to. */
  forRequest(xid: number, opCode: number): JuteMarshallingError {
    return new JuteMarshallingError(this.message, xid, opCode);
  }
}

export class JuteUnimplementedError extends KeeperError {
  readonly xid: number;
  readonly opCode: number;

  constructor(xid: number, opCode: number) {
    super("Unimplemented", `unknown op code ${opCode}`);
    this.xid = xid;
    this.opCode = opCode;
  }
}

/** True for the errors decoding may throw; anything else is a bug. */
export function isJuteError(err: unknown): err is JuteFatalError | JuteMarshallingError | JuteUnimplementedError {
  return err instanceof JuteFatalError || err instanceof JuteMarshallingError || err instanceof JuteUnimplementedError;
}
