/**
 * zkCli's commands that need a session (its CliCommand classes), on our client:
 * what each parses, calls and prints, and the usage line each shows.
 */
import type { Acl } from "../../protocol/acl.ts";
import { WATCH_KINDS } from "../../protocol/changes.ts";
import { KeeperError, isKeeperError } from "../../protocol/errors.ts";
import { MAX_TTL_MS } from "../../protocol/modes.ts";
import type { CreateMode, KeeperClient, WatchKind } from "../../client/index.ts";
import { CliError, aclLines, cliErrorMessage, javaList, keeperExceptionMessage, parseAcl, pathError, statLines } from "./shell-format.ts";
import { type OptionSpec, type ParsedArgs, parseArgs } from "./shell-parse.ts";

/** What a command may use: the client, the two output streams, and the shell's watch bookkeeping. */
export interface CommandContext {
  zk: KeeperClient;
  out(line: string): void;
  err(line: string): void;
  /** Records a watch the shell set on the default watcher (for removewatches' events). */
  watchSet(kind: WatchKind, path: string): void;
  /** Reports the watches removewatches took away, as ZooKeeper's client does. */
  watchesRemoved(kinds: readonly WatchKind[], path: string): void;
}

export interface Command {
  /** Options and arguments as zkCli's usage shows them. */
  usage: string;
  options: OptionSpec;
  /** Fewest and most words, the command's name included. */
  minWords: number;
  maxWords?: number;
  run(ctx: CommandContext, parsed: ParsedArgs): Promise<void>;
}

const utf8 = new TextDecoder();
const text = (bytes: Uint8Array) => (bytes.length === 0 ? "null" : utf8.decode(bytes));

/**
 * Runs a client call, turning a bad path into zkCli's message. Errors name the
 * path of the request, as ZooKeeper's client names them (the server may name the
 * parent, say for NoAuth on a create).
 */
async function call<T>(path: string, op: () => Promise<T>, sequential = false): Promise<T> {
  const bad = pathError(path, sequential);
  if (bad) throw new CliError(bad);
  try {
    return await op();
  } catch (error) {
    if (isKeeperError(error) && error.path !== path) throw new KeeperError(error.keeperName, error.message, path);
    throw error;
  }
}

function version(parsed: ParsedArgs): number | undefined {
  const value = parsed.options.get("v");
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new CliError(`For input string: "${value}"`);
  return Number(value);
}

function parseAclArg(ctx: CommandContext, value: string): Acl[] {
  const acl = parseAcl(value, (line) => ctx.err(line));
  // ZooKeeper's client refuses an empty list itself, before any path is known.
  if (acl.length === 0) throw new KeeperError("InvalidACL");
  return acl;
}

/** ZKUtil.visitSubTreeDFS's order: a node, then its children listed, then each child's subtree. */
async function visitSubtree(zk: KeeperClient, root: string, watch: boolean, visit: (path: string) => void | Promise<void>): Promise<void> {
  await call(root, () => zk.getData(root, { watch }));
  await visit(root);
  const walk = async (path: string): Promise<void> => {
    let children: string[];
    try {
      children = (await zk.getChildren(path, { watch })).children;
    } catch (error) {
      if (isKeeperError(error, "NoNode")) return; // deleted meanwhile
      throw error;
    }
    const paths = children.map((c) => (path === "/" ? `/${c}` : `${path}/${c}`));
    for (const p of paths) await visit(p);
    for (const p of paths) await walk(p);
  };
  await walk(root);
}

const ADD_WATCH_USAGE = "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE";

