/**
 * Splitting a byte stream into frames: a 4-byte big-endian length, then that many
 * bytes. A length below 1 or above maxBuffer (jute.maxbuffer, 1 MiB less one byte
 * by default) is fatal, and detected as soon as its 4 bytes arrive, before any
 * body is buffered. A connection's first 4 bytes may instead be a four-letter word
 * ("ruok" reads as 0x72756f6b): the error carries the length read, so the bridge
 * can tell.
 */
import { JuteFatalError } from "./errors.ts";
import { DEFAULT_MAX_BUFFER } from "./opcodes.ts";

/** Throws JuteFatalError unless 1 <= length <= maxBuffer. */
export function checkFrameLength(length: number, maxBuffer: number = DEFAULT_MAX_BUFFER): void {
  if (length < 1 || length > maxBuffer) {
    throw new JuteFatalError("frame-length", `frame length ${length} is outside 1..${maxBuffer}`, length);
  }
}

export class FrameSplitter {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** The length of the frame being received, once its prefix was read. */
  private expected: number | undefined;
  private failed: JuteFatalError | undefined;

  readonly maxBuffer: number;

  constructor(maxBuffer: number = DEFAULT_MAX_BUFFER) {
    this.maxBuffer = maxBuffer;
  }

  /** Bytes received and not yet returned as frames (a length prefix already read included). */
  get pending(): number {
    return this.buffered + (this.expected === undefined ? 0 : 4);
  }

  /**
   * Adds bytes from the stream; returns the payloads (without length prefix) of
   * every frame now complete, in order. After a fatal error every push throws it again.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < 4) break;
        const prefix = this.take(4);
        const length = new DataView(prefix.buffer, prefix.byteOffset, 4).getInt32(0);
        try {
          checkFrameLength(length, this.maxBuffer);
        } catch (err) {
          this.failed = err as JuteFatalError;
          this.chunks = [];
          this.buffered = 0;
          throw err;
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = undefined;
    }
    return frames;
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.byteLength > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.byteLength, n - filled);
      out.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    this.buffered -= n;
    return out;
  }
}
