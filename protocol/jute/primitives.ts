/**
 * Jute's primitives, big-endian as BinaryInputArchive/BinaryOutputArchive write them:
 * int (4 bytes), long (8 bytes, read as bigint), boolean (1 byte; any non-zero is
 * true, as Java's readBoolean), buffer and ustring (int length then bytes; -1 is
 * null), vector (int count then elements; -1 is null).
 *
 * Every jute long is a bigint here: session ids are 56-bit values in ZooKeeper
 * (server id << 56 | time bits) and would lose bits as numbers. `longToNumber`
 * converts where the value is known to be safe (edgekeeper's own zxids and session
 * ids are).
 *
 * Reading never allocates more than the bytes that remain: every length and count
 * is checked against them first. Strings are decoded as UTF-8 with replacement
 * (invalid sequences become U+FFFD, as Java's new String(bytes, UTF_8)); a leading
 * BOM is kept, not stripped.
 */
import { JuteMarshallingError } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const encoder = new TextEncoder();

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** A bigint long as a number, if it is exactly representable; RangeError otherwise. */
export function longToNumber(value: bigint, what = "long"): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what} ${value} is beyond Number.MAX_SAFE_INTEGER; keep it as a bigint`);
  }
  return Number(value);
}

/** A number or bigint as a jute long; RangeError unless it is an integer in 64-bit range. */
export function toLong(value: number | bigint, what = "long"): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`${what} ${value} is not a safe integer; pass a bigint`);
  }
  const big = BigInt(value);
  if (big < LONG_MIN || big > LONG_MAX) throw new RangeError(`${what} ${value} does not fit in 64 bits`);
  return big;
}

export class JuteReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new JuteMarshallingError(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} remain`);
    }
  }

  readInt(what = "int"): number {
    this.need(4, what);
    const value = this.view.getInt32(this.pos);
    this.pos += 4;
    return value;
  }

  readLong(what = "long"): bigint {
    this.need(8, what);
    const value = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return value;
  }

  readBool(what = "boolean"): boolean {
    this.need(1, what);
    return this.bytes[this.pos++] !== 0;
  }

  /** The bytes of a length-prefixed field (copied: the frame may be reused), or null for -1. */
  readBuffer(what = "buffer"): Uint8Array | null {
    const start = this.pos;
    const length = this.readInt(`${what} length`);
    if (length === -1) return null;
    if (length < 0 || length > this.remaining) {
      this.pos = start;
      throw new JuteMarshallingError(`unreasonable ${what} length ${length} at offset ${start}, ${this.remaining - 4} bytes remain`);
    }
    const value = this.bytes.slice(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  /** A ustring, or null for -1. */
  readUString(what = "ustring"): string | null {
    const bytes = this.readBuffer(what);
    return bytes === null ? null : utf8.decode(bytes);
  }

  /** A ustring that must be present: null is a MarshallingError (as a null path is). */
  readString(what = "ustring"): string {
    const value = this.readUString(what);
    if (value === null) throw new JuteMarshallingError(`${what} is null`);
    return value;
  }

  /**
   * A vector: null for -1; other negative counts read as empty, as ZooKeeper's
   * BinaryIndex does. `minElementBytes` (the smallest encoding of one element)
   * bounds the count by the bytes remaining before anything is allocated.
   */
  readVector<T>(what: string, minElementBytes: number, readElement: (r: JuteReader) => T): T[] | null {
    const start = this.pos;
    const count = this.readInt(`${what} count`);
    if (count === -1) return null;
    if (count <= 0) return [];
    if (count > Math.floor(this.remaining / minElementBytes)) {
      this.pos = start;
      throw new JuteMarshallingError(`unreasonable ${what} count ${count} at offset ${start}, ${this.remaining - 4} bytes remain`);
    }
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(readElement(this));
    return items;
  }

  /** The rest of the input, decoded as UTF-8 (deleteContainer's raw path). */
  readRestAsString(): string {
    const value = utf8.decode(this.bytes.subarray(this.pos));
    this.pos = this.bytes.byteLength;
    return value;
  }
}

export class JuteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos: number;
  private readonly framed: boolean;

  /** With `framed`, the output starts with a 4-byte big-endian length of what follows. */
  constructor(framed = false, initialSize = 256) {
    this.framed = framed;
    this.buf = new Uint8Array(Math.max(initialSize, 8));
    this.view = new DataView(this.buf.buffer);
    this.pos = framed ? 4 : 0;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  writeInt(value: number, what = "int"): this {
    if (!Number.isInteger(value) || value < INT_MIN || value > INT_MAX) throw new RangeError(`${what} ${value} is not a 32-bit integer`);
    this.reserve(4);
    this.view.setInt32(this.pos, value);
    this.pos += 4;
    return this;
  }

  writeLong(value: bigint | number, what = "long"): this {
    const big = toLong(value, what);
    this.reserve(8);
    this.view.setBigInt64(this.pos, big);
    this.pos += 8;
    return this;
  }

  writeBool(value: boolean): this {
    this.reserve(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  writeBuffer(value: Uint8Array | null): this {
    if (value === null) return this.writeInt(-1);
    this.writeInt(value.byteLength);
    this.writeRaw(value);
    return this;
  }

  /** A ustring; lone surrogates are encoded as U+FFFD (TextEncoder's rule). */
  writeUString(value: string | null): this {
    return this.writeBuffer(value === null ? null : encoder.encode(value));
  }

  writeVector<T>(items: readonly T[] | null, writeElement: (w: JuteWriter, item: T) => void): this {
    if (items === null) return this.writeInt(-1);
    this.writeInt(items.length);
    for (const item of items) writeElement(this, item);
    return this;
  }

  writeRaw(bytes: Uint8Array): this {
    this.reserve(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
    return this;
  }

  /** The bytes written (with the length prefix filled in when framed). */
  finish(): Uint8Array {
    if (this.framed) this.view.setInt32(0, this.pos - 4);
    return this.buf.slice(0, this.pos);
  }
}
