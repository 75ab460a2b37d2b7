import { promises as fs } from "node:fs";
import readline from "node:readline";
import type { CommandModule } from "yargs";
import { Client, ServerError } from "../../client/index.js";
import { readInvite } from "../../keys/index.js";
import { clientKeys } from "../identity.js";
import { identityOption } from "../options.js";
import { UsageError } from "../errors.js";
import { say } from "../print.js";
import { printable } from "../printable.js";

interface Args {
  invite: string;
  identity: string | undefined;
}

const HELP = "commands: users | nodes | commit ID FILE [KIND] | lock ID.. | unlock ID.. | give NAME ID.. | delete ID.. | open | kick NAME | quit";

/** One line a user typed, carried out; returns false to stop. */
async function run(client: Client, line: string): Promise<boolean> {
  const [verb, ...rest] = line.trim().split(/\s+/);
  switch (verb) {
    case undefined:
    case "":
      return true;
    case "quit":
    case "exit":
      return false;
    case "users":
      for (const user of await client.users()) say(`  ${printable(user.name)} (${user.role}) ${user.latency === null ? "" : `${user.latency} ms`}`);
      return true;
    case "nodes":
      for (const node of client.replica.nodes.values())
        say(`  ${printable(node.id)} ${printable(node.kind)} owner=${printable(node.owner)} parts=${node.parts.length} bytes=${node.parts.reduce((n, part) => n + part.length, 0)}`);
      return true;
    case "commit": {
      const [id, file, kind] = rest;
      if (!id || !file) throw new UsageError("commit takes an id and a file");
      const seq = await client.commit(id, await fs.readFile(file), { kind: kind ?? "file" });
      say(`committed ${id} at seq ${seq}`);
      return true;
    }
    case "lock":
    case "unlock":
    case "delete":
      await client[verb](rest);
      return true;
    case "give": {
      const [to, ...ids] = rest;
      if (!to || ids.length === 0) throw new UsageError("give takes a user and one or more ids");
      await client.give(ids, to);
      return true;
    }
    case "open":
      await client.open();
      return true;
    case "kick":
      await client.kick(rest[0] ?? "");
      return true;
    default:
      say(HELP);
      return true;
  }
}

export const connectCommand: CommandModule<object, Args> = {
  command: "connect <invite>",
  describe: "a terminal client: join, show users and events, commit files as nodes",
  builder: (yargs) =>
    yargs
      .positional("invite", { type: "string", demandOption: true, normalize: true })
      .option("identity", identityOption),
  handler: async (args) => {
    const invite = await readInvite(args.invite);
    const client = Client.fromInvite(invite, await clientKeys(invite, args.identity));
    client.connect();
    const welcome = await client.join();
    await client.sync();
    say(`joined "${invite.server.host}" as ${printable(welcome.user)} (${welcome.role}); session ${welcome.state}, ${client.replica.nodes.size} nodes, seq ${client.replica.seq}`);
    say(HELP);
    client.on("event", (event) => {
      const ids = (list: string[]) => list.map(printable).join(",");
      const detail =
        event.type === "commit" ? `${event.nodes.map((node) => `${printable(node.id)} (${node.mode}, ${node.data.length} bytes)`).join(", ")} by ${printable(event.from)}`
        : event.type === "rights" ? `${ids(event.ids)} now ${printable(event.owner)}`
        : event.type === "delete" ? `${ids(event.ids)} by ${printable(event.from)}`
        : event.type === "session" ? event.state
        : event.users.map((user) => printable(user.name)).join(", ");
      say(`seq ${event.seq} ${event.type} ${detail}`);
    });
    client.on("kicked", (by) => say(`kicked by ${printable(by)}`));
    const lines = readline.createInterface({ input: process.stdin, terminal: false });
    // Lines run one after another, so a script's commands keep their order and all finish before leaving.
    let queue: Promise<boolean> = Promise.resolve(true);
    const stop = new Promise<string>((resolve) => {
      client.on("lost", resolve);
      client.on("kicked", () => resolve("kicked"));
      process.once("SIGINT", () => resolve("interrupted"));
      lines.on("line", (line) => {
        queue = queue.then(async (going) => {
          if (!going) return false;
          const go = await run(client, line).catch((error: Error) => {
            say(error instanceof ServerError ? `refused: ${error.message} (${error.code})` : `error: ${error.message}`);
            return true;
          });
          if (!go) resolve("quit");
          return go;
        });
      });
      lines.on("close", () => void queue.then(() => resolve("end of input")));
    });
    const reason = await stop;
    say(`leaving: ${reason}`);
    await client.leave().catch(() => {});
    client.close();
    lines.close();
  },
};
