import { promises as fs } from "node:fs";
import type { CommandModule } from "yargs";
import { KeyStore, readInvite } from "../../keys/index.js";
import { keysOption } from "../options.js";
import { say } from "../print.js";

interface Args {
  keys: string;
  who: string;
}

export const revokeCommand: CommandModule<object, Args> = {
  command: "revoke <who>",
  describe: "revoke a key by name or fingerprint; a running server drops it within 2 seconds",
  builder: (yargs) =>
    yargs.positional("who", { type: "string", demandOption: true, describe: "NAME or SHA256:fingerprint" }).option("keys", keysOption),
  handler: async (args) => {
    const store = new KeyStore(args.keys);
    const entries = await store.revoke(args.who);
    for (const entry of entries) {
      // An invite for a revoked key opens nothing; do not leave its secret lying around.
      const inviteFile = store.inviteFile(entry.name);
      const invite = await readInvite(inviteFile).catch(() => null);
      if (invite?.client.publicKey === entry.publicKey) await fs.rm(inviteFile, { force: true });
      say(`Revoked ${entry.name} (${entry.fingerprint}).`);
    }
    say(`A running server refuses ${entries.length === 1 ? "the key and removes its user" : "the keys and removes their users"} within 2 seconds.`);
  },
};
