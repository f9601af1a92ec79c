/**
 * Deletes a node and everything below it, as zkCli's `deleteall` does: not atomic
 * (a tree may span shards and outgrow a multi), deepest nodes first, each level's
 * deletes sent together. A node another client deleted meanwhile is no failure; one
 * created meanwhile stops the delete with NotEmpty, leaving the rest for a retry.
 */
import { type KeeperClient, isKeeperError } from "edgekeeper/client";
import { childPath } from "./paths.ts";

const ignoreNoNode = (error: unknown) => {
  if (!isKeeperError(error, "NoNode")) throw error;
};

export async function deleteTree(client: KeeperClient, root: string): Promise<void> {
  const levels: string[][] = [[root]];
  for (;;) {
    const listed = await Promise.all(
      levels.at(-1)!.map((path) =>
        client.getChildren(path).then(
          ({ children }) => children.map((name) => childPath(path, name)),
          (error: unknown) => (ignoreNoNode(error), []),
        ),
      ),
    );
    const next = listed.flat();
    if (next.length === 0) break;
    levels.push(next);
  }
  for (const level of levels.reverse()) {
    await Promise.all(level.map((path) => client.delete(path).catch(ignoreNoNode)));
  }
}
