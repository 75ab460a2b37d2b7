import type { CommandModule } from "yargs";
import { KeyStore, checkBasePort, checkHost, checkName, fingerprint, generateKeyPair, writeInvite } from "../../keys/index.js";
import { keysOption, portOption } from "../options.js";
import { say, shortPath } from "../print.js";

interface Args {
  keys: string;
  admin: string;
  host: string;
  port: number;
}

/** Creates a key store with the server keypair and the host's own admin key and invite. */
export async function initStore(args: Args): Promise<void> {
  const store = new KeyStore(args.keys);
  checkName(args.admin);
  checkHost(args.host);
  checkBasePort(args.port);
  const server = await store.create();
  const admin = await generateKeyPair();
  await store.allow(args.admin, admin.publicKey, { role: "admin", expires: null });
  const inviteFile = store.inviteFile(args.admin);
  await writeInvite(inviteFile, {
    name: args.admin,
    role: "admin",
    server: { host: args.host, port: args.port, publicKey: server.publicKey, fingerprint: fingerprint(server.publicKey) },
    client: admin,
  });
  say(
    `Created the key store ${shortPath(store.dir)}`,
    `  server key   ${fingerprint(server.publicKey)}`,
    `  admin key    ${args.admin}  ${fingerprint(admin.publicKey)}`,
    `  your invite  ${shortPath(inviteFile)} (it holds your secret key: keep it private)`,
  );
}

export const initCommand: CommandModule<object, Args> = {
  command: "init",
  describe: "create the key store: the server keypair and your own admin key",
  builder: (yargs) =>
    yargs
      .option("keys", keysOption)
      .option("admin", { type: "string", default: "host", describe: "the name of your own admin key" })
      .option("host", { type: "string", default: "127.0.0.1", describe: "the address written in your own invite" })
      .option("port", portOption),
  handler: async (args) => {
    await initStore(args);
    say(`Next: curvehost serve --keys ${shortPath(new KeyStore(args.keys).dir)}`);
  },
};
