/**
 * ZooKeeper's numbers on the wire: op codes (ZooDefs.OpCode), the reserved xids,
 * watch event types and states, watcher types and addWatch modes.
 */

/** ZooDefs.OpCode, by the names ZooKeeper gives them. */
export const OP_CODES = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
} as const;

export type JuteOpName = keyof typeof OP_CODES;

/** OpCode.error: the type of an ErrorResult inside a multi response. */
export const ERROR_OP_CODE = -1;

const OP_NAMES = new Map<number, JuteOpName>(Object.entries(OP_CODES).map(([name, code]) => [code, name as JuteOpName]));

/** The op named by a code, or undefined for a code ZooKeeper does not know. */
export function opNameOf(code: number): JuteOpName | undefined {
  return OP_NAMES.get(code);
}

/** xids with a fixed meaning (ClientCnxn's constants). */
export const XIDS = {
  /** A watch notification (server to client). */
  notification: -1,
  ping: -2,
  auth: -4,
  setWatches: -8,
} as const;

/** Watcher.Event.EventType. */
export const EVENT_TYPES = {
  None: -1,
  NodeCreated: 1,
  NodeDeleted: 2,
  NodeDataChanged: 3,
  NodeChildrenChanged: 4,
  DataWatchRemoved: 5,
  ChildWatchRemoved: 6,
  PersistentWatchRemoved: 7,
} as const;

/** Watcher.Event.KeeperState (the ones a server sends). */
export const KEEPER_STATES = {
  Disconnected: 0,
  SyncConnected: 3,
  AuthFailed: 4,
  ConnectedReadOnly: 5,
  SaslAuthenticated: 6,
  Expired: -112,
  Closed: 7,
} as const;

/** Watcher.WatcherType, as checkWatches and removeWatches carry it. */
export const WATCHER_TYPES = { Children: 1, Data: 2, Any: 3, Persistent: 4, PersistentRecursive: 5 } as const;

/** AddWatchMode. */
export const ADD_WATCH_MODES = { PERSISTENT: 0, PERSISTENT_RECURSIVE: 1 } as const;

/** jute.maxbuffer's default: 1 MiB less one byte (0xfffff). */
export const DEFAULT_MAX_BUFFER = 0xfffff;
