/**
 * How the console shows values: one time format everywhere (ISO 8601, UTC), zxids and
 * session ids in hex as ZooKeeper prints them, a value as JSON, text or hex.
 */
import { type Acl, Perms, type Stat } from "edgekeeper/client";

/** Every time on the page: ISO 8601 in UTC, to the millisecond. */
export const isoTime = (ms: number): string => new Date(ms).toISOString();

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** A value as shown: its kind, and the text to show (JSON pretty-printed, hex for binary). */
export interface RenderedValue {
  kind: "empty" | "json" | "text" | "binary";
  text: string;
}

/**
 * UTF-8 text that parses as a JSON object or array is pretty-printed; other UTF-8
 * is text; anything else is binary, shown as hex bytes.
 *
 * @example
 * renderValue(new TextEncoder().encode('{"a":1}')); // { kind: "json", text: '{\n  "a": 1\n}' }
 */
export function renderValue(data: Uint8Array): RenderedValue {
  if (data.byteLength === 0) return { kind: "empty", text: "" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return { kind: "binary", text: hexDump(data) };
  }
  if (/^\s*[[{]/.test(text)) {
    try {
      return { kind: "json", text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      // not JSON after all: shown as text
    }
  }
  return { kind: "text", text };
}

/** Bytes as hex, 16 a line, with offsets, as xxd prints them. */
function hexDump(data: Uint8Array): string {
  const lines: string[] = [];
  for (let offset = 0; offset < data.byteLength; offset += 16) {
    const bytes = Array.from(data.subarray(offset, offset + 16), (b) => b.toString(16).padStart(2, "0"));
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${bytes.join(" ")}`);
  }
  return lines.join("\n");
}

/** A value in one line, for the event log. */
export function valueSummary(data: Uint8Array, maxChars = 120): string {
  const { kind, text } = renderValue(data);
  if (kind === "empty") return "(empty)";
  const line = kind === "json" ? JSON.stringify(JSON.parse(text)) : kind === "binary" ? `${data.byteLength} bytes, binary` : text.replace(/\s+/g, " ");
  return line.length > maxChars ? `${line.slice(0, maxChars)}…` : line;
}

type StatField = keyof Stat;
const ZXID = hex;

/** The Stat's fields in zkCli's order, each with how it is shown. */
export const STAT_ROWS: readonly [StatField, (n: number) => string][] = [
  ["czxid", ZXID],
  ["mzxid", ZXID],
  ["pzxid", ZXID],
  ["ctime", isoTime],
  ["mtime", isoTime],
  ["version", String],
  ["cversion", String],
  ["aversion", String],
  ["ephemeralOwner", hex],
  ["dataLength", String],
  ["numChildren", String],
];

/** ACL permissions as zkCli's getAcl prints them: `cdrwa`. */
export function permsText(perms: number): string {
  const letters: [number, string][] = [
    [Perms.CREATE, "c"],
    [Perms.DELETE, "d"],
    [Perms.READ, "r"],
    [Perms.WRITE, "w"],
    [Perms.ADMIN, "a"],
  ];
  return letters.map(([bit, letter]) => (perms & bit ? letter : "")).join("");
}

export const aclText = (acl: Acl): string => `${acl.scheme}:${acl.id}`;
