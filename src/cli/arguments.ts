/**
 * The command line before and around yargs: operands that start with "-", and options given in
 * ways that cannot mean anything. Every refusal here is one sentence.
 */
import { isZ85Key } from "../keys/index.js";
import { OptionError } from "./errors.js";

/**
 * What yargs 18 passes a middleware after the arguments: itself, configured for the running
 * command (@types/yargs, written for 17, leaves it out).
 */
export interface RunningParser {
  getOptions(): { string: string[] };
}

/**
 * yargs reads every argument that starts with "-" as options, even after "--" (it also parses
 * each positional once more as "--NAME VALUE"), and about one Z85 key in 85 starts with "-". So
 * operands are marked with a NUL, which no real argument can hold, before yargs sees them, and
 * unmarked by `unmarkOperands` once it has put them in place: every argument after "--", and
 * before it every argument that cannot be an option. curvehost's options are all long ("--name"
 * or "--name=..."), so that is any argument with a single leading "-" (a key, or a mistyped
 * one: it then gets the refusal a bad key gets), and a 40-character key that starts with "--"
 * without reading as a long option.
 */
const OPERAND = "\u0000";

export function markOperands(args: readonly string[]): string[] {
  const end = args.indexOf("--");
  const before = end < 0 ? args : args.slice(0, end);
  const after = end < 0 ? [] : args.slice(end + 1);
  const isOperand = (arg: string) =>
    arg.startsWith("-") && arg !== "-" && (!arg.startsWith("--") || (isZ85Key(arg) && !/^--[a-z][a-z-]*(=|$)/.test(arg)));
  return [...before.map((arg) => (isOperand(arg) ? OPERAND + arg : arg)), ...after.map((arg) => OPERAND + arg)];
}

function unmark(value: unknown): unknown {
  if (typeof value === "string") return value.startsWith(OPERAND) ? value.slice(OPERAND.length) : value;
  return Array.isArray(value) ? value.map(unmark) : value;
}

/** Middleware: the parsed arguments without their marks. */
export function unmarkOperands(argv: Record<string, unknown>): void {
  for (const key of Object.keys(argv)) argv[key] = unmark(argv[key]);
}

/** A message as the user typed its arguments. */
export function withoutMarks(text: string): string {
  return text.split(OPERAND).join("");
}

/** How an option was given on the command line. */
interface Given {
  /** --name or --no-name */
  form: string;
  /** Whether a value came with it: --name=VALUE, or --name VALUE. */
  valued: boolean;
}

/**
 * The options given on the command line (not their defaults), by name. One given twice, or with
 * its --no- form as well, is refused rather than resolved: which one would the user mean? (yargs
 * makes an array of it, which no command expects, or fails inside.)
 */
export function givenOptions(marked: readonly string[]): Map<string, Given> {
  const given = new Map<string, Given>();
  for (const [index, arg] of marked.entries()) {
    const match = /^--(no-)?([A-Za-z][\w-]*)(=|$)/.exec(arg);
    if (!match) continue;
    const name = match[2]!;
    const form = `--${match[1] ?? ""}${name}`;
    const earlier = given.get(name)?.form;
    if (earlier === form) throw new OptionError(`${form} is given twice; give it once.`);
    if (earlier !== undefined) throw new OptionError(`${earlier} and ${form} contradict each other; give one of them.`);
    const next = marked[index + 1];
    given.set(name, { form, valued: match[3] === "=" || (next !== undefined && !next.startsWith("-") && !next.startsWith(OPERAND)) });
  }
  return given;
}

/** String options whose --no- form means something: --no-state, a session without a journal. */
const NEGATABLE = new Set(["state"]);

/**
 * Refuses a string option of the running command given without a value (--keys at the end,
 * --state=), which yargs would read as its default or as the current directory, or negated where
 * that means nothing (--no-keys).
 */
export function checkOptionValues(argv: Record<string, unknown>, parser: RunningParser, given: Map<string, Given>): void {
  for (const name of parser.getOptions().string) {
    const how = given.get(name);
    if (how === undefined) continue; // a default, or a positional
    if (how.form === `--no-${name}`) {
      if (!NEGATABLE.has(name)) throw new OptionError(`--no-${name} means nothing: --${name} takes a value.`);
    } else if (!how.valued || argv[name] === "") {
      throw new OptionError(`--${name} needs a value.`);
    }
  }
}
