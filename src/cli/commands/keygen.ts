import type { CommandModule } from "yargs";
import { checkName, fingerprint, generateKeyPair, writeIdentity } from "../../keys/index.js";
import { ensureDir } from "../dirs.js";
import { say, shortPath } from "../print.js";

interface Args {
  name: string;
  out: string;
}

export const keygenCommand: CommandModule<object, Args> = {
  command: "keygen <name>",
  describe: "make your own keypair; send the public key to the host, keep the secret",
  builder: (yargs) =>
    yargs
      .positional("name", { type: "string", demandOption: true, describe: "your name, as the host will know you" })
      .option("out", { type: "string", default: ".", describe: "where to write NAME.key and NAME.key_secret" }),
  handler: async (args) => {
    const name = checkName(args.name);
    await ensureDir(args.out);
    const pair = await generateKeyPair();
    const { publicFile, secretFile } = await writeIdentity(args.out, name, pair);
    say(
      `Wrote ${shortPath(publicFile)} and ${shortPath(secretFile)} (secret: mode 0600, it never has to leave this machine).`,
      `Your public key:  ${pair.publicKey}`,
      `Its fingerprint:  ${fingerprint(pair.publicKey)}`,
      `Send the public key (or ${shortPath(publicFile)}) to the host, who runs:`,
      `  curvehost allow ${name} '${pair.publicKey}'`,
    );
  },
};
