/**
 * ZooKeeper's Stat, field for field. zxids are epoch << 32 | counter (see zxid.ts);
 * times are milliseconds since the epoch.
 */
export interface Stat {
  /** zxid of the create. */
  czxid: number;
  /** zxid of the last setData (the create's at first). */
  mzxid: number;
  /** zxid of the last create or delete of a child (the create's at first). */
  pzxid: number;
  ctime: number;
  mtime: number;
  /** Number of setData calls. */
  version: number;
  /** Child creates plus child deletes (2 x creates - numChildren, as ZooKeeper computes it). */
  cversion: number;
  /** Number of setACL calls. */
  aversion: number;
  /** Session id of an EPHEMERAL node's owner; 0 otherwise (containers and TTL nodes too). */
  ephemeralOwner: number;
  dataLength: number;
  numChildren: number;
}
