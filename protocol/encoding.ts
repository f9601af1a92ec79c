/**
 * Znode values in JSON: UTF-8 text or base64, named by an `encoding` field.
 */
import { KeeperError } from "./errors.ts";
import type { Value } from "./operations.ts";

export type DataEncoding = "utf8" | "base64";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  // apply takes the typed array as it is; a spread would walk it by iterator (several times slower).
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

export function base64ToBytes(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new KeeperError("MarshallingError", "data is not valid base64");
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Decodes a JSON value field. Missing data is empty; null is ZooKeeper's null value.
 *
 * @example
 * decodeData("aGk=", "base64"); // Uint8Array [104, 105]
 */
export function decodeData(data: unknown, encoding: unknown): Value {
  if (data === undefined) return new Uint8Array(0);
  if (data === null) return null;
  if (typeof data !== "string") throw new KeeperError("MarshallingError", "data must be a string (UTF-8 text, or base64 with encoding: \"base64\")");
  if (encoding === undefined || encoding === "utf8") return encoder.encode(data);
  if (encoding === "base64") return base64ToBytes(data);
  throw new KeeperError("MarshallingError", `unknown encoding ${JSON.stringify(encoding)}; use "utf8" or "base64"`);
}

/**
 * Encodes a value for JSON: as UTF-8 text when asked and possible, else base64.
 * The returned encoding says which. ZooKeeper's null value stays null.
 */
export function encodeData(bytes: Value, preferred: DataEncoding = "utf8"): { data: string | null; encoding: DataEncoding } {
  if (bytes === null) return { data: null, encoding: preferred };
  if (preferred === "utf8") {
    try {
      return { data: decoder.decode(bytes), encoding: "utf8" };
    } catch {
      // not valid UTF-8: fall through to base64
    }
  }
  return { data: bytesToBase64(bytes), encoding: "base64" };
}
