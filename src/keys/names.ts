import { KeyStoreError } from "./errors.js";
import { isZ85Key } from "./z85.js";

export const MAX_NAME_LENGTH = 64;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Names that mean something else in the protocol: a node owned by "common" is anyone's. */
const RESERVED = new Set(["common", "server"]);

/**
 * A user name doubles as a file name in the key store, so it must not be able to
 * walk out of it (`../x`, `/`), hide (`.x`), or collide with a protocol word.
 */
export function checkName(name: string): string {
  if (name.length === 0) throw new KeyStoreError("A name cannot be empty.");
  if (name.length > MAX_NAME_LENGTH)
    throw new KeyStoreError(`The name "${name.slice(0, 16)}…" is longer than ${MAX_NAME_LENGTH} characters.`);
  // A key in the place of a name (arguments swapped) is not quoted back: it may be a secret.
  if (!NAME_PATTERN.test(name) && isZ85Key(name))
    throw new KeyStoreError("A 40-character key was given where a name belongs: give the name first, then the key.");
  if (!NAME_PATTERN.test(name))
    throw new KeyStoreError(
      `The name "${name}" is not allowed: use letters, digits, ".", "_" and "-", starting with a letter or digit.`,
    );
  if (RESERVED.has(name.toLowerCase()))
    throw new KeyStoreError(`The name "${name}" is reserved; choose another.`);
  return name;
}
