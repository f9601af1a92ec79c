/**
 * `snapshot save`: every shard of a namespace, each as of one zxid (the server
 * copies each shard when the save begins), read page by page into a JSON-lines
 * file. The file is written beside its name and renamed when complete, so a failed
 * save never leaves a file that looks whole.
 */
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type SnapshotHeader, type SnapshotNode } from "../../protocol/index.ts";
import type { AdminApi } from "./admin-http.ts";
import { type Progress, writeLine } from "./snapshot-file.ts";

interface SaveStarted {
  id: string;
  namespace: string;
  created: string;
  shards: SnapshotHeader["shards"];
}

interface SavePage {
  nodes: SnapshotNode[];
  last: string | null;
  done: boolean;
}

export async function saveSnapshot(api: AdminApi, file: string, progress: Progress): Promise<SnapshotHeader> {
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  try {
    const started = (await api.post("/v1/admin/snapshot")) as SaveStarted;
    const header: SnapshotHeader = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, namespace: started.namespace, created: started.created, shards: started.shards };
    await writeLine(out, header);
    for (const shard of started.shards) {
      let after = "";
      for (;;) {
        const query = new URLSearchParams({ prefix: shard.prefix, after });
        const page = (await api.get(`/v1/admin/snapshot/${encodeURIComponent(started.id)}/page?${query}`)) as SavePage;
        for (const node of page.nodes) await writeLine(out, node);
        progress.add(page.nodes.length, `shard ${shard.prefix}`);
        if (page.done || page.last === null) break;
        after = page.last;
      }
    }
    await writeLine(out, { end: true, nodes: progress.count });
    out.end();
    await new Promise<void>((done, fail) => out.once("finish", done).once("error", fail));
    await rename(partial, file);
    return header;
  } catch (err) {
    out.destroy();
    await rm(partial, { force: true });
    throw err;
  }
}
