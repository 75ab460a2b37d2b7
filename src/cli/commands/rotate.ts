import { promises as fs } from "node:fs";
import path from "node:path";
import type { CommandModule } from "yargs";
import { KeyStore, fingerprint, readInvite, writeInvite } from "../../keys/index.js";
import { keysOption } from "../options.js";
import { say, shortPath } from "../print.js";

interface Args {
  keys: string;
}

export const rotateCommand: CommandModule<object, Args> = {
  command: "rotate",
  describe: "replace the server keypair; says which invites must be reissued",
  builder: (yargs) => yargs.option("keys", keysOption),
  handler: async (args) => {
    const store = new KeyStore(args.keys);
    const { previous, next } = await store.rotate();
    // The invites kept in the store are the host's copies: bring them up to date.
    const updated: string[] = [];
    const names = await fs.readdir(store.invitesDir).catch(() => [] as string[]);
    for (const fileName of names.filter((name) => name.endsWith(".invite"))) {
      const file = path.join(store.invitesDir, fileName);
      const invite = await readInvite(file).catch(() => null);
      if (!invite || invite.server.publicKey !== previous) continue;
      await writeInvite(file, { ...invite, server: { ...invite.server, publicKey: next.publicKey, fingerprint: fingerprint(next.publicKey) } });
      updated.push(invite.name);
    }
    const { allowlist } = await store.readAllowlist();
    const others = allowlist
      .entries()
      .map((entry) => entry.name)
      .filter((name) => !updated.includes(name));
    say(
      `The server key is now ${fingerprint(next.publicKey)} (was ${fingerprint(previous)}).`,
      "Restart the server to use it. Every invite issued before now stops working:",
    );
    if (updated.length > 0)
      say(`  updated in ${shortPath(store.invitesDir)}, hand them out again: ${updated.join(", ")}`);
    if (others.length > 0)
      say(`  reissue with curvehost invite NAME --public-only --host HOST: ${others.join(", ")}`);
  },
};
