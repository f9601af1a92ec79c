/**
 * The wire-protocol bridge (Node only): ZooKeeper clients in front, edgekeeper
 * session hosts behind. See docs/architecture.md, "Bridge".
 */
export { type Bridge, type BridgeOptions, startBridge } from "./server/server.ts";
