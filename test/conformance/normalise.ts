/**
 * What two servers may differ in and still agree: zxids, times and session ids.
 * `normalise` turns an observation into one comparable across servers: every zxid
 * becomes its rank among the zxids of the observation (so "mzxid grew", "pzxid is
 * the child's czxid", "a multi's ops share a zxid" survive, the numbers do not);
 * ctime and mtime become "recent" (mtime >= ctime, both within ten minutes of now);
 * an ephemeralOwner becomes 0, the name of the session it is, or its hex.
 */
const ZXID_KEYS = new Set(["czxid", "mzxid", "pzxid", "zxid"]);
const TEN_MINUTES = 600_000n;

export function normalise(observation: unknown, sessions: Record<string, bigint> = {}): unknown {
  const zxids = new Set<bigint>();
  collect(observation, zxids);
  const ranks = new Map([...zxids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((zxid, index) => [zxid, `z${index + 1}`]));
  return rewrite(observation, ranks, sessions);
}

function collect(value: unknown, zxids: Set<bigint>): void {
  if (Array.isArray(value)) for (const item of value) collect(item, zxids);
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (ZXID_KEYS.has(key) && typeof item === "bigint") zxids.add(item);
      else collect(item, zxids);
    }
  }
}

function rewrite(value: unknown, ranks: Map<bigint, string>, sessions: Record<string, bigint>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewrite(item, ranks, sessions));
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? `long ${value}` : value;
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const [key, item] of Object.entries(record)) {
    if (ZXID_KEYS.has(key) && typeof item === "bigint") out[key] = ranks.get(item);
    else if (key === "ctime" && typeof item === "bigint" && typeof record.mtime === "bigint") out.times = times(item, record.mtime);
    else if (key === "mtime" && typeof item === "bigint" && typeof record.ctime === "bigint") continue;
    else if (key === "ephemeralOwner" && typeof item === "bigint") out[key] = owner(item, sessions);
    else out[key] = rewrite(item, ranks, sessions);
  }
  return out;
}

function times(ctime: bigint, mtime: bigint): string {
  const now = BigInt(Date.now());
  const near = (time: bigint) => time > now - TEN_MINUTES && time < now + TEN_MINUTES;
  if (ctime === 0n && mtime === 0n) return "zero";
  return near(ctime) && near(mtime) && mtime >= ctime ? "recent" : `ctime ${ctime} mtime ${mtime}`;
}

function owner(id: bigint, sessions: Record<string, bigint>): string | number {
  if (id === 0n) return 0;
  for (const [name, session] of Object.entries(sessions)) if (session === id) return `session ${name}`;
  return `0x${BigInt.asUintN(64, id).toString(16)}`;
}
