import { existsSync } from "node:fs";
import type { CommandModule } from "yargs";
import { KeyStore, checkName, isZ85Key, parseExpiry, readPublicKey, type Role } from "../../keys/index.js";
import { UsageError } from "../errors.js";
import { DEFAULT_ROLE, expiresOption, keysOption, roleOption } from "../options.js";
import { say } from "../print.js";

interface Args {
  keys: string;
  name: string;
  key: string;
  role: Role | undefined;
  expires: string | undefined;
}

/**
 * KEY is a Z85 public key, or the path of a certificate file that holds one. A KEY that is
 * neither is not quoted back: it may be a secret key pasted by mistake.
 */
async function resolvePublicKey(key: string): Promise<string> {
  const length = key.length; // before isZ85Key narrows the type
  if (isZ85Key(key)) return key;
  if (existsSync(key)) return readPublicKey(key);
  throw new UsageError(`The KEY given (${length} characters) is neither a 40-character Z85 public key nor a key file.`);
}

export const allowCommand: CommandModule<object, Args> = {
  command: "allow <name> <key>",
  describe: "allow a collaborator's public key (Z85 text or a .key file)",
  builder: (yargs) =>
    yargs
      .positional("name", { type: "string", demandOption: true })
      .positional("key", { type: "string", demandOption: true })
      .option("keys", keysOption)
      .option("role", roleOption)
      .option("expires", expiresOption),
  handler: async (args) => {
    const store = new KeyStore(args.keys);
    await store.requireExisting();
    checkName(args.name);
    const publicKey = await resolvePublicKey(args.key);
    const expires = args.expires === undefined ? null : parseExpiry(args.expires);
    const entry = await store.allow(args.name, publicKey, { role: args.role ?? DEFAULT_ROLE, expires });
    say(
      `Allowed ${entry.name} as ${entry.role}: ${entry.fingerprint}${expires ? `, until ${expires}` : ""}.`,
      "A running server accepts the key within 2 seconds.",
    );
  },
};
