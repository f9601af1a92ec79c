/**
 * Reading and writing snapshot files (protocol/snapshot.ts) as streams, so a file
 * of any size takes little memory; and the progress lines long runs print.
 */
import { once } from "node:events";
import { createReadStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { SnapshotChecker, type SnapshotCheck, type SnapshotNode, type SnapshotShard } from "../../protocol/index.ts";

/** The file's lines, one at a time. */
export async function* linesOf(file: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  try {
    yield* lines;
  } finally {
    lines.close();
  }
}

/**
 * Checks a whole file before anything is done with it; a KeeperError names the
 * first wrong line. Limits are left to the server (a deployment sets its own).
 */
export async function checkFile(file: string, onNode?: (node: SnapshotNode, shard: SnapshotShard) => void): Promise<SnapshotCheck> {
  const checker = new SnapshotChecker({ maxPathBytes: Infinity, maxPathDepth: Infinity, maxValueBytes: Infinity, maxAclEntries: Infinity });
  for await (const line of linesOf(file)) checker.line(line, onNode);
  return checker.finish();
}

/** Writes a line, waiting while the stream's buffer is full. */
export async function writeLine(out: WriteStream, value: unknown): Promise<void> {
  if (!out.write(`${JSON.stringify(value)}\n`)) await once(out, "drain");
}

/** Progress on stderr: at most a line a second while running, and one at the end. */
export class Progress {
  private readonly verb: string;
  private readonly quiet: boolean;
  private readonly started = Date.now();
  private lastShown = Date.now();
  count = 0;

  constructor(verb: string, quiet: boolean) {
    this.verb = verb;
    this.quiet = quiet;
  }

  add(n: number, where: string): void {
    this.count += n;
    if (this.quiet || Date.now() - this.lastShown < 1000) return;
    this.lastShown = Date.now();
    process.stderr.write(`${this.verb} ${this.count} nodes (${where}), ${this.elapsed()}\n`);
  }

  done(what: string): void {
    if (!this.quiet) process.stderr.write(`${this.verb} ${this.count} nodes ${what} in ${this.elapsed()}\n`);
  }

  private elapsed(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1)} s`;
  }
}
