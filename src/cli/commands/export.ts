import path from "node:path";
import type { CommandModule } from "yargs";
import { exportState, importState } from "../../server/journal/index.js";
import { say, shortPath } from "../print.js";

interface Args {
  state: string;
  file: string;
}

const stateOption = { type: "string", default: "state", describe: "the journal directory" } as const;

export const exportCommand: CommandModule<object, Args> = {
  command: "export <file>",
  describe: "write the session (from --state) to one portable file: a backup, or a move",
  builder: (yargs) => yargs.positional("file", { type: "string", demandOption: true, normalize: true }).option("state", stateOption),
  handler: async (args) => {
    const { seq, records } = await exportState(path.resolve(args.state), path.resolve(args.file));
    say(`Exported the session up to seq ${seq} (${records} journal records after the snapshot) to ${shortPath(path.resolve(args.file))}.`);
  },
};

export const importCommand: CommandModule<object, Args> = {
  command: "import <file>",
  describe: "make an exported session the state of an empty --state directory",
  builder: (yargs) => yargs.positional("file", { type: "string", demandOption: true, normalize: true }).option("state", stateOption),
  handler: async (args) => {
    const { seq } = await importState(path.resolve(args.file), path.resolve(args.state));
    say(`Imported the session up to seq ${seq} into ${shortPath(path.resolve(args.state))}; start it with: curvehost serve --state ${args.state}`);
  },
};
