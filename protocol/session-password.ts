/**
 * A session's password: 16 random bytes, as ZooKeeper's. Hosts and JSON carry it as
 * text (base64url without padding, 22 characters); the ZooKeeper wire carries the
 * 16 raw bytes, in the ConnectResponse and back in a resuming ConnectRequest.
 */

export const SESSION_PASSWORD_BYTES = 16;

/**
 * The text form of password bytes.
 *
 * @example
 * sessionPasswordText(new Uint8Array(16)); // "AAAAAAAAAAAAAAAAAAAAAA"
 */
export function sessionPasswordText(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The bytes of a password's text form; text that is not base64url decodes to no
 * bytes, which matches no password.
 *
 * @example
 * sessionPasswordBytes("AAAAAAAAAAAAAAAAAAAAAA").byteLength; // 16
 */
export function sessionPasswordBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return new Uint8Array(0);
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
