/** The `curvehost` command line: one thin command a file under commands/. */
import yargs, { type MiddlewareFunction } from "yargs";
import { hideBin } from "yargs/helpers";
import { allowCommand } from "./commands/allow.js";
import { checkCommand } from "./commands/check.js";
import { connectCommand } from "./commands/connect.js";
import { exportCommand, importCommand } from "./commands/export.js";
import { initCommand } from "./commands/init.js";
import { inviteCommand } from "./commands/invite.js";
import { keygenCommand } from "./commands/keygen.js";
import { keysCommand } from "./commands/keys.js";
import { revokeCommand } from "./commands/revoke.js";
import { rotateCommand } from "./commands/rotate.js";
import { serveCommand } from "./commands/serve.js";
import { isZ85Key } from "../keys/index.js";
import { checkOptionValues, givenOptions, markOperands, unmarkOperands, withoutMarks, type RunningParser } from "./arguments.js";
import { OptionError, describeError } from "./errors.js";

const args = hideBin(process.argv);

/**
 * A failure is one line, and it never repeats a key given on the command line: yargs quotes
 * arguments it does not expect, and a key in the wrong place may be a secret pasted by mistake.
 */
function fail(message: string, code: number): never {
  let line = withoutMarks(message);
  for (const arg of args) if (isZ85Key(arg)) line = line.split(arg).join("(a key)");
  process.stderr.write(`curvehost: ${line}\n`);
  process.exit(code);
}

/** A mistake in how the command was called: exit 2, as for yargs' own. */
function usage(message: string): never {
  fail(`${message.replace(/\s*\n\s*/g, " ").replace(/\.?$/, ".")} See: curvehost --help`, 2);
}

try {
  const marked = markOperands(args);
  const given = givenOptions(marked);
  await yargs(marked)
    .scriptName("curvehost")
    .command(serveCommand)
    .command(initCommand)
    .command(keygenCommand)
    .command(allowCommand)
    .command(inviteCommand)
    .command(revokeCommand)
    .command(keysCommand)
    .command(rotateCommand)
    .command(checkCommand)
    .command(connectCommand)
    .command(exportCommand)
    .command(importCommand)
    .middleware(((argv: Record<string, unknown>, parser: RunningParser) => {
      unmarkOperands(argv);
      checkOptionValues(argv, parser, given);
    }) as unknown as MiddlewareFunction, true)
    .demandCommand(1, "Name a command; see: curvehost --help")
    .strict()
    .fail((message, error) => {
      if (error instanceof OptionError) usage(error.message);
      if (error) throw error;
      usage(message);
    })
    .help()
    .version()
    .parseAsync();
} catch (error) {
  if (error instanceof OptionError) usage(error.message);
  if (process.env["CURVEHOST_DEBUG"]) console.error(error);
  fail(describeError(error), 1);
}
