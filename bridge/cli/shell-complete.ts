/**
 * Tab completion as zkCli's JLineZNodeCompleter does it: the first word is a
 * command name; a later word starting with "/" is a path, completed from the
 * children of its parent.
 */

/** Lists a node's children; a failure (no such node) completes nothing. */
export type ListChildren = (path: string) => Promise<string[]>;

/**
 * A node:readline completer: resolves [candidates, the word they replace].
 *
 * @example
 * const complete = completer(["get", "getAcl"], async (p) => (await zk.getChildren(p)).children);
 * await complete("get /con"); // [["/config"], "/con"]
 */
export function completer(commands: readonly string[], listChildren: ListChildren) {
  return async (line: string): Promise<[string[], string]> => {
    const words = line.split(" ");
    const word = words[words.length - 1]!;
    if (words.length === 1) return [commands.filter((c) => c.startsWith(word)), word];
    if (!word.startsWith("/")) return [[], word];
    const slash = word.lastIndexOf("/");
    const dir = slash === 0 ? "/" : word.slice(0, slash);
    const prefix = word.slice(slash + 1);
    let children: string[];
    try {
      children = await listChildren(dir);
    } catch {
      return [[], word];
    }
    const base = dir === "/" ? "/" : `${dir}/`;
    return [children.filter((c) => c.startsWith(prefix)).sort().map((c) => base + c), word];
  };
}
