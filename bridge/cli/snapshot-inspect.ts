/**
 * `snapshot inspect`: checks a file and summarises it, as ZooKeeper's
 * zkSnapshotToolkit does for its snapshots: node count, data size, each shard's
 * zxid and nodes, the kinds of node, the largest values and the widest parents.
 */
import type { SnapshotHeader, SnapshotNode } from "../../protocol/index.ts";
import { checkFile } from "./snapshot-file.ts";

const TOP = 10;

export interface SnapshotSummary {
  namespace: string;
  created: string;
  nodes: number;
  dataBytes: number;
  kinds: Record<string, number>;
  shards: { prefix: string; zxid: string; nodes: number }[];
  largest: { path: string; dataLength: number }[];
  mostChildren: { path: string; numChildren: number }[];
}

/** Keeps the `TOP` entries with the largest `key`, largest first. */
function keepTop<T>(list: T[], item: T, key: (t: T) => number): void {
  if (list.length === TOP && key(item) <= key(list[TOP - 1]!)) return;
  list.push(item);
  list.sort((a, b) => key(b) - key(a));
  list.length = Math.min(list.length, TOP);
}

export async function summarise(file: string): Promise<SnapshotSummary> {
  const perShard = new Map<string, number>();
  const kinds: Record<string, number> = {};
  const largest: SnapshotSummary["largest"] = [];
  const mostChildren: SnapshotSummary["mostChildren"] = [];
  let dataBytes = 0;
  const check = await checkFile(file, (node: SnapshotNode, shard) => {
    perShard.set(shard.prefix, (perShard.get(shard.prefix) ?? 0) + 1);
    kinds[node.kind] = (kinds[node.kind] ?? 0) + 1;
    dataBytes += node.stat.dataLength;
    if (node.stat.dataLength > 0) keepTop(largest, { path: node.path, dataLength: node.stat.dataLength }, (n) => n.dataLength);
    if (node.stat.numChildren > 0) keepTop(mostChildren, { path: node.path, numChildren: node.stat.numChildren }, (n) => n.numChildren);
  });
  const header: SnapshotHeader = check.header;
  return {
    namespace: header.namespace,
    created: header.created,
    nodes: check.nodes,
    dataBytes,
    kinds,
    shards: header.shards.map((s) => ({ prefix: s.prefix, zxid: `0x${s.zxid.toString(16)}`, nodes: perShard.get(s.prefix) ?? 0 })),
    largest,
    mostChildren,
  };
}

/** The summary as text, for a terminal. */
export function formatSummary(s: SnapshotSummary): string {
  const width = Math.max(...s.shards.map((shard) => shard.prefix.length));
  const lines = [
    `Snapshot of namespace "${s.namespace}", taken ${s.created}`,
    `Nodes: ${s.nodes} (${Object.entries(s.kinds).map(([kind, n]) => `${kind} ${n}`).join(", ")})`,
    `Data: ${s.dataBytes} bytes`,
    `Shards:`,
    ...s.shards.map((shard) => `  ${shard.prefix.padEnd(width)}  zxid ${shard.zxid}  ${shard.nodes} nodes`),
    `Largest values:`,
    ...s.largest.map((n) => `  ${n.dataLength}  ${n.path}`),
    `Most children:`,
    ...s.mostChildren.map((n) => `  ${n.numChildren}  ${n.path}`),
  ];
  return `${lines.join("\n")}\n`;
}
