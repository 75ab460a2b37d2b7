import path from "node:path";
import type { CommandModule } from "yargs";
import {
  KeyStore,
  KeyStoreError,
  checkBasePort,
  checkHost,
  checkName,
  fingerprint,
  generateKeyPair,
  parseExpiry,
  writeInvite,
  type Invite,
  type Role,
} from "../../keys/index.js";
import { OptionError } from "../errors.js";
import { DEFAULT_ROLE, expiresOption, keysOption, portOption, roleOption } from "../options.js";
import { say, shortPath, warn } from "../print.js";

interface Args {
  keys: string;
  name: string;
  host: string;
  port: number;
  role: Role | undefined;
  expires: string | undefined;
  "public-only": boolean;
  out: string | undefined;
}

export const inviteCommand: CommandModule<object, Args> = {
  command: "invite <name>",
  describe: "issue a collaborator a keypair, allow it, and write their invite file",
  builder: (yargs) =>
    yargs
      .positional("name", { type: "string", demandOption: true })
      .option("host", { type: "string", demandOption: true, describe: "the address collaborators reach the server at" })
      .option("port", portOption)
      .option("keys", keysOption)
      .option("role", roleOption)
      .option("expires", expiresOption)
      .option("public-only", {
        type: "boolean",
        default: false,
        describe: "for a collaborator whose own key is already allowed: write no secret",
      })
      .option("out", { type: "string", describe: "where to write the invite (default: KEYS/invites/NAME.invite)" })
      .check((args) => {
        if (args["public-only"] && (args.role !== undefined || args.expires !== undefined))
          throw new OptionError("--public-only keeps the role and expiry the key was allowed with; drop --role and --expires, or --public-only.");
        return true;
      }),
  handler: async (args) => {
    const name = checkName(args.name);
    const host = checkHost(args.host);
    const port = checkBasePort(args.port);
    const store = new KeyStore(args.keys);
    await store.requireExisting();
    const serverKey = await store.serverPublicKey();
    const file = path.resolve(args.out ?? store.inviteFile(name));

    let client: Invite["client"];
    let role: Role;
    if (args["public-only"]) {
      const { allowlist } = await store.readAllowlist();
      const entry = allowlist.entries().find((candidate) => candidate.name === name);
      if (!entry)
        throw new KeyStoreError(`No key named ${name} is allowed; allow theirs first: curvehost allow ${name} KEY`);
      client = { publicKey: entry.publicKey };
      role = entry.role;
    } else {
      const expires = args.expires === undefined ? null : parseExpiry(args.expires);
      const pair = await generateKeyPair();
      const entry = await store.allow(name, pair.publicKey, { role: args.role ?? DEFAULT_ROLE, expires });
      client = pair;
      role = entry.role;
    }

    await writeInvite(file, {
      name,
      role,
      server: { host, port, publicKey: serverKey, fingerprint: fingerprint(serverKey) },
      client,
    });
    say(
      `Wrote the invite for ${name} (${role}) to ${shortPath(file)}.`,
      `They connect with: curvehost connect ${path.basename(file)}`,
    );
    if (client.secretKey !== undefined)
      warn(`${shortPath(file)} holds ${name}'s secret key (mode 0600): hand it over privately, then delete your copy.`);
  },
};
