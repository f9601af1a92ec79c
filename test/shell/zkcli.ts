/**
 * Runs our shell as the harness runs zkCli.sh (harness/zk-clients.ts), and puts
 * both outputs in one shape for comparison: times, zxids and session ids normalised, the server's name replaced,
 * Java's logging noise dropped.
 */
import { type Run, run } from "../harness/zk-clients.ts";

/** `npx edgekeeper shell -server <server> args...` from the repository, as a user runs it. */
export function shell(server: string, args: readonly string[], input = ""): Promise<Run> {
  return run("npx", ["edgekeeper", "shell", "-server", server, ...args], input);
}

const JAVA_DATE = /^(c|m)time = [A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}$/;

/** One output stream with what legitimately differs between two servers replaced. */
export function normalise(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => !line.startsWith("SLF4J:"))
    .map((line) =>
      line
        .replace(/^Connecting to .*/, "Connecting to SERVER")
        .replace(/^([cmp]Zxid) = 0x[0-9a-f]+$/, "$1 = 0xZXID")
        .replace(JAVA_DATE, "$1time = DATE")
        .replace(/^ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*$/, "ephemeralOwner = 0xSESSION"),
    );
}

/** The block zkCli's watcher prints once the session is open. */
export const CONNECTED_BLOCK = ["", "WATCHER::", "", "WatchedEvent state:SyncConnected type:None path:null"];

/**
 * Drops the connected block: zkCli prints it from another thread, so where it lands
 * (or whether, before a usage error) is a race, and a process that exits meanwhile may
 * leave only its first lines, at the end of the output.
 */
export function withoutConnectedBlock(lines: string[]): string[] {
  const out = [...lines];
  // The empty string after the output's last newline is no line of the block.
  const endsWithNewline = out.at(-1) === "";
  if (endsWithNewline) out.pop();
  for (let i = 0; i < out.length; i++) {
    const whole = i + CONNECTED_BLOCK.length <= out.length && CONNECTED_BLOCK.every((l, j) => out[i + j] === l);
    const cutShort = out.length - i >= 2 && out.slice(i).every((l, j) => CONNECTED_BLOCK[j] === l);
    if (whole || cutShort) {
      out.splice(i, whole ? CONNECTED_BLOCK.length : out.length - i);
      break;
    }
  }
  if (endsWithNewline) out.push("");
  return out;
}
