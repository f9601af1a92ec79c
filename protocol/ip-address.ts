/**
 * IP addresses as ZooKeeper's ip scheme reads them (IPAuthenticationProvider):
 * IPv4 dotted quads and IPv6 (full, `::`-compressed, or ending in a dotted quad),
 * as bytes, and `address/bits` patterns matched by prefix. An IPv4 address never
 * matches an IPv6 pattern or the reverse, as in ZooKeeper.
 */

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]!) || Number(parts[i]) > 255) return undefined;
    bytes[i] = Number(parts[i]);
  }
  return bytes;
}

/** 16-bit groups of one side of `::` (a trailing dotted quad counts as two). */
function groupsOf(text: string, allowQuad: boolean): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (allowQuad && i === parts.length - 1 && part.includes(".")) {
      const quad = parseIpv4(part);
      if (!quad) return undefined;
      groups.push((quad[0]! << 8) | quad[1]!, (quad[2]! << 8) | quad[3]!);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 1) {
    groups = groupsOf(text, true) ?? [];
    if (groups.length !== 8) return undefined;
  } else {
    const head = groupsOf(halves[0]!, false);
    const tail = groupsOf(halves[1]!, true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/**
 * An address's bytes (4 for IPv4, 16 for IPv6), or undefined if it is neither.
 *
 * @example
 * parseIpAddress("::1"); // 15 zero bytes, then 1
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/** An ip ACL id, `address` or `address/bits`, as bytes and a prefix length. */
function parseIpPattern(pattern: string): { addr: Uint8Array; bits: number } | undefined {
  const slash = pattern.indexOf("/");
  const addr = parseIpAddress(slash < 0 ? pattern : pattern.slice(0, slash));
  if (!addr) return undefined;
  if (slash < 0) return { addr, bits: addr.length * 8 };
  const bitsText = pattern.slice(slash + 1);
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  return bits <= addr.length * 8 ? { addr, bits } : undefined;
}

/** Whether `pattern` is a well-formed ip ACL id (the provider's isValid). */
export function isValidIpPattern(pattern: string): boolean {
  return parseIpPattern(pattern) !== undefined;
}

/**
 * Whether a caller's address falls in an ip ACL id's prefix.
 *
 * @example
 * ipPatternMatches("2001:db8::7", "2001:db8::/32"); // true
 */
export function ipPatternMatches(address: string, pattern: string): boolean {
  const p = parseIpPattern(pattern);
  const caller = parseIpAddress(address);
  if (!p || !caller || caller.length !== p.addr.length) return false;
  for (let bit = 0; bit < p.bits; bit += 8) {
    const width = Math.min(8, p.bits - bit);
    const mask = (0xff << (8 - width)) & 0xff;
    if ((caller[bit / 8]! & mask) !== (p.addr[bit / 8]! & mask)) return false;
  }
  return true;
}
