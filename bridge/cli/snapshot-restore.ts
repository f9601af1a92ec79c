/**
 * `snapshot restore`: checks the whole file first (a damaged one is refused with
 * its line before anything is written), then begins a restore (the server refuses a
 * namespace that is not empty and recreates the mounts), sends the nodes in pages,
 * and finishes. Any failure, Ctrl-C included, undoes the restore: the namespace is
 * left empty (the server undoes a refused page by itself).
 */
import { KeeperError } from "../../protocol/index.ts";
import type { AdminApi } from "./admin-http.ts";
import { type Progress, checkFile, linesOf } from "./snapshot-file.ts";

/** About how many bytes of node lines one request carries (the server takes 4 MiB by default). */
const PAGE_BYTES = 1024 * 1024;

export async function restoreSnapshot(api: AdminApi, file: string, progress: Progress): Promise<void> {
  const check = await checkFile(file);
  await api.post("/v1/admin/restore", { header: check.header, mountAcls: Object.fromEntries(check.mountAcls) });
  const abort = () => void api.post("/v1/admin/restore/abort").finally(() => process.exit(130));
  process.once("SIGINT", abort);
  try {
    let page: string[] = [];
    let bytes = 0;
    const send = async () => {
      if (page.length === 0) return;
      await api.post("/v1/admin/restore/nodes", { nodes: page.map((line) => JSON.parse(line) as unknown) });
      progress.add(page.length, "restoring");
      page = [];
      bytes = 0;
    };
    let lineNumber = 0;
    for await (const line of linesOf(file)) {
      lineNumber += 1;
      // The header and the trailer were checked and are not nodes.
      if (lineNumber === 1 || lineNumber === check.nodes + 2) continue;
      if (bytes + line.length > PAGE_BYTES) await send();
      page.push(line);
      bytes += line.length;
    }
    await send();
    await api.post("/v1/admin/restore/finish");
  } catch (err) {
    await api.post("/v1/admin/restore/abort").catch(() => undefined);
    if (err instanceof KeeperError) throw new KeeperError(err.keeperName, `${err.message}; nothing was restored (the namespace is empty again)`, err.path);
    throw err;
  } finally {
    process.off("SIGINT", abort);
  }
}