/** Every session command, by name, as zkCli names them. */
export const COMMANDS: Record<string, Command> = {
  addWatch: {
    usage: ADD_WATCH_USAGE,
    options: { m: true },
    minWords: 2,
    maxWords: 2,
    async run(ctx, { args, options }) {
      const mode = options.get("m") ?? "PERSISTENT_RECURSIVE";
      const kind = mode === "PERSISTENT" ? "persistent" : mode === "PERSISTENT_RECURSIVE" ? "recursive" : undefined;
      if (!kind) throw new CliError(`addWatch ${ADD_WATCH_USAGE}`);
      const path = args[1]!;
      await call(path, () => ctx.zk.addWatch(path, kind));
      ctx.watchSet(kind, path);
    },
  },
  addauth: {
    usage: "scheme auth",
    options: {},
    minWords: 2,
    async run(ctx, { args }) {
      await ctx.zk.addAuth(args[1]!, args[2] ?? "");
    },
  },
  close: {
    usage: "",
    options: {},
    minWords: 1,
    async run(ctx) {
      await ctx.zk.close();
    },
  },
  create: {
    usage: "[-s] [-e] [-c] [-t ttl] path [data] [acl]",
    options: { s: false, e: false, c: false, t: true },
    minWords: 2,
    async run(ctx, { args, options }) {
      const [e, s, c, t] = ["e", "s", "c", "t"].map((o) => options.has(o));
      if (c && (e || s)) throw new CliError("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.");
      const ttlText = options.get("t") ?? "0";
      if (!/^[+-]?\d+$/.test(ttlText)) throw new CliError("-t argument must be a long value");
      const ttl = Number(ttlText);
      if (t && e) throw new CliError("TTLs cannot be used with Ephemeral znodes");
      if (t && c) throw new CliError("TTLs cannot be used with Container znodes");
      const mode: CreateMode =
        e && s ? "EPHEMERAL_SEQUENTIAL"
        : e ? "EPHEMERAL"
        : s ? (t ? "PERSISTENT_SEQUENTIAL_WITH_TTL" : "PERSISTENT_SEQUENTIAL")
        : c ? "CONTAINER"
        : t ? "PERSISTENT_WITH_TTL"
        : "PERSISTENT";
      if (t && (ttl <= 0 || ttl > MAX_TTL_MS)) throw new CliError(`ttl must be positive and cannot be larger than: ${MAX_TTL_MS}`);
      const path = args[1]!;
      const acl = args[3] === undefined ? undefined : parseAclArg(ctx, args[3]);
      try {
        const created = await call(path, () => ctx.zk.create(path, args[2], { mode, acl, ttlMs: t ? ttl : undefined }), s);
        ctx.err(`Created ${created}`);
      } catch (error) {
        if (isKeeperError(error, "InvalidACL")) ctx.err(keeperExceptionMessage("InvalidACL", error.code, error.path));
        throw error;
      }
    },
  },
  delete: {
    usage: "[-v version] path",
    options: { v: true },
    minWords: 2,
    maxWords: 2,
    async run(ctx, parsed) {
      const path = parsed.args[1]!;
      await call(path, () => ctx.zk.delete(path, version(parsed)));
    },
  },
  deleteall: {
    usage: "path [-b batch size]",
    options: { b: true },
    minWords: 2,
    async run(ctx, { args, options }) {
      const batch = options.get("b");
      if (batch !== undefined && !/^[+-]?\d+$/.test(batch)) throw new CliError("-b argument must be an int value");
      const root = args[1]!;
      const paths: string[] = [];
      await visitSubtree(ctx.zk, root, false, (p) => void paths.push(p));
      for (const p of paths.reverse()) {
        await ctx.zk.delete(p).catch((error: unknown) => {
          if (!isKeeperError(error, "NoNode")) throw error;
        });
      }
    },
  },
  get: {
    usage: "[-s] [-w] path",
    options: { s: false, w: false },
    minWords: 2,
    maxWords: 2,
    async run(ctx, { args, options }) {
      const path = args[1]!;
      const watch = options.has("w");
      const { data, stat } = await call(path, () => ctx.zk.getData(path, { watch }));
      if (watch) ctx.watchSet("data", path);
      ctx.out(text(data));
      if (options.has("s")) statLines(stat).forEach((l) => ctx.out(l));
    },
  },
  getAcl: {
    usage: "[-s] path",
    options: { s: false },
    minWords: 2,
    async run(ctx, { args, options }) {
      const path = args[1]!;
      const { acl, stat } = await call(path, () => ctx.zk.getACL(path));
      aclLines(acl).forEach((l) => ctx.out(l));
      if (options.has("s")) statLines(stat).forEach((l) => ctx.out(l));
    },
  },
  getAllChildrenNumber: {
    usage: "path",
    options: {},
    minWords: 2,
    async run(ctx, { args }) {
      const path = args[1]!;
      ctx.out(String(await call(path, () => ctx.zk.getAllChildrenNumber(path))));
    },
  },
  getEphemerals: {
    usage: "path",
    options: {},
    minWords: 1,
    async run(ctx, { args }) {
      const path = args[1] ?? "/";
      ctx.out(javaList(await call(path, () => ctx.zk.getEphemerals(path))));
    },
  },
  ls: {
    usage: "[-s] [-w] [-R] path",
    options: { s: false, w: false, R: false },
    minWords: 2,
    async run(ctx, { args, options }) {
      const path = args[1]!;
      const watch = options.has("w");
      if (options.has("R")) {
        await visitSubtree(ctx.zk, path, watch, (p) => ctx.out(p));
        return;
      }
      const { children, stat } = await call(path, () => ctx.zk.getChildren(path, { watch }));
      if (watch) ctx.watchSet("child", path);
      ctx.out(javaList([...children].sort()));
      if (options.has("s")) statLines(stat).forEach((l) => ctx.out(l));
    },
  },
  removewatches: {
    usage: "path [-c|-d|-a] [-l]",
    options: { c: false, d: false, a: false, l: false },
    minWords: 2,
    async run(ctx, { args, options }) {
      const path = args[1]!;
      const kind = options.has("c") ? "child" : options.has("d") ? "data" : "any";
      await call(path, () => ctx.zk.removeWatches(path, kind));
      ctx.watchesRemoved(kind === "any" ? WATCH_KINDS : [kind], path);
    },
  },
  set: {
    usage: "[-s] [-v version] path data",
    options: { s: false, v: true },
    minWords: 3,
    async run(ctx, parsed) {
      const path = parsed.args[1]!;
      const stat = await call(path, () => ctx.zk.setData(path, parsed.args[2]!, version(parsed)));
      if (parsed.options.has("s")) statLines(stat).forEach((l) => ctx.out(l));
    },
  },
  setAcl: {
    usage: "[-s] [-v version] [-R] path acl",
    options: { s: false, v: true, R: false },
    minWords: 3,
    async run(ctx, parsed) {
      const path = parsed.args[1]!;
      const acl = parseAclArg(ctx, parsed.args[2]!);
      const v = version(parsed);
      if (parsed.options.has("R")) {
        await visitSubtree(ctx.zk, path, false, async (p) => void (await ctx.zk.setACL(p, acl, v)));
        return;
      }
      const stat = await call(path, () => ctx.zk.setACL(path, acl, v));
      if (parsed.options.has("s")) statLines(stat).forEach((l) => ctx.out(l));
    },
  },
  stat: {
    usage: "[-w] path",
    options: { w: false },
    minWords: 2,
    maxWords: 2,
    async run(ctx, { args, options }) {
      const path = args[1]!;
      const watch = options.has("w");
      const stat = await call(path, () => ctx.zk.exists(path, { watch }));
      if (watch) ctx.watchSet("data", path);
      if (!stat) throw new KeeperError("NoNode", undefined, path);
      statLines(stat).forEach((l) => ctx.out(l));
    },
  },
  sync: {
    usage: "path",
    options: {},
    minWords: 2,
    async run(ctx, { args }) {
      const path = args[1]!;
      try {
        await call(path, () => ctx.zk.sync(path));
        ctx.out("Sync is OK");
      } catch (error) {
        if (!isKeeperError(error)) throw error;
        ctx.out(`Sync has failed. rc=${error.code}`);
      }
    },
  },
};

/** Parses a command's words as zkCli does before it runs: unknown options and a wrong word count fail here. */
export function prepareCommand(name: string, words: readonly string[]): ParsedArgs {
  const command = COMMANDS[name]!;
  const parsed = parseArgs(words, command.options);
  if (parsed.args.length < command.minWords || parsed.args.length > (command.maxWords ?? Infinity)) throw new CliError(`${name} ${command.usage}`);
  return parsed;
}

/** Runs a prepared command; a failure becomes a CliError with zkCli's message. */
export async function runCommand(ctx: CommandContext, name: string, parsed: ParsedArgs): Promise<void> {
  try {
    await COMMANDS[name]!.run(ctx, parsed);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(cliErrorMessage(error));
  }
}
