import type { CommandModule } from "yargs";
import { KeyStore, type KeyEntry } from "../../keys/index.js";
import { keysOption } from "../options.js";
import { say, table, warn } from "../print.js";

interface Args {
  keys: string;
  json: boolean;
}

function keyState(entry: KeyEntry, now: number): string {
  if (entry.revoked) return "revoked";
  if (entry.expires && Date.parse(entry.expires) <= now) return "expired";
  return "allowed";
}

export const keysCommand: CommandModule<object, Args> = {
  command: "keys",
  describe: "list the allowlist: name, role, fingerprint, added, expires, last seen",
  builder: (yargs) => yargs.option("keys", keysOption).option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    const store = new KeyStore(args.keys);
    await store.requireExisting();
    const { allowlist, problems, faults } = await store.readAllowlist();
    const seen = await store.lastSeen();
    const now = Date.now();
    const rows = [...allowlist.entries(), ...allowlist.revokedEntries()].map((entry) => ({
      name: entry.name,
      role: entry.role,
      state: keyState(entry, now),
      fingerprint: entry.fingerprint,
      publicKey: entry.publicKey,
      added: entry.created,
      expires: entry.expires,
      revoked: entry.revoked,
      lastSeen: seen[entry.fingerprint] ?? null,
    }));
    for (const problem of problems) warn(problem);
    for (const fault of faults) warn(`${fault}; until this is fixed the list may be incomplete, and a running server admits no new key.`);
    if (args.json) {
      say(JSON.stringify(rows, null, 2));
      return;
    }
    const day = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");
    say(
      table(
        ["NAME", "ROLE", "STATE", "FINGERPRINT", "ADDED", "EXPIRES", "LAST SEEN"],
        rows.map((row) => [row.name, row.role, row.state, row.fingerprint, day(row.added), day(row.expires), day(row.lastSeen)]),
      ),
    );
  },
};
