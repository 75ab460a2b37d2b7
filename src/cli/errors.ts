import { KeyStoreError } from "../keys/index.js";

/** A mistake in how a command was called or what it was given; printed as it is. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Options that cannot go together or cannot mean anything: refused as yargs refuses its own (exit 2, with a pointer to --help). */
export class OptionError extends UsageError {}

/** Errors whose message was written for the user. Anything else is a bug, reported without its stack. */
export function isUserFacing(error: unknown): error is Error {
  return error instanceof UsageError || error instanceof KeyStoreError || (error as { userFacing?: unknown })?.userFacing === true;
}

export function describeError(error: unknown): string {
  if (isUserFacing(error)) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `unexpected error (${message.split("\n")[0]}); set CURVEHOST_DEBUG=1 for details and please report it.`;
}
