/**
 * zkCli's command-line parsing: MyCommandOptions' tokenizer (whitespace, or a
 * whole "double" or 'single' quoted word) and commons-cli's option rules.
 */
import { CliError } from "./shell-format.ts";

const ARGS = /\s*([^"']\S*|"[^"]*"|'[^']*')\s*/g;

/**
 * Splits a line as zkCli does: a word starting with a quote runs to the matching
 * quote (which is dropped); any other word runs to the next whitespace.
 *
 * @example
 * tokenize(`create /a "hello world"`); // ["create", "/a", "hello world"]
 */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  for (const match of line.matchAll(ARGS)) {
    const word = match[1]!;
    if (word === "") continue;
    const quoted = /^"[^"]*"$|^'[^']*'$/.test(word);
    out.push(quoted ? word.slice(1, -1) : word);
  }
  return out;
}

/** A command's options: letter to whether it takes a value. */
export type OptionSpec = Record<string, boolean>;

export interface ParsedArgs {
  /** The positional words, the command name first. */
  args: string[];
  /** Options given: letter to its value ("" for a flag). */
  options: Map<string, string>;
}

const isNumber = (word: string) => /^-\d+(\.\d+)?$/.test(word);

/**
 * commons-cli's DefaultParser on a command's words: options anywhere, "-v 3" and
 * "-v3", flags grouped ("-se"); negative numbers are words; "--" ends options.
 */
export function parseArgs(words: readonly string[], spec: OptionSpec): ParsedArgs {
  const args: string[] = [];
  const options = new Map<string, string>();
  let onlyArgs = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (onlyArgs || i === 0 || !word.startsWith("-") || word === "-" || isNumber(word)) {
      args.push(word);
      continue;
    }
    if (word === "--") {
      onlyArgs = true;
      continue;
    }
    const name = word.slice(1);
    if (name in spec) {
      if (spec[name]) {
        const value = words[++i];
        if (value === undefined) throw new CliError(`org.apache.commons.cli.MissingArgumentException: Missing argument for option: ${name}`);
        options.set(name, value);
      } else {
        options.set(name, "");
      }
    } else if (name[0]! in spec && spec[name[0]!]) {
      options.set(name[0]!, name.slice(1));
    } else if ([...name].every((c) => c in spec && !spec[c])) {
      for (const c of name) options.set(c, "");
    } else {
      throw new CliError(`org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: ${word}`);
    }
  }
  return { args, options };
}
