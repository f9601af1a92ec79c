/**
 * `npx edgekeeper snapshot save|restore|inspect FILE`: backup and restore of a
 * namespace over the admin HTTP routes, against `npm start` or a deployed Worker.
 */
import { parseArgs } from "node:util";
import { KeeperError } from "../../protocol/index.ts";
import { AdminApi, baseUrlOf } from "./admin-http.ts";
import { Progress } from "./snapshot-file.ts";
import { formatSummary, summarise } from "./snapshot-inspect.ts";
import { restoreSnapshot } from "./snapshot-restore.ts";
import { saveSnapshot } from "./snapshot-save.ts";

export const SNAPSHOT_USAGE = `Usage: npx edgekeeper snapshot save|restore|inspect FILE [options]

  save FILE      writes every node of the namespace (each shard as of one zxid) to FILE
  restore FILE   restores FILE into the namespace, which must be empty
  inspect FILE   checks FILE and summarises it (no server needed)

Options:
  --url URL         the server (env EDGEKEEPER_URL; default http://127.0.0.1:8787, npm start's)
  --token T         its bearer token, with the admin right (env EDGEKEEPER_TOKEN)
  --namespace NAME  the namespace (env EDGEKEEPER_NAMESPACE; default "default")
  --auth "digest USER:PASSWORD"
                    who the save reads as: every node's ACL must allow it READ
                    (super reads all, and makes a write token an admin)
  --json            inspect: the summary as JSON
  --quiet           no progress lines on stderr
  -h, --help        this text

Ephemeral nodes are never saved. A damaged file is refused with the number of the
line that is wrong, before anything is written; a restore that fails leaves the
namespace empty.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`edgekeeper snapshot: ${message}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        namespace: { type: "string" },
        auth: { type: "string" },
        json: { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${SNAPSHOT_USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${SNAPSHOT_USAGE}\n`);
    return;
  }
  const [action, file, ...extra] = positionals;
  if (!action || !["save", "restore", "inspect"].includes(action) || !file || extra.length > 0) fail(`expected save, restore or inspect and one FILE\n\n${SNAPSHOT_USAGE}`, 2);
  const api = new AdminApi({
    url: baseUrlOf(values.url ?? (process.env.EDGEKEEPER_URL || "http://127.0.0.1:8787")),
    token: values.token ?? (process.env.EDGEKEEPER_TOKEN || undefined),
    namespace: values.namespace ?? (process.env.EDGEKEEPER_NAMESPACE || "default"),
    auth: values.auth,
  });
  const quiet = values.quiet === true;
  try {
    if (action === "save") {
      const progress = new Progress("saved", quiet);
      await saveSnapshot(api, file, progress);
      progress.done(`to ${file}`);
    } else if (action === "restore") {
      const progress = new Progress("restored", quiet);
      await restoreSnapshot(api, file, progress);
      progress.done(`from ${file}`);
    } else {
      const summary = await summarise(file);
      process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    }
  } catch (err) {
    if (err instanceof KeeperError) fail(`${action} ${file}: ${err.keeperName}: ${err.message}`);
    throw err;
  }
}
