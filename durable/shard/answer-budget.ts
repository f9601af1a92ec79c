/**
 * The bytes one answer of a shard may still carry (Limits.maxAnswerBytes), charged
 * while the answer is built: a read stops at the value or name that takes it over
 * the cap, so a multiRead of a thousand large values, or the children of a huge
 * node, never sits in memory whole.
 */

/** What one result costs besides its values and names: a Stat (68 bytes on the wire) and framing. */
export const RESULT_OVERHEAD_BYTES = 100;

const encoder = new TextEncoder();

/** Bytes of a name or path as it goes out (UTF-8) plus its length prefix. */
export function nameBytes(name: string): number {
  return encoder.encode(name).byteLength + 4;
}

/** Thrown by `charge` when an answer would go over the cap; the read that threw is not answered. */
export class AnswerOverBudget extends Error {
  constructor(maxBytes: number) {
    super(`the answer would exceed ${maxBytes} bytes (EDGEKEEPER_MAX_ANSWER_BYTES): read fewer nodes at once`);
  }
}

/**
 * One batch's budget: every read charges it as it reads, every write adds its
 * (small) answer after the fact, since a committed write cannot be taken back.
 *
 * @example
 * const budget = new AnswerBudget(8 * 1024 * 1024);
 * budget.charge(value.byteLength + RESULT_OVERHEAD_BYTES); // throws AnswerOverBudget past the cap
 */
export class AnswerBudget {
  readonly maxBytes: number;
  private spentBytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get spent(): number {
    return this.spentBytes;
  }

  /** Charges `bytes` of a read's answer; throws AnswerOverBudget once the total passes the cap. */
  charge(bytes: number): void {
    this.spentBytes += bytes;
    if (this.spentBytes > this.maxBytes) throw new AnswerOverBudget(this.maxBytes);
  }

  /** Adds a write's answer, which is already committed: never throws, but later reads see it. */
  add(bytes: number): void {
    this.spentBytes += bytes;
  }

  /** Forgets what a read charged before it was called off (`spent` as it was before the read). */
  resetTo(spent: number): void {
    this.spentBytes = spent;
  }
}
